"""What the review page shows of an answer: the sentences groundedness found unsupported,
highlighted in Markdown with the answer's own text escaped, and the context each matched.

Pure functions over a score's ``metadata["sentences"]`` (the groundedness evaluators store
one row per answer sentence: its ``sentence``, ``score`` and the ``evidence`` window of the
context that supports it best; the local one also the ``unsupported`` terms)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

UNSUPPORTED_BELOW = 0.5  # a sentence scoring below this is shown as unsupported
HIGHLIGHT = "red-background"  # Streamlit's Markdown directive :red-background[...]
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:&=^\"'])")


@dataclass(frozen=True)
class Unsupported:
    sentence: str
    score: float
    evidence: str  # the context window the sentence matched best ("" when nothing did)
    missing: list[str]  # the sentence's terms found nowhere in the context


def escape(text: str) -> str:
    """``text`` as literal Markdown: every punctuation mark that Markdown, HTML or
    Streamlit's directives (``:red[...]``, ``:emoji:``, ``$math$``) read is escaped."""
    return _MARKDOWN.sub(r"\\\1", text)


def unsupported_sentences(metadata: dict[str, Any] | None) -> list[Unsupported]:
    """The sentences of a score's details that score below :data:`UNSUPPORTED_BELOW`."""
    out = []
    for row in (metadata or {}).get("sentences") or []:
        score = row.get("score") if isinstance(row, dict) else None
        if isinstance(score, int | float) and score < UNSUPPORTED_BELOW and row.get("sentence"):
            out.append(
                Unsupported(
                    sentence=str(row["sentence"]),
                    score=float(score),
                    evidence=str(row.get("evidence") or ""),
                    missing=[str(t) for t in row.get("unsupported") or []],
                )
            )
    return out


def highlighted_answer(answer: str, flagged: Sequence[Unsupported]) -> str:
    """The answer as Markdown, each flagged sentence highlighted and numbered ``[n]`` (in the
    order of ``flagged``); a sentence not found verbatim in the answer is left unmarked."""
    spans: list[tuple[int, int, int]] = []  # start, end, number
    cursor = 0
    for number, item in enumerate(flagged, start=1):
        start = answer.find(item.sentence, cursor)
        if start < 0:
            start = answer.find(item.sentence)
        if start < 0 or any(s < start + len(item.sentence) and start < e for s, e, _ in spans):
            continue
        spans.append((start, start + len(item.sentence), number))
        cursor = start + len(item.sentence)
    parts, at = [], 0
    for start, end, number in sorted(spans):
        parts.append(_paragraphs(answer[at:start]))
        marked = " ".join(
            f":{HIGHLIGHT}[{escape(line)}]" for line in answer[start:end].split("\n") if line
        )
        parts.append(f"{marked} **\\[{number}\\]**")
        at = end
    parts.append(_paragraphs(answer[at:]))
    return "".join(parts)


def _paragraphs(text: str) -> str:
    """Escaped text whose line breaks stay line breaks."""
    return "  \n".join(escape(line) for line in text.split("\n"))
