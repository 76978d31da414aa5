"""A user's TruLens feedback (``trulens.core.Feedback``, any provider and feedback method) as
a Vigil evaluator: :func:`feedback_evaluator`.

TruLens evaluates a feedback against a *record* of an instrumented app. Vigil has stored
traces instead, so each of the feedback's selectors is mapped onto the trace's fields, as
TruLens itself maps them onto a record:

- ``Select.RecordInput`` and ``on_input()`` / ``on_prompt()``: the question;
- ``Select.RecordOutput`` and ``on_output()``: the answer;
- a retriever's return value (``Select.RecordCalls.<any path>.rets``, with ``[:]`` for one
  call per chunk, and ``on_context(collect_list=...)``): the retrieved chunks' texts;
- ``Select.Record.meta.<key>``: the trace's attributes.

Then TruLens's own ``run`` selects, calls the feedback function (with its criteria, score
range and arguments) and aggregates with the feedback's ``agg``. No TruSession, database or
app is involved. A selector that cannot be mapped is refused with its name; a failed call,
an unparsable judge reply or a value outside [0, 1] is an error, never a 0.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from evaluators.base import Evaluator, Need
from vigil.errors import VigilError
from vigil.models import Score, Trace

_NS = "__vigil__"  # where selectors that are not Lenses read their pre-resolved values
_NAME = re.compile(r"[^a-z0-9_:.-]+")


class FeedbackError(RuntimeError):
    """The feedback produced no usable score for a trace."""


def feedback_evaluator(feedback: Any) -> type[Evaluator]:
    """An Evaluator class running ``feedback`` (a ``trulens.core.Feedback`` or ``Metric``).
    Its name is the feedback's; its version a digest of the definition (the function, the
    provider and its model, the selectors, the aggregation, the criteria and arguments), so
    a changed definition scores anew instead of mixing with the old scores."""
    from trulens.core.metric.metric import Metric

    if not isinstance(feedback, Metric):
        raise VigilError(
            f"{feedback!r} is not a trulens Feedback: define it with trulens.core.Feedback(...)"
        )
    if feedback.imp is None:
        raise VigilError(f"feedback {feedback.name!r} has no function to call (imp is None)")
    unbound = _unbound_arguments(feedback)
    if unbound:
        raise VigilError(
            f"feedback {feedback.name!r}: no selector for {', '.join(unbound)}; select each "
            "argument by name, e.g. .on({'context': Select.RecordCalls.retrieve.rets[:]})"
        )
    attributes = {
        "name": _NAME.sub("_", feedback.name.lower()).strip("_") or "feedback",
        "version": definition_digest(feedback),
        "needs": frozenset(_needs(feedback)),
        "deterministic": not _judged_by_llm(feedback),
        "feedback": feedback,
        "__doc__": f"TruLens feedback {feedback.name!r}",
    }
    return type(f"TruLensFeedback_{attributes['name']}", (TruLensFeedback,), attributes)


class TruLensFeedback(Evaluator):
    """Runs its class's ``feedback`` on each trace (see the module's doc)."""

    feedback: ClassVar[Any]

    def score(self, traces: Sequence[Trace]) -> list[Score]:
        out = []
        for trace in traces:
            try:
                value, details = run_feedback(self.feedback, trace)
            except FeedbackError as err:
                out.append(Score.error(str(err)))
                continue
            reasons = [str(c["meta"]["reason"]) for c in details["calls"]
                       if isinstance(c.get("meta"), dict) and c["meta"].get("reason")]  # fmt: skip
            explanation = reasons[0][:500] if len(reasons) == 1 else f"{self.feedback.name}"
            out.append(Score.scored(value, explanation, **details))
        return out


def run_feedback(feedback: Any, trace: Trace) -> tuple[float, dict[str, Any]]:
    """The feedback's [0, 1] value on ``trace`` and what TruLens reported (its calls, their
    arguments and reasons, the cost). Raises FeedbackError when there is no usable value."""
    from trulens.core.schema.feedback import FeedbackResultStatus
    from trulens.core.utils.constants import UNPARSABLE_SCORE

    runnable, source = _bind(feedback, trace)
    try:
        result = runnable.run(source_data=source)
    except Exception as err:  # a selector TruLens could not follow: raised, not returned
        raise FeedbackError(f"{feedback.name}: {type(err).__name__}: {err}") from err
    calls = [{"args": _plain(c.args), "ret": c.ret, "meta": _plain(c.meta)} for c in result.calls]
    details: dict[str, Any] = {"trulens_feedback": feedback.name, "calls": calls,
                               "cost_usd": float(result.cost.cost or 0.0)}  # fmt: skip
    if result.status != FeedbackResultStatus.DONE:
        raise FeedbackError(f"{feedback.name} failed: {_root_cause(result.error)}")
    if result.multi_result not in (None, "null"):
        raise FeedbackError(f"{feedback.name} returned several values; return one number")
    if not calls:
        raise FeedbackError(f"{feedback.name} made no call: every input was skipped")
    values = [c["ret"] for c in calls if c["ret"] != UNPARSABLE_SCORE]
    if not values:
        raise FeedbackError(f"{feedback.name}: the judge's reply could not be read as a score")
    raw = result.result if len(values) == len(calls) else feedback.agg(values)
    try:
        value = float(raw)
    except (TypeError, ValueError) as err:
        raise FeedbackError(f"{feedback.name} returned {raw!r}, not a number") from err
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise FeedbackError(
            f"{feedback.name} returned {value!r}, outside [0, 1]: normalise the value in the "
            "feedback function (TruLens's LLM feedbacks already do)"
        )
    if feedback.higher_is_better is False:  # Vigil's scores: higher is better
        details["inverted"] = f"1 - {feedback.name} (lower is better in TruLens)"
        value = 1.0 - value
    return value, details


def definition_digest(feedback: Any) -> str:
    """A short digest of what makes the feedback's judgement what it is."""
    imp = feedback.imp
    provider = getattr(imp, "__self__", None)
    described = {
        "name": feedback.name,
        "function": f"{getattr(imp, '__module__', '')}.{getattr(imp, '__qualname__', repr(imp))}",
        "provider": type(provider).__name__ if provider is not None else None,
        "model": getattr(provider, "model_engine", None),
        "selectors": {arg: _describe(sel) for arg, sel in sorted(feedback.selectors.items())},
        "agg": getattr(feedback.agg, "__qualname__", repr(feedback.agg)),
        "criteria": feedback.criteria,
        "instructions": feedback.additional_instructions,
        "examples": repr(feedback.examples),
        "range": [feedback.min_score_val, feedback.max_score_val, feedback.temperature],
        "arguments": repr(sorted((feedback.implementation_kwargs or {}).items())),
        "higher_is_better": feedback.higher_is_better,
        "combinations": str(feedback.combinations),
    }
    text = json.dumps(described, sort_keys=True, default=repr)
    return "trulens-" + hashlib.sha256(text.encode()).hexdigest()[:10]


