"""Send one request with retries and exponential backoff, reporting every attempt.

Retried: a transport error (refused, timeout), 429 and 5xx, waiting ``backoff_s`` then
twice as long each time (or the ``Retry-After`` the server asks for, up to 60 s). Not
retried: any other 4xx, which says the request itself is wrong (a bad routing key, a
revoked webhook), so sending it again cannot help.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

MAX_RETRY_AFTER_S = 60.0


@dataclass(frozen=True)
class Attempt:
    number: int
    status_code: int | None
    error: str | None
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        return self.status_code is None or self.status_code == 429 or self.status_code >= 500


def send(
    client: httpx.Client,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    max_attempts: int,
    backoff_s: float,
    on_attempt: Callable[[Attempt], None] = lambda a: None,
    sleep: Callable[[float], None] = time.sleep,
) -> Attempt:
    """POST ``body`` as JSON until it succeeds, fails for good, or runs out of attempts;
    returns the last attempt."""
    wait = backoff_s
    for number in range(1, max_attempts + 1):
        started = time.perf_counter()
        retry_after: float | None = None
        try:
            response = client.post(url, json=body, headers=headers)
            error = None if response.is_success else _error(response)
            attempt = Attempt(number, response.status_code, error, _ms(started))
            retry_after = _retry_after(response)
        except httpx.HTTPError as err:
            attempt = Attempt(number, None, f"{type(err).__name__}: {err}", _ms(started))
        on_attempt(attempt)
        if attempt.ok or not attempt.retryable or number == max_attempts:
            return attempt
        sleep(min(retry_after, MAX_RETRY_AFTER_S) if retry_after is not None else wait)
        wait *= 2
    raise AssertionError("max_attempts must be at least 1")


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _error(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return f"HTTP {response.status_code}: {text[:300]}" if text else f"HTTP {response.status_code}"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
