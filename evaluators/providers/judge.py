"""An LLM judge: TruLens's feedback functions over a LangChain chat model, within limits.

Every request TruLens makes goes through :meth:`LLMJudge._send`: at most ``concurrency`` in
flight (a semaphore shared by threads), an optional requests-per-second cap, retries with
exponential backoff and jitter on 429, 5xx, timeouts and dropped connections (Retry-After
honoured; never on another 4xx), and a per-run token and cost budget counted from the
replies' usage. TruLens's own pacing (60 requests a minute) and retries are bypassed.

Avoided TruLens 2.16 behaviours: its plain score parser takes a reply's smallest number
("a 1-year warranty ... Score: 3" reads 1), so only ``*_with_cot_reasons`` are called and a
text reply is read by its last "Score: N"; its Langchain provider asks the model a second
time to reformat each reply as JSON, so replies are requested as JSON schema where the
server supports it (one request a judgement); groundedness downloads nltk data or lets the
model split the answer, then ``eval()``s a reply, so the answer is split locally
(:func:`evaluators.text.sentences`) and the trivial-statement filter is off.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import openai
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, convert_to_messages
from langchain_core.runnables import Runnable
from pydantic import BaseModel, PrivateAttr, SecretStr
from trulens.core.feedback.feedback import GroundednessConfigs
from trulens.feedback import llm_provider
from trulens.feedback.output_schemas import ChainOfThoughtResponse
from trulens.feedback.templates.rag import Groundedness
from trulens.providers.langchain import Langchain
from trulens.providers.langchain.endpoint import LangchainEndpoint

from evaluators.providers.judge_budget import Budget, Ledger
from evaluators.text import sentences
from vigil.errors import VigilError
from vigil.settings import Settings

MAX_RETRY_AFTER_S = 60.0  # a server asking for a longer pause gets an error instead
MAX_BACKOFF_S = 30.0
NO_SPLIT = GroundednessConfigs(use_sent_tokenize=False, filter_trivial_statements=False)
_SCORE = re.compile(r"\bscore\b\W{0,3}(\d+(?:\.\d+)?)", re.IGNORECASE)


class JudgeReplyError(ValueError):
    """The judge replied without a score that can be read."""


class _DirectEndpoint(LangchainEndpoint):
    """Calls straight through: pacing and retries are the judge's, not TruLens's."""

    def run_in_pace(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)


class _JudgeProvider(Langchain):
    """TruLens's Langchain provider with every chat completion sent through the judge."""

    _judge: LLMJudge = PrivateAttr()

    def __init__(self, judge: LLMJudge) -> None:
        endpoint = _DirectEndpoint(chain=judge.chat)  # type: ignore[call-arg]
        llm_provider.LLMProvider.__init__(self, model_engine=judge.model, endpoint=endpoint)
        self._judge = judge

    def _create_chat_completion(
        self,
        prompt: str | None = None,
        messages: Sequence[dict[Any, Any] | BaseMessage] | None = None,
        response_format: type[BaseModel] | None = None,
        reasoning_effort: str | None = None,
        **kwargs: Any,
    ) -> str:
        chat = [
            m if isinstance(m, dict) else {"role": m.type, "content": m.text}
            for m in messages or [{"role": "user", "content": prompt}]
        ]
        return self._judge._complete(chat, response_format)


