"""Making untrusted text safe to store: no NUL, bounded length, optional PII masking."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

TextFilter = Callable[[str], str]  # what every ingestion path applies to stored text

TRUNCATION_MARK = "…[truncated {n} chars]"

EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
PHONE = re.compile(
    r"(?<![\w+])\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?)(?:[\s.-]?\d{2,4}){2,4}\b"  # +44 20 7946 0958
    r"|\(\d{3}\)\s?\d{3}[\s.-]\d{4}\b"  # (415) 555-0199
    r"|\b\d{3}[.-]\d{3}[.-]\d{4}\b"  # 415-555-0199
)
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")


def clean(text: str, max_chars: int) -> str:
    """Drop NUL (PostgreSQL text cannot hold it) and truncate with a visible marker."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if len(text) > max_chars:
        cut = len(text) - max_chars
        return text[:max_chars] + TRUNCATION_MARK.format(n=cut)
    return text


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[CARD]" if 13 <= len(digits) <= 19 and luhn_ok(digits) else match.group(0)


def redact(text: str) -> str:
    """Mask email addresses, card numbers (Luhn-checked) and phone numbers."""
    text = EMAIL.sub("[EMAIL]", text)
    text = CARD.sub(_mask_card, text)
    return PHONE.sub("[PHONE]", text)


def text_filter(max_chars: int, redact_pii: bool) -> TextFilter:
    """The filter every ingestion path applies to stored text, from the settings."""
    if redact_pii:
        return lambda text: clean(redact(text), max_chars)
    return partial(clean, max_chars=max_chars)  # called for every stored string: no wrapper
