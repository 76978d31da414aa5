"""The prompt-injection scanner: the patterns of :mod:`evaluators.safety_patterns`, plus the
hidden channels that code checks better than one regex: instructions split by zero-width
characters, Unicode tag characters ("ASCII smuggling") and base64 blobs that decode to
instructions.
"""

from __future__ import annotations

import base64
import binascii
import re

from evaluators.safety_patterns import INVISIBLE, Hit, excerpt, match_patterns

_INVISIBLE_RUN = re.compile("[" + "".join(sorted(INVISIBLE)) + "]{4,}")
_TAG_RUN = re.compile("[\U000e0000-\U000e007f]+")
_BASE64 = re.compile(r"(?<![\w+/=-])[A-Za-z0-9+/_-]{24,}={0,2}(?![\w+/=-])")
_PROSE = re.compile(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}")
_INSTRUCTION_WORDS = re.compile(
    r"\b(?:ignore|disregard|instructions?|system\s+prompt|you\s+(?:are|must|will|should)"
    r"|assistant|reveal)\b",
    re.IGNORECASE,
)


def find_injections(text: str, *, document: bool = False) -> list[Hit]:
    """All pattern and hidden-channel hits in ``text``, in order of position.

    ``document`` is True for retrieved chunks, which also get the ``documents_only`` patterns.
    """
    hits = match_patterns(text, document) + _zero_width(text, document) + _tags(text, document)
    hits += _base64(text, document)
    kept: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.confidence != "high", h.start)):
        if not any(k.tactic == hit.tactic and _overlap(k, hit) for k in kept):
            kept.append(hit)  # one hit per tactic and span: the most confident
    return sorted(kept, key=lambda h: h.start)


def _overlap(a: Hit, b: Hit) -> bool:
    return a.start < b.end and b.start < a.end


def _zero_width(text: str, document: bool) -> list[Hit]:
    """Instructions split by invisible characters, and long runs of them (binary encoding)."""
    if not INVISIBLE.intersection(text):
        return []
    kept = [i for i, ch in enumerate(text) if ch not in INVISIBLE]
    stripped = "".join(text[i] for i in kept)
    hits = []
    for hit in match_patterns(stripped, document):
        start, end = kept[hit.start], kept[hit.end - 1] + 1
        if INVISIBLE.intersection(text[start:end]):
            note = f"zero-width characters inside {hit.tactic}: {hit.excerpt}"
            hits.append(Hit("hidden", "zero_width_obfuscation", "high", start, end, note))
    for m in _INVISIBLE_RUN.finditer(text):
        note = f"{len(m.group(0))} consecutive invisible characters"
        hits.append(Hit("hidden", "zero_width_run", "medium", m.start(), m.end(), note))
    return hits


def _tags(text: str, document: bool) -> list[Hit]:
    """Unicode tag characters spell invisible ASCII; flag emoji use short lowercase runs."""
    hits = []
    for m in _TAG_RUN.finditer(text):
        decoded = "".join(chr(ord(c) - 0xE0000) for c in m.group(0) if ord(c) < 0xE007F)
        inner = match_patterns(decoded, document)
        if inner:
            note = f"tag characters spelling {inner[0].tactic}: {inner[0].excerpt}"
            hits.append(Hit("hidden", "unicode_tags", "high", m.start(), m.end(), note))
        elif len(decoded) >= 8 or not decoded.isalnum():
            note = f"tag characters spelling: {excerpt(decoded)}"
            hits.append(Hit("hidden", "unicode_tags", "medium", m.start(), m.end(), note))
    return hits


def _base64(text: str, document: bool) -> list[Hit]:
    """Base64 blobs that decode to readable text with instructions in it."""
    hits = []
    for m in _BASE64.finditer(text):
        decoded = _decode_base64(m.group(0))
        if decoded is None:
            continue
        inner = match_patterns(decoded, document)
        if inner:
            note = f"base64 of {inner[0].tactic}: {inner[0].excerpt}"
            hits.append(Hit("hidden", "base64_instructions", "high", m.start(), m.end(), note))
        elif _INSTRUCTION_WORDS.search(decoded):
            note = f"base64 of: {excerpt(decoded)}"
            hits.append(Hit("hidden", "base64_instructions", "medium", m.start(), m.end(), note))
    return hits


def _decode_base64(blob: str) -> str | None:
    padded = blob.rstrip("=") + "=" * (-len(blob.rstrip("=")) % 4)
    try:
        if "-" in padded or "_" in padded:
            raw = base64.urlsafe_b64decode(padded)
        else:
            raw = base64.b64decode(padded, validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    printable = sum(ch.isprintable() or ch in "\n\r\t" for ch in decoded)
    if printable < 0.95 * len(decoded) or not _PROSE.search(decoded):
        return None
    return decoded
