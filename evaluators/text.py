"""Small text utilities shared by evaluators: sentences and checkable facts.

Regex-based on purpose: TruLens's sentence tokenizer would download NLTK data at run time.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?:%|\b)")
_CAPITALISED = re.compile(r"\b[A-Z][a-zA-Z0-9-]*[a-zA-Z0-9]\b")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "Mr.", "Mrs.", "Dr.", "St.", "No.")


def sentences(text: str, min_chars: int = 3) -> list[str]:
    """Split text into sentences; keeps abbreviations such as "e.g." inside their sentence."""
    protected = text
    for abbr in _ABBREVIATIONS:
        protected = protected.replace(abbr, abbr.replace(".", "\x00"))
    parts = _SENTENCE_END.split(protected.replace("\n\n", ". ").strip())
    out = [p.replace("\x00", ".").strip() for p in parts]
    return [p for p in out if len(p) >= min_chars]


def numbers(text: str) -> set[str]:
    """Numbers in a text, normalised (thousands separators dropped)."""
    return {m.group(0).rstrip("%").replace(",", "") for m in _NUMBER.finditer(text)}


def proper_terms(sentence: str) -> set[str]:
    """Capitalised words that are not the first word of the sentence: likely names."""
    words = list(_CAPITALISED.finditer(sentence))
    first = re.match(r"\W*(\w+)", sentence)
    start = first.start(1) if first else -1
    return {m.group(0) for m in words if m.start() != start}


def unsupported_facts(sentence: str, context: str) -> list[str]:
    """Numbers and names in ``sentence`` that appear nowhere in ``context``."""
    context_numbers = numbers(context)
    context_lower = context.lower()
    missing = sorted(n for n in numbers(sentence) if n not in context_numbers)
    missing += sorted(t for t in proper_terms(sentence) if t.lower() not in context_lower)
    return missing