def _bind(feedback: Any, trace: Trace) -> tuple[Any, dict[str, Any]]:
    """A copy of the feedback whose selectors are Lenses over ``source`` (built from the
    trace), and ``source``."""
    from trulens.core.feedback.selector import Selector
    from trulens.core.utils.serial import Lens

    source: dict[str, Any] = {
        "__record__": {"main_input": trace.input, "main_output": trace.output,
                       "meta": dict(trace.attributes), "app": {}},
        _NS: {},
    }  # fmt: skip
    lenses: dict[str, Any] = {}
    for arg, selector in feedback.selectors.items():
        if isinstance(selector, Lens):
            _place(arg, selector, source, trace)
            lenses[arg] = selector
        elif isinstance(selector, Selector):
            value = _resolve(arg, selector, trace)
            source[_NS][arg] = value
            lens = Lens()[_NS][arg]
            lenses[arg] = lens[:] if isinstance(value, list) and not selector.collect_list else lens
        else:
            raise FeedbackError(f"{feedback.name}: argument {arg!r} has a selector of type "
                                f"{type(selector).__name__}, which Vigil cannot read")  # fmt: skip
    runnable = feedback.model_copy()
    runnable.selectors = lenses
    return runnable, source


def _place(arg: str, lens: Any, source: dict[str, Any], trace: Trace) -> None:
    """Make what ``lens`` (a legacy TruLens selector) points at exist in ``source``."""
    from trulens.core.schema.select import Select
    from trulens.core.utils import serial

    select: Any = Select  # its attributes are Lens paths built on access
    fields = (select.RecordInput, select.RecordOutput, select.Record.meta)
    if any(prefix.is_prefix_of(lens) for prefix in fields):
        return
    calls: tuple[Any, ...] = select.RecordCalls.path
    path = lens.path
    if path[: len(calls)] == calls:
        rets = [i for i, step in enumerate(path)
                if isinstance(step, serial.GetItemOrAttribute)
                and step.get_item_or_attribute() == "rets" and i > len(calls)]  # fmt: skip
        tail = (serial.GetSlice, serial.GetIndex, serial.GetIndices, serial.Collect)
        if rets and all(isinstance(step, tail) for step in path[rets[-1] + 1 :]):
            record = serial.Lens(path=path[1 : rets[-1] + 1])
            source["__record__"] = record.set(source["__record__"], trace.contexts)
            return
    raise FeedbackError(
        f"argument {arg!r}: the selector {Select.render_for_dashboard(lens)} has no Vigil "
        "trace field; use Select.RecordInput (the question), Select.RecordOutput (the answer), "
        "Select.RecordCalls.<retriever>.rets[:] (the retrieved chunks) or Select.Record.meta"
    )


