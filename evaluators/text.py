"""Small text utilities shared by evaluators: sentences and content terms.

Regex-based on purpose: TruLens's sentence tokenizer would download NLTK data at run time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

# After ., ! or ?: a space, or none when a lower-case word runs into a capital ("end.Next");
# and at a blank line.
_SENTENCE_END = re.compile(
    r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|(?<=[a-z0-9][a-z0-9][.!?])(?=[A-Z][a-z])"
    r"|\s*\n\s*\n\s*"
)
_ABBREVIATIONS = (
    "e.g.",
    "i.e.",
    "etc.",
    "vs.",
    "Mr.",
    "Mrs.",
    "Dr.",
    "St.",
    "No.",
    "Jr.",
    "Sr.",
    "Inc.",
    "Ltd.",
    "Co.",
    "U.S.",
    "U.K.",
)
# A number (with its separators and an ordinal suffix) or a run of letters in any script.
_TERM = re.compile(r"\d+(?:[.,]\d+)*(?:st|nd|rd|th)?|[^\W\d_]+")
_ORDINAL = re.compile(r"(?<=\d)(?:st|nd|rd|th)$")
_SUFFIXES = ("ing", "ed", "es", "s", "ly")

# Function words: they carry no claim that a context could support or contradict.
STOPWORDS = frozenset(
    """a an the and or but if then else of to in on at by for with from into onto over under
    about as is are was were be been being am do does did doing have has had having it its
    this that these those there here which who whom whose what when where why how i you he she
    we they me him her us them my your his our their not no nor so than too very can could will
    would shall should may might must also just only both either neither each every any all
    some such one ones same other another more most less least much many few own up down out
    off again further once during before after above below between through while until because
    against per via upon within without yes s t""".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class Term:
    """A content word of a text: ``key`` is what must match (a stem; names are not stemmed),
    ``strict`` terms (numbers and capitalised words, i.e. likely names) must appear
    literally and weigh double."""

    text: str
    key: str
    strict: bool
    start: int
    end: int


def _protected(text: str) -> str:
    """``text`` with abbreviation dots hidden; the same length, so offsets carry over."""
    for abbr in _ABBREVIATIONS:
        text = text.replace(abbr, abbr.replace(".", "\x00"))
    return text


def joined(chunks: str | Sequence[str]) -> str:
    """Context chunks as one text, a blank line (a sentence end) between two chunks."""
    return chunks if isinstance(chunks, str) else "\n\n".join(chunks)


def sentences(text: str, min_chars: int = 3) -> list[str]:
    """Split text into sentences; keeps abbreviations such as "e.g." inside their sentence."""
    parts = _SENTENCE_END.split(_protected(text).strip())
    out = [p.replace("\x00", ".").strip() for p in parts]
    return [p for p in out if len(p) >= min_chars]


def sentence_ends(text: str) -> list[int]:
    """Offsets in ``text`` where a sentence ends (as :func:`sentences` splits it)."""
    return [m.start() for m in _SENTENCE_END.finditer(_protected(text))]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text``, cut at :func:`sentence_ends`: sentence
    ``i`` follows the ``i``-th end (each span starts with the separator before it)."""
    cuts = [0, *sentence_ends(text), len(text)]
    return list(pairwise(cuts))


def stem(word: str) -> str:
    """A crude English stem: lower case, no plural or common suffix, numbers without
    thousands separators or ordinal suffix ("1,953rd" -> "1953")."""
    word = word.lower()
    if word[:1].isdigit():
        return _ORDINAL.sub("", word).replace(",", "")
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=100_000)
def loose_key(word: str) -> str:
    """A looser key than :func:`stem`, for lexicon look-ups: lower case, the first common
    suffix cut from any word longer than the suffix plus one, then a trailing "e"
    ("increases", "increased", "increase" -> "increas"; "going" -> "go")."""
    word = word.lower().replace("\u2019", "'")
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 1 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    return word.rstrip("e") or word


def terms(text: str) -> list[Term]:
    """The content terms of a text, in order, with their character offsets."""
    out = []
    for m in _TERM.finditer(text):
        word = m.group(0)
        if word.lower() in STOPWORDS:
            continue
        strict = word[0].isdigit() or word[0].isupper()
        key = stem(word) if not strict or word[0].isdigit() else word.lower()  # names unstemmed
        out.append(Term(word, key, strict, m.start(), m.end()))
    return out
