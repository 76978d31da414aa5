"""The candidate a gate scores: a Python entry point called on each item, or a JSONL file of
outputs computed beforehand.

An entry point ``module:function`` is called with an item's input and returns the answer:
a string, a ``(answer, contexts)`` pair, or a mapping with ``answer`` and ``contexts`` (each
context a string or a mapping with ``content`` and ``document_id``). Calls run at most
``concurrency`` at once, each with a timeout; one that raises or times out is an error for
that item, never a crash of the gate. A call that hangs is abandoned on a daemon thread,
so it cannot keep the process alive.
"""

from __future__ import annotations

import gzip
import importlib
import json
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil.errors import VigilError
from vigil.golden import GoldenItem
from vigil.models import Retrieval

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class Output:
    key: str
    sample: int
    answer: str | None
    contexts: list[Retrieval] = field(default_factory=list)
    error: str | None = None
    latency_ms: float | None = None


def contexts_of(value: Any) -> list[Retrieval]:
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError("contexts must be a list of strings or of {content, document_id}")
    out = []
    for rank, chunk in enumerate(value):
        if isinstance(chunk, str):
            out.append(Retrieval(content=chunk, rank=rank))
        elif isinstance(chunk, Mapping) and isinstance(chunk.get("content"), str):
            doc = chunk.get("document_id")
            out.append(Retrieval(content=chunk["content"], document_id=None if doc is None
                                 else str(doc), rank=rank))  # fmt: skip
        else:
            raise TypeError(f"context {rank} is {type(chunk).__name__}: give a string or a "
                            "mapping with 'content'")  # fmt: skip
    return out


def normalize(key: str, sample: int, value: Any, latency_ms: float | None = None) -> Output:
    """An Output from what a candidate returned (see the module's docstring)."""
    if isinstance(value, str):
        answer, contexts = value, None
    elif isinstance(value, tuple) and len(value) == 2:
        answer, contexts = value
    elif isinstance(value, Mapping):
        answer = value.get("answer", value.get("completion", value.get("output")))
        contexts = value.get("contexts")
    else:
        raise TypeError(f"the candidate returned {type(value).__name__}: return a string, "
                        "(answer, contexts) or {'answer': ..., 'contexts': [...]}")  # fmt: skip
    if not isinstance(answer, str):
        raise TypeError(f"the answer is {type(answer).__name__}, not a string")
    if not answer.strip():  # nothing to judge: the candidate failed this item
        return Output(key, sample, None, error="the candidate returned an empty answer",
                      latency_ms=latency_ms)  # fmt: skip
    return Output(key, sample, answer, contexts_of(contexts), latency_ms=latency_ms)


def load_entry_point(target: str) -> Callable[[str], Any]:
    """``module:function``, imported with the working directory on the path (where a team
    runs its CI); a clear error when it cannot be imported."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise VigilError(f"--candidate {target!r}: give module:function or a .jsonl file")
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:
        raise VigilError(f"--candidate {target!r}: cannot import {module_name} "
                         f"({type(err).__name__}: {err})") from err  # fmt: skip
    fn = module
    for part in attr.split("."):
        fn = getattr(fn, part, None)  # type: ignore[assignment]
        if fn is None:
            raise VigilError(f"--candidate {target!r}: {module_name} has no {attr}")
    if not callable(fn):
        raise VigilError(f"--candidate {target!r}: {attr} is not callable")
    return fn


def _call(fn: Callable[[str], Any], item: GoldenItem, sample: int, timeout_s: float) -> Output:
    done: Future[Any] = Future()

    def target() -> None:
        try:
            done.set_result(fn(item.input))
        except BaseException as err:  # reported for this item
            done.set_exception(err)

    start = time.monotonic()
    threading.Thread(target=target, daemon=True, name=f"candidate-{item.id}").start()
    try:
        value = done.result(timeout=timeout_s)
    except FutureTimeout:
        return Output(item.id, sample, None, error=f"timed out after {timeout_s:g} s")
    except BaseException as err:
        return Output(item.id, sample, None, error=f"{type(err).__name__}: {err}")
    latency = (time.monotonic() - start) * 1000
    try:
        return normalize(item.id, sample, value, latency)
    except (TypeError, ValueError) as err:
        return Output(item.id, sample, None, error=str(err), latency_ms=latency)


def call_entry_point(fn: Callable[[str], Any], items: Sequence[GoldenItem], *, samples: int,
                     concurrency: int, timeout_s: float,
                     progress: Progress | None = None) -> list[Output]:  # fmt: skip
    """Every item ``samples`` times, in item order."""
    jobs = [(item, s) for item in items for s in range(samples)]
    outputs: list[Output] = []
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="gate") as pool:
        futures = [pool.submit(_call, fn, item, s, timeout_s) for item, s in jobs]
        for future in futures:
            outputs.append(future.result())
            if progress:
                progress(len(outputs), len(jobs))
    return outputs


def read_outputs(path: Path, items: Sequence[GoldenItem], samples: int) -> list[Output]:
    """Outputs from a JSONL file: ``{"id": ..., "answer": ..., "contexts": [...]}`` a line
    (HumanEval's ``task_id``/``completion`` too); several lines for one id are its samples.
    Bad lines are an error naming them; an item without a line is an error for that item."""
    found: dict[str, list[Output]] = {}
    problems = []
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        lines = raw.decode("utf-8").splitlines()
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise VigilError(f"--candidate {path}: cannot read it ({err})") from err
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            key = str(record.get("id", record.get("task_id", "")))
            if not key:
                raise ValueError("no 'id' (or 'task_id')")
            found.setdefault(key, []).append(normalize(key, len(found.get(key, [])), record))
        except (ValueError, TypeError, AttributeError) as err:
            problems.append(f"line {number}: {err}")
    if problems:
        raise VigilError(f"--candidate {path}: {len(problems)} bad line(s), fix them:\n  "
                         + "\n  ".join(problems[:20]))  # fmt: skip
    unknown = sorted(set(found) - {i.id for i in items})
    if unknown and len(unknown) == len(found):
        raise VigilError(f"--candidate {path}: none of its ids is in the dataset "
                         f"(e.g. {unknown[0]!r}); is it the right file?")  # fmt: skip
    out = []
    for item in items:
        got = found.get(item.id, [])
        for s in range(samples):
            out.append(got[s] if s < len(got) else Output(
                item.id, s, None, error=f"no output for this item in {path.name}"
                f"{f' (sample {s + 1})' if samples > 1 else ''}"))  # fmt: skip
    return out
