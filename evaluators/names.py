"""Names in a claim, and the words of a context to look them up in.

A name is a capitalised word. A capital that only opens a sentence says nothing ("However,
...", "Shares fell"), so an opening word counts only when another capitalised word follows
it ("Hot Rod ...") or nothing does (a one-word answer, "Lisbon").
"""

from __future__ import annotations

import re

from evaluators.text import STOPWORDS

_TOKEN = re.compile(r"[^\W_]+(?:[-'\u2019][^\W_]+)*|[.!?:,;]")
_POSSESSIVE = re.compile(r"['\u2019]s$")
_POSSESSIVE_WORD = re.compile(r"['\u2019]s\b")
_APOSTROPHE = re.compile(r"['\u2019]")
_SENTENCE_OPENERS = frozenset(".!?:")
_WORD = re.compile(r"[^\W_]+")
_COMPOUND = re.compile(r"[^\W_]+(?:[-'\u2019][^\W_]+)+")
_DOTTED = re.compile(r"(?:[a-z]\.){2,}")


def names(text: str) -> list[str]:
    """Likely names in ``text``, lower-cased, in order: capitalised words of two letters or
    more, no digits, no stopword, without a possessive; in a hyphenated word only its
    capitalised parts ("AI-assisted" -> "ai")."""
    tokens = _TOKEN.findall(text)
    out = []
    opening = True
    for i, token in enumerate(tokens):
        if token in ".!?:,;":
            opening = opening or token in _SENTENCE_OPENERS
            continue
        was_opening, opening = opening, False
        if not token[0].isupper() or token.lower() in STOPWORDS:
            continue
        if was_opening and i + 1 < len(tokens) and not _continues_a_name(tokens[i + 1]):
            continue
        for part in _POSSESSIVE.sub("", token).split("-"):
            if len(part) >= 2 and part[0].isupper() and not any(c.isdigit() for c in part):
                out.append(part.lower())
    return out


def _continues_a_name(token: str) -> bool:
    return token[0].isupper() and token.isalpha() and token.lower() not in STOPWORDS


def context_words(text: str) -> frozenset[str]:
    """The lower-case words of a context: single words, hyphen and apostrophe compounds
    with and without a possessive, and dotted abbreviations without dots ("U.K." -> "uk")."""
    low = text.lower()
    compounds = set(_COMPOUND.findall(low))
    return frozenset(
        {*_WORD.findall(low), *compounds, *(_POSSESSIVE_WORD.sub("", c) for c in compounds)}
        | {m.replace(".", "") for m in _DOTTED.findall(low)}
    )


def holds_name(words: frozenset[str], name: str) -> bool:
    """Whether the context words hold ``name``, its plural or its singular, or every part
    of a name with an apostrophe ("o'brien")."""
    if name in words or name + "s" in words or (name.endswith("s") and name[:-1] in words):
        return True
    parts = _APOSTROPHE.split(name)
    return len(parts) > 1 and all(p in words for p in parts)
