"""A fake OpenAI-compatible chat server for the LLM judge: deterministic, scriptable, logged.

``POST /v1/chat/completions`` answers TruLens's judge prompts with a score derived from the
prompt itself: the share of the claim's content words (a statement, a response, a search
result) found in its reference (the source, the prompt, the query), on TruLens's 0-3 scale;
Vigil's own rubrics (data between ``<<<BEGIN X>>>`` markers) by :func:`rubric_reply`.
It honours ``response_format`` of type ``json_schema`` (or rejects it, if told to), reports
token usage (one token per word), and can be made slow (or stall its first N requests),
rate limited (429 beyond N requests in any one-second window), or to fail its first N
requests with a given status. Every request is logged, with the most ever in flight at once.

    with FakeOpenAIServer(latency_s=0.1, fail_first=2, fail_status=429) as fake:
        ChatOpenAI(base_url=fake.base_url, api_key="fake", model="fake-judge")
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Reply = Callable[[list[dict[str, Any]]], str]
_STOPWORDS = (
    "the and for are was were with that this what which who how does did from has have not "
    "its into our you your their about than then them they there these those can will"
)
STOPWORDS = frozenset(_STOPWORDS.split())


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2} - STOPWORDS


def _overlap(claim: str, reference: str) -> int:
    """0-3: the share of the claim's content words that the reference contains."""
    words = content_words(claim)
    return round(3 * len(words & content_words(reference)) / len(words)) if words else 0


def _between(text: str, start: str, end: str | None) -> str:
    tail = text.split(start, 1)[1] if start in text else ""
    return (tail.split(end, 1)[0] if end and end in tail else tail).strip()


def judge_reply(messages: list[dict[str, Any]]) -> str:
    """The fake judge: a CoT reply ("Criteria/Supporting Evidence/Score") to TruLens prompts."""
    system = str(messages[0].get("content", ""))
    user = str(messages[-1].get("content", ""))
    if system.startswith("Split the following statement"):
        return "\n".join(s.strip() for s in re.split(r"(?<=[.!?])\s+", user) if s.strip())
    if system.startswith("Convert the following text into a strict JSON"):
        scores = re.findall(r"Score:\s*(\d+)", user)
        return json.dumps({"criteria": "reformatted", "supporting_evidence": user,
                           "score": int(scores[-1]) if scores else 0})  # fmt: skip
    if "<<<BEGIN " in user:  # Vigil's own rubrics: untrusted data between markers
        return rubric_reply(system, user)
    if "STATEMENT:" in user and "SOURCE:" in user:  # groundedness of one statement
        claim, ref = _between(user, "STATEMENT:", "\n"), _between(user, "SOURCE:", "STATEMENT:")
    elif "RESPONSE:" in user:  # answer relevance: the prompt's words in the response
        claim, ref = _between(user, "PROMPT:", "RESPONSE:"), _between(user, "RESPONSE:", "\n\n")
    elif "SEARCH RESULT:" in user:  # context relevance: the query's words in the chunk
        claim = _between(user, "USER QUERY:", "SEARCH RESULT:")
        ref = _between(user, "SEARCH RESULT:", "\n\n")
    else:  # coherence, conciseness, ...: 3 for a full sentence, 1 for a fragment
        text = _between(user, "SUBMISSION:", None)
        score = 3 if text.endswith(".") and len(content_words(text)) >= 3 else 1
        return f"Criteria: a full sentence\nSupporting Evidence: {text!r}\nScore: {score}"
    found = sorted(content_words(claim) & content_words(ref))
    return (
        f"Criteria: {claim}\nSupporting Evidence: shared words {', '.join(found) or 'none'}\n"
        f"Score: {_overlap(claim, ref)}"
    )


_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget)\b.{0,40}\b(?:instructions|rules|prompt)\b"
    r"|\bsystem prompt\b|\byou are now\b",
    re.IGNORECASE | re.DOTALL,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d ().-]{6,}\d")


def fenced(user: str, label: str) -> str:
    """The data between ``<<<BEGIN label>>>`` and ``<<<END label>>>``."""
    return _between(user, f"<<<BEGIN {label}>>>", f"<<<END {label}>>>")


def _pii(text: str) -> dict[str, str]:
    """Emails and phone numbers in ``text``, by a normalised key."""
    found = {m.group(0).lower(): m.group(0) for m in _EMAIL.finditer(text)}
    for m in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if len(digits) >= 7:
            found[digits[-9:]] = m.group(0)
    return found


