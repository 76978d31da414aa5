"""Answer normalisation shared by the reference metrics, as in SQuAD's evaluation script.

Lowercase, drop punctuation and the articles a/an/the, and collapse whitespace, so that
"The Eiffel Tower." and "eiffel tower" compare equal. Two departures from SQuAD: Unicode
punctuation (curly quotes) is dropped too, and dashes separate words rather than vanish,
so "three-year" matches "three year" and "pear—and" stays two words.
"""

from __future__ import annotations

import re
import string
import unicodedata

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def _replacement(ch: str) -> str:
    category = unicodedata.category(ch)
    if category == "Pd":  # dashes, the hyphen included
        return " "
    return "" if ch in string.punctuation or category.startswith("P") else ch


def normalize(text: str) -> str:
    """The comparable form of an answer: lowercase words without punctuation or articles."""
    text = "".join(_replacement(ch) for ch in text.lower())
    return " ".join(_ARTICLES.sub(" ", text).split())


def tokens(text: str) -> list[str]:
    """The words of :func:`normalize`'s result."""
    return normalize(text).split()