def _resolve(arg: str, selector: Any, trace: Trace) -> Any:
    """The value an OTEL-mode ``Selector`` (TruLens 2's default) reads from the spans an
    instrumented RAG app would send: its root span and its retrieval span."""
    from trulens.otel.semconv.trace import SpanAttributes as SA

    if selector.trace_level or getattr(selector, "conversation_level", False):
        raise FeedbackError(f"argument {arg!r}: a trace-level selector reads every span; "
                            "select the input, the output or the context")  # fmt: skip
    question, answer, chunks = trace.input, trace.output, trace.contexts
    if selector.is_dataset_selector:
        column = {"query": question, "question": question, "input": question,
                  "prompt": question, "response": answer, "answer": answer, "output": answer,
                  "context": chunks, "contexts": chunks, "retrieved_contexts": chunks}  # fmt: skip
        if selector.dataset_column in column:
            return column[selector.dataset_column]
        raise FeedbackError(f"argument {arg!r}: no trace field for column "
                            f"{selector.dataset_column!r}")  # fmt: skip
    spans = (
        ("root", "record_root", {SA.SPAN_TYPE: SA.SpanType.RECORD_ROOT,
                                 SA.RECORD_ROOT.INPUT: question, SA.RECORD_ROOT.OUTPUT: answer}),
        ("retrieve", "retrieve", {SA.SPAN_TYPE: SA.SpanType.RETRIEVAL,
                                  SA.RETRIEVAL.QUERY_TEXT: question,
                                  SA.RETRIEVAL.RETRIEVED_CONTEXTS: chunks,
                                  SA.RETRIEVAL.NUM_CONTEXTS: len(chunks),
                                  SA.CALL.FUNCTION: "retrieve", SA.CALL.RETURN: chunks}),
    )  # fmt: skip
    found = [
        selector.process_span(span_id, attributes).value
        for span_id, name, attributes in spans
        if selector.matches_span(name, attributes)
    ]
    found = [v for v in found if v is not None]
    if not found:
        raise FeedbackError(
            f"argument {arg!r}: the selector (span type {selector.span_type}, function "
            f"{selector.function_name}, attribute {selector.span_attribute}) matches no part of "
            "a Vigil trace; use on_input(), on_output() or on_context()"
        )
    return found[0]


def _needs(feedback: Any) -> set[Need]:
    """What a trace must have for the feedback: read from its selectors."""
    needs: set[Need] = set()
    for selector in feedback.selectors.values():
        text = repr(selector).lower()
        if "main_input" in text or "record_root.input" in text or "query" in text:
            needs.add("question")
        if "main_output" in text or "record_root.output" in text or "response" in text:
            needs.add("answer")
        if "rets" in text or "retriev" in text or "context" in text:
            needs.add("contexts")
    return needs


def _unbound_arguments(feedback: Any) -> list[str]:
    parameters = inspect.signature(feedback.imp).parameters.values()
    required = [p.name for p in parameters if p.default is p.empty
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]  # fmt: skip
    bound = set(feedback.selectors) | set(feedback.implementation_kwargs or {})
    return [name for name in required if name not in bound]


def _judged_by_llm(feedback: Any) -> bool:
    from trulens.feedback.llm_provider import LLMProvider

    return isinstance(getattr(feedback.imp, "__self__", None), LLMProvider)


def _describe(selector: Any) -> str:
    from trulens.core.utils.serial import Lens

    if isinstance(selector, Lens):
        return str(selector)
    fields = ("span_type", "span_name", "span_attribute", "function_name", "function_attribute",
              "collect_list", "dataset_column", "trace_level")  # fmt: skip
    return repr({f: getattr(selector, f, None) for f in fields})


def _plain(value: Any) -> Any:
    """JSON-safe: what the score's metadata can hold."""
    return json.loads(json.dumps(value, default=str))


def _root_cause(error: str | None) -> str:
    """The first ``SomeError: message`` line of TruLens's (chained) traceback."""
    for line in (error or "").splitlines():
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception)\b", line):
            return line.strip()[:500]
    lines = (error or "unknown error").strip().splitlines()
    return lines[-1][:500] if lines else "unknown error"
