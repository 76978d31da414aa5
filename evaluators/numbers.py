"""Numbers in text, with their value and the rounding they allow: a claim's "35%" is the
context's "34.6%", and its "$1.2 billion" the context's "$1,234 million".

A claim is read strictly and a context leniently, so that a paraphrase is not taken for a
changed number: on the claim side "one" is skipped (mostly a pronoun), an ordinal counts
only before a period word ("third quarter" -> 3), and a number glued to a word by a hyphen
("COVID-19") is part of a name; the context side also yields "one", every ordinal and the
19 of "COVID-19".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_UNIT_WORDS = """zero one two three four five six seven eight nine ten eleven twelve thirteen
    fourteen fifteen sixteen seventeen eighteen nineteen"""
_UNITS = _UNIT_WORDS.split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}  # fmt: skip
_WORDS = {w: i for i, w in enumerate(_UNITS)} | _TENS
_WORDS |= {"hundred": 100, "dozen": 12, "twice": 2, "triple": 3}
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
             "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}  # fmt: skip
_PERIODS = ("quarter", "half", "year", "week", "month", "day", "place", "time")
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "bn": 1e9,
           "mn": 1e6, "m": 1e6, "k": 1e3, "b": 1e9}  # fmt: skip
_VOCABULARY = sorted({*_WORDS, *_ORDINALS}, key=len, reverse=True)
# Candidates, in lower-cased text: a word glued to digits, digits, or a number word.
_CANDIDATE = re.compile(r"\b[a-z]+-\d+|\d+(?:[.,]\d+)*|\b(?:" + "|".join(_VOCABULARY) + r")\b")
_NEXT_WORD = re.compile(r"[^a-z0-9]{0,3}?([a-z]+)")


@dataclass(frozen=True)
class Number:
    text: str  # digits without thousands separators or a trailing ".0"; words as digits
    value: float  # with its scale word ("1.2 billion" -> 1.2e9)
    tolerance: float  # half a unit of its last digit, at its scale ("1.2 billion" -> 0.05e9)


def numbers(text: str, *, lenient: bool = False) -> list[Number]:
    """The numbers of ``text``, read strictly (a claim) or ``lenient``-ly (a context)."""
    text = text.lower()
    out: list[Number] = []
    skip_to = -1
    for m in _CANDIDATE.finditer(text):
        if m.start() < skip_to:
            continue
        word = m.group(0)
        after = _NEXT_WORD.match(text, m.end())
        following = after.group(1) if after else ""
        if "-" in word and word[0].isalpha():  # COVID-19: a name
            if lenient:
                digits = word.split("-")[-1]
                out.append(Number(digits, float(digits), 0.5))
        elif word[0].isdigit():
            near = after is not None and after.start(1) - m.end() <= 1
            found = _digits(word, _SCALES.get(following, 1.0) if near else 1.0)
            if found is not None:
                out.append(found)
        elif word in _TENS:
            value = _TENS[word]
            if after is not None and 0 < _WORDS.get(following, 0) < 10:
                value += _WORDS[following]  # twenty five, twenty-five
                skip_to = after.end(1)
            out.append(Number(str(value), float(value), 0.5))
        elif word in _ORDINALS:
            if lenient or following.rstrip("s") in _PERIODS:
                out.append(Number(str(_ORDINALS[word]), float(_ORDINALS[word]), 0.5))
        elif word in _WORDS and (word != "one" or lenient):
            out.append(Number(str(_WORDS[word]), float(_WORDS[word]), 0.5))
    return out


def _digits(word: str, scale: float) -> Number | None:
    raw = word.replace(",", "")
    try:
        value = float(raw)
    except ValueError:  # "1.2.3"
        return None
    decimals = len(raw.split(".")[1]) if "." in raw else 0
    text = (raw.rstrip("0").rstrip(".") or "0") if "." in raw else raw
    return Number(text, value * scale, 0.5 * 10**-decimals * scale)


@dataclass(frozen=True)
class NumberSet:
    """The numbers of a context, to look a claim's numbers up in."""

    texts: frozenset[str]
    values: np.ndarray

    @classmethod
    def of(cls, text: str) -> NumberSet:
        found = numbers(text, lenient=True)
        return cls(frozenset(n.text for n in found), np.array([n.value for n in found]))

    def holds(self, number: Number) -> bool:
        """The same text, or a value that ``number`` rounds (within its tolerance)."""
        if number.text in self.texts:
            return True
        slack = number.tolerance + 1e-9 * max(abs(number.value), 1.0)
        return bool(np.any(np.abs(self.values - number.value) <= slack))