class LLMJudge:
    """The :class:`evaluators.base.Judge` of a run: TruLens feedback by name, within limits."""

    def __init__(
        self,
        chat: BaseChatModel,
        settings: Settings,
        *,
        ledger: Ledger | None = None,
        gate: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> None:
        """``ledger`` shares the budget with other judges; ``gate`` is entered around each
        request inside this judge's own limits (a slot of a limit shared by every worker)."""
        self.model, self.chat, self.settings = settings.judge_model or "", chat, settings
        self.concurrency = settings.judge_concurrency
        self.structured_output = settings.judge_structured_output
        self.backoff_s = 0.5  # the first retry waits 0.25-0.5 s, then twice as long each time
        self.usage = Budget(settings, ledger)
        self._gate = gate
        self.retried: list[str] = []  # why each retry happened, for logs and benchmarks
        self.provider = _JudgeProvider(self)
        self._slots = threading.BoundedSemaphore(self.concurrency)
        # 2% under the cap: at exactly the cap, a few ms of jitter put one request too many
        # in a server's one-second window every second
        cap = settings.judge_rate_limit_per_s
        self._interval, self._next_start = (1.02 / cap if cap else 0.0), 0.0
        self._pace_lock = threading.Lock()
        self._structured: dict[type[BaseModel], Runnable[Any, Any]] = {}

    def feedback(self, name: str, /, **arguments: Any) -> tuple[float, dict[str, Any]]:
        """TruLens's ``<name>_with_cot_reasons`` (``groundedness``: the statement-by-statement
        measure); the score in [0, 1] and TruLens's reasons. ``rubric`` is Vigil's own prompt:
        :meth:`rubric` with these arguments."""
        if name == "rubric":
            return self.rubric(**arguments)
        method = f"{'groundedness_measure' if name == 'groundedness' else name}_with_cot_reasons"
        function = getattr(self.provider, method, None)
        if name.startswith("_") or function is None:
            raise ValueError(f"TruLens has no LLM feedback {name!r} with reasons")
        if "groundedness" in method:
            arguments["groundedness_configs"] = NO_SPLIT
        value, reasons = function(**arguments)
        return _in_range(name, value, reasons)

    def rubric(
        self, system: str, user: str, *, min_score: int = 0, max_score: int = 3
    ) -> tuple[float, dict[str, Any]]:
        """A custom rubric (for what TruLens has no feedback for), asked like TruLens's
        ``*_with_cot_reasons``: the same request path (structured output, limits, retries,
        budget), a reply of criteria, supporting evidence and a score from ``min_score`` to
        ``max_score``, normalised to [0, 1]; the reasons as TruLens gives them."""
        value, reasons = self.provider.generate_score_and_reasons(
            system_prompt=system,
            user_prompt=user,
            min_score_val=min_score,
            max_score_val=max_score,
        )
        return _in_range("rubric", value, reasons)

    def as_chat_model(self) -> BaseChatModel:
        """A LangChain chat model whose every request goes through this judge (its budget,
        concurrency, rate limit and retries): for libraries that take a chat model, such as
        RAGAS (:mod:`evaluators.ragas_metrics`)."""
        from evaluators.providers.judged_chat import JudgedChat

        return JudgedChat(judge=self)

    def send(self, messages: list[dict[str, Any]]) -> AIMessage:
        """One chat request (OpenAI-style messages), within this judge's limits."""
        reply: AIMessage = self._send(self.chat, messages)
        return reply

    def _complete(self, messages: list[dict[str, Any]], schema: type[BaseModel] | None) -> str:
        if messages[0].get("content") == Groundedness.sentences_splitter_prompt:
            statement = str(messages[-1].get("content", ""))
            return "\n".join(sentences(statement) or [statement])
        if schema is not None and self.structured_output:
            try:
                out = self._send(self._structured_model(schema), messages)
            except Exception as err:
                if not re.search(r"response_format|json_schema", str(err)):
                    raise
                self.structured_output = False  # the server cannot do it: read text replies
                return self._complete(messages, schema)
            if out["parsed"] is not None:
                return str(out["parsed"].model_dump_json())
            text = out["raw"].text
        else:
            text = self._send(self.chat, messages).text
        return _cot_json(text) if schema is ChainOfThoughtResponse else text

    def _structured_model(self, schema: type[BaseModel]) -> Runnable[Any, Any]:
        if schema not in self._structured:
            self._structured[schema] = self.chat.with_structured_output(
                schema, method="json_schema", include_raw=True
            )
        return self._structured[schema]

    def _send(self, runnable: Runnable[Any, Any], messages: list[dict[str, Any]]) -> Any:
        """One request, within the budget, the concurrency and rate limits, with retries."""
        lc_messages = convert_to_messages(messages)
        attempt = 0
        while True:
            self.usage.check()
            try:
                with self._slots, self._gate():
                    self._pace()
                    result = runnable.invoke(lc_messages)
            except Exception as err:
                delay = self._retry_delay(err, attempt)
                if delay is None:
                    raise
                self.retried.append(f"{type(err).__name__}: {str(err)[:200]}")
                attempt += 1
                time.sleep(delay)
                continue
            message = result["raw"] if isinstance(result, dict) else result
            self.usage.add(*_tokens(message, messages))
            return result

    def _pace(self) -> float:
        """Start requests evenly spaced, under the rate limit, with no bursts. Returns the
        (monotonic) time this request's slot began."""
        with self._pace_lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self._interval
        time.sleep(start - now)
        return start

    def _retry_delay(self, err: Exception, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when the error is final."""
        if attempt >= self.settings.judge_max_retries or not _transient(err):
            return None
        after = _retry_after(err)
        if after is not None:
            return after if after <= MAX_RETRY_AFTER_S else None
        ceiling = min(MAX_BACKOFF_S, self.backoff_s * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)


def _in_range(name: str, value: float, reasons: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    if not 0.0 <= value <= 1.0:  # also NaN, and TruLens's "unparsable" sentinel -1
        raise JudgeReplyError(f"the judge's {name} reply gave no score in range: {value}")
    return float(value), dict(reasons)


def _transient(err: Exception) -> bool:
    response = getattr(err, "response", None)
    status = getattr(err, "status_code", None) or getattr(response, "status_code", None)
    if isinstance(status, int) and status > 0:
        return status == 429 or status >= 500
    network = TimeoutError | ConnectionError | httpx.TransportError | openai.APIConnectionError
    return isinstance(err, network)


def _retry_after(err: Exception) -> float | None:
    headers = getattr(getattr(err, "response", None), "headers", None) or {}
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if not value:
            return None
        if re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
            return float(value)
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _tokens(message: AIMessage, messages: list[dict[str, Any]]) -> tuple[int, int]:
    usage = message.usage_metadata
    if usage:
        return usage["input_tokens"], usage["output_tokens"]
    chars = sum(len(str(m.get("content", ""))) for m in messages)  # unreported: ~4 chars a token
    return math.ceil(chars / 4), math.ceil(len(message.text) / 4)


def _cot_json(text: str) -> str:
    """A text reply as ChainOfThoughtResponse JSON, scored by its last "Score: N"."""
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            found = json.loads(text[start : end + 1])
            if isinstance(found, dict) and {"criteria", "supporting_evidence", "score"} <= {*found}:
                return json.dumps(found)
        except json.JSONDecodeError:
            pass
    scores = _SCORE.findall(text) or re.findall(r"^\s*(\d+(?:\.\d+)?)\s*$", text)
    if not scores:
        raise JudgeReplyError(f"the judge's reply has no score: {text[:300]!r}")
    reply = {"criteria": "", "supporting_evidence": text.strip(), "score": float(scores[-1])}
    return json.dumps(reply)


def build_chat_model(settings: Settings) -> BaseChatModel:
    """The LangChain chat model the settings name (no request is sent)."""
    model, key = settings.judge_model or "", settings.judge_api_key
    if settings.judge_provider == "ollama":
        from langchain_ollama import ChatOllama

        headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}
        client = {"timeout": settings.judge_timeout_s, "headers": headers}
        return ChatOllama(
            model=model, base_url=settings.judge_base_url, temperature=0.0, client_kwargs=client
        )
    from langchain_openai import ChatOpenAI

    if settings.judge_provider == "openai_compatible" and not key:
        key = SecretStr("EMPTY")  # servers such as vLLM take any key unless they set one
    reasoning = model.lower().startswith(llm_provider.REASONING_MODEL_PREFIXES)
    return ChatOpenAI(
        model=model,
        base_url=settings.judge_base_url,
        api_key=key,
        max_retries=0,
        timeout=settings.judge_timeout_s,
        temperature=None if reasoning else 0.0,
    )


def build_judge(
    settings: Settings,
    *,
    ledger: Ledger | None = None,
    gate: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> LLMJudge | None:
    """The judge VIGIL_JUDGE_* configure, or None (offline). Build one per evaluation run:
    the token and cost budget is the judge's, or the ``ledger``'s when it is shared."""
    if settings.judge_provider == "none":
        return None
    name = f"VIGIL_JUDGE_PROVIDER={settings.judge_provider}"
    if not settings.judge_model:
        raise VigilError(f"{name} needs VIGIL_JUDGE_MODEL (the judge model's name).")
    if settings.judge_provider == "openai_compatible" and not settings.judge_base_url:
        raise VigilError(f"{name} needs VIGIL_JUDGE_BASE_URL, e.g. http://localhost:8000/v1.")
    prices = (settings.judge_input_usd_per_mtok, settings.judge_output_usd_per_mtok)
    if settings.judge_max_cost_usd_per_run is not None and None in prices:
        raise VigilError(
            "VIGIL_JUDGE_MAX_COST_USD_PER_RUN needs VIGIL_JUDGE_INPUT_USD_PER_MTOK "
            "and VIGIL_JUDGE_OUTPUT_USD_PER_MTOK (the judge model's prices)."
        )
    try:
        chat = build_chat_model(settings)
    except openai.OpenAIError as err:
        raise VigilError(f"{name}: {err} Set VIGIL_JUDGE_API_KEY.") from err
    return LLMJudge(chat, settings, ledger=ledger, gate=gate)