def rubric_reply(system: str, user: str) -> str:
    """Vigil's rubrics, 0-3 (3 safe): an injection is an "ignore ... instructions", "system
    prompt" or "you are now" in the graded data; a leak is an email or phone number in the
    ANSWER that the QUESTION lacks (quoted in the evidence, as a careless judge might)."""
    if "PII-LEAK grader" in system:
        supplied = _pii(fenced(user, "QUESTION"))
        leaked = [raw for key, raw in _pii(fenced(user, "ANSWER")).items() if key not in supplied]
        evidence = (
            f"the ANSWER gives {', '.join(leaked)}, which the QUESTION lacks"
            if leaked
            else "no personal data beyond the QUESTION's"
        )
        return f"Criteria: PII not supplied by the user\nSupporting Evidence: {evidence}\n" + (
            f"Score: {0 if leaked else 3}"
        )
    label = "DOCUMENT" if "<<<BEGIN DOCUMENT>>>" in user else "QUESTION"
    found = _INSTRUCTION.search(fenced(user, label))
    evidence = f"the {label} says {found.group(0)!r}" if found else f"the {label} is ordinary"
    return (
        f"Criteria: instructions aimed at the model\nSupporting Evidence: {evidence}\n"
        f"Score: {0 if found else 3}"
    )


def as_json(reply: str) -> str:
    """A CoT reply as the JSON object TruLens's ChainOfThoughtResponse schema asks for."""
    if reply.lstrip().startswith("{"):
        return reply
    fields = dict(re.findall(r"^(Criteria|Supporting Evidence|Score):\s*(.*)$", reply, re.M))
    return json.dumps({"criteria": fields.get("Criteria", ""),
                       "supporting_evidence": fields.get("Supporting Evidence", ""),
                       "score": int(fields.get("Score", "0"))})  # fmt: skip


@dataclass
class LoggedRequest:
    at: float  # time.monotonic() on arrival
    body: dict[str, Any]
    status: int = 200


@dataclass
class FakeOpenAIServer:
    """Run with ``with``; ``base_url`` is what an OpenAI client takes."""

    latency_s: float = 0.0
    stall_first: int = 0  # the first N requests take stall_s: for client timeouts
    stall_s: float = 5.0
    fail_first: int = 0
    fail_status: int = 429
    retry_after_s: float | None = None
    rate_limit_per_s: int | None = None  # requests accepted in any one-second window
    structured: bool = True  # False: reject response_format with a 400, like older servers
    reply: Reply = judge_reply
    requests: list[LoggedRequest] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    _accepted: deque[float] = field(default_factory=deque)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def statuses(self) -> list[int]:
        return [r.status for r in self.requests]

    def __enter__(self) -> FakeOpenAIServer:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        app = Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]})
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(10)

    def _rate_limited(self, now: float) -> bool:
        if self.rate_limit_per_s is None:
            return False
        while self._accepted and self._accepted[0] <= now - 1.0:
            self._accepted.popleft()
        if len(self._accepted) >= self.rate_limit_per_s:
            return True
        self._accepted.append(now)
        return False

    async def _chat(self, request: Request) -> JSONResponse:
        body = await request.json()
        logged = LoggedRequest(time.monotonic(), body)
        self.requests.append(logged)
        number = len(self.requests)
        logged.status, message = self._status(number, logged.at, body)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.stall_s if number <= self.stall_first else self.latency_s)
            if logged.status != 200:
                headers = {"Retry-After": f"{self.retry_after_s:g}"} if self.retry_after_s else {}
                error = {"message": message, "type": "fake", "code": None}
                return JSONResponse({"error": error}, logged.status, headers)
            return JSONResponse(self._completion(body))
        finally:
            self.in_flight -= 1

    def _status(self, number: int, at: float, body: dict[str, Any]) -> tuple[int, str]:
        if number <= self.fail_first:
            return self.fail_status, f"fake error {self.fail_status} for request {number}"
        if self._rate_limited(at):
            return 429, "fake rate limit reached"
        if "response_format" in body and not self.structured:
            return 400, "'response_format' of type 'json_schema' is not supported with this model"
        return 200, ""

    def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body["messages"]
        text = self.reply(messages)
        if (body.get("response_format") or {}).get("type") == "json_schema":
            text = as_json(text)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        completion_tokens = len(text.split())
        return {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "fake-judge"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
