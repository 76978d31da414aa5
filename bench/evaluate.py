"""Local RAG-triad evaluation: traces scored per second, in one process on this machine.

N synthetic RAG traces (a question, 4 retrieved chunks of about 150 words, an answer of 2-3
sentences) are scored by ``answer_relevance``, ``context_relevance`` and ``groundedness``
through ``Evaluator.evaluate`` in batches of ``settings.batch_size``, as a flow does, with a
fresh MiniLM provider (empty embedding cache). Two references, measured in the same run:

- the bound: the same model encoding exactly the texts Vigil embedded, call for call (a
  recorder over the real model keeps them), so bound traces/s = N / pure encoding time;
- TruLens's ``BatchEvaluator`` (``trulens.core.batch``; in memory, no session or database)
  calling a fresh provider's feedback functions record by record (``max_workers=1``; its
  default pool of 6 threads was no faster on 2 cores, and embedded ~11% more texts as the
  threads raced on the cache): ``relevance``, ``context_relevance`` once per chunk
  (averaged, TruLens's default) and ``groundedness_measure_with_cot_reasons``. That
  feedback function is minilm-2's support; Vigil's ``groundedness`` (minilm-3) also runs
  the contradiction checks, so Vigil's path does a little more work.

Each path runs ``VIGIL_BENCH_EVAL_REPEATS`` times, interleaved, and its best wall time is
kept: on a shared machine a busy spell otherwise decides the ratio.

Text: words drawn with Zipf frequencies from the model's own word-piece vocabulary (whole
English words, roughly in frequency order), about 45% function words, some names and
numbers. Chunks come from a knowledge base of 8N chunks whose popularity falls as
1/sqrt(rank), so about 28% of retrievals repeat a chunk seen earlier, as popular documents
do in real traffic; the share is printed on stderr, since repeats (embedding cache hits)
make every path faster, and the bound encodes only what Vigil did encode. Answers reuse
chunk sentences with a quarter of their content words replaced, so that groundedness has
words to match softly: the path that embeds single words.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

import vigil  # noqa: F401  (telemetry off, before TruLens is imported)
from bench import Row
from evaluators import Resources, build
from evaluators.providers import MiniLMProvider
from evaluators.text import STOPWORDS
from vigil.embeddings import default_model_path, load_embeddings
from vigil.models import Retrieval, Trace
from vigil.settings import Settings

TRACES = int(os.environ.get("VIGIL_BENCH_EVAL_TRACES", "300"))
TRULENS_TRACES = int(os.environ.get("VIGIL_BENCH_EVAL_TRULENS_TRACES", str(TRACES)))
REPEATS = int(os.environ.get("VIGIL_BENCH_EVAL_REPEATS", "3"))
TRIAD = ("answer_relevance", "context_relevance", "groundedness")
SEED = 20260101
CHUNKS_PER_TRACE = 4
CHUNK_WORDS = 150
_WORD = re.compile(r"\b[a-z]+\b")
FUNCTION_WORDS = ("the", "of", "and", "to", "in", "is", "was", "for", "with", "that", "by",
                  "on", "as", "are", "from", "it", "this", "be", "at", "or")  # fmt: skip


class RecordingEmbeddings(Embeddings):
    """The real model, keeping the texts of each ``embed_documents`` call and the time spent
    in it (the rest of a path's wall time is everything but encoding)."""

    def __init__(self, model: Embeddings) -> None:
        self.model = model
        self.calls: list[list[str]] = []
        self.seconds = 0.0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        started = time.perf_counter()
        try:
            return self.model.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - started

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def summary(self) -> str:
        texts = sum(map(len, self.calls))
        return f"; {self.seconds:.1f} s in the model, {texts} texts in {len(self.calls)} calls"


# -- traces -------------------------------------------------------------------------------
class _Writer:
    """Deterministic prose-like text over a Zipf-distributed English vocabulary."""

    def __init__(self, rng: random.Random) -> None:
        vocab = (Path(default_model_path()) / "vocab.txt").read_text().split()
        self.words = [w for w in vocab if w.isascii() and w.isalpha() and len(w) > 2
                      and w not in STOPWORDS]  # fmt: skip
        self.cum = list(itertools.accumulate(1 / (r + 10) for r in range(len(self.words))))
        self.rng = rng

    def word(self) -> str:
        return self.rng.choices(self.words, cum_weights=self.cum)[0]

    def sentence(self) -> str:
        out = []
        for _ in range(self.rng.randint(10, 26)):
            roll = self.rng.random()
            if roll < 0.45:
                out.append(self.rng.choice(FUNCTION_WORDS))
            elif roll < 0.50:
                out.append(self.word().capitalize())  # a name
            elif roll < 0.53:
                out.append(str(self.rng.randint(2, 2030)))
            else:
                out.append(self.word())
        return " ".join(out).capitalize() + "."

    def chunk(self) -> str:
        parts: list[str] = []
        while sum(len(p.split()) for p in parts) < CHUNK_WORDS:
            parts.append(self.sentence())
        return " ".join(parts)

    def question(self, chunk: str) -> str:
        topic = [w for w in _WORD.findall(chunk) if w not in STOPWORDS]
        picked = " ".join(self.rng.sample(topic, min(4, len(topic))))
        opener = self.rng.choice(("What does", "How does", "Why does", "When does"))
        return f"{opener} the {picked} {self.rng.choice(('matter', 'change', 'work'))}?"

    def paraphrase(self, sentence: str) -> str:
        words = sentence.split()
        for i, w in enumerate(words):
            if w.isalpha() and w.islower() and w not in STOPWORDS and self.rng.random() < 0.25:
                words[i] = self.word()
        return " ".join(words)


def make_traces(n: int, seed: int = SEED) -> list[Trace]:
    """``n`` RAG traces drawn from a knowledge base of ``8n`` chunks (see the module doc)."""
    rng = random.Random(seed)
    writer = _Writer(rng)
    pool = [writer.chunk() for _ in range(8 * n)]
    popularity = list(itertools.accumulate(1 / (r + 1) ** 0.5 for r in range(len(pool))))
    traces = []
    for i in range(n):
        picked: list[int] = []
        while len(picked) < CHUNKS_PER_TRACE:
            j = rng.choices(range(len(pool)), cum_weights=popularity)[0]
            if j not in picked:
                picked.append(j)
        chunks = [pool[j] for j in picked]
        said = [s + "." for c in chunks for s in c.split(". ")]
        answer = " ".join(writer.paraphrase(rng.choice(said).rstrip(".")) + "."
                          for _ in range(rng.randint(2, 3)))  # fmt: skip
        traces.append(Trace(
            id=f"t{i}", app="bench", start_time="2026-01-01T00:00:00Z",
            input=writer.question(chunks[0]), output=answer,
            retrievals=[Retrieval(document_id=f"kb-{j}", content=pool[j]) for j in picked],
        ))  # fmt: skip
    return traces


def repeat_share(traces: Sequence[Trace]) -> float:
    """Share of retrieved chunks already retrieved by an earlier trace."""
    ids = [c.document_id for t in traces for c in t.retrievals]
    return 1 - len(set(ids)) / len(ids)


# -- the three measurements ---------------------------------------------------------------
@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float  # this process, all threads: about 2x wall when the model has both cores


class _Clock:
    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> Timing:
        return Timing(time.perf_counter() - self.wall, time.process_time() - self.cpu)


def vigil_timing(traces: Sequence[Trace], model: Embeddings) -> tuple[Timing, RecordingEmbeddings]:
    """The triad over ``traces`` as a flow runs it, and the embedding calls it made."""
    recorder = RecordingEmbeddings(model)
    evaluators = build(list(TRIAD), Resources(MiniLMProvider(recorder)))
    size = Settings().batch_size
    scores = []
    clock = _Clock()
    for i in range(0, len(traces), size):
        batch = traces[i : i + size]
        for ev in evaluators:
            scores += ev.evaluate(batch)
    timing = clock.stop()
    errors = [s.explanation for s in scores if s.status == "error"]
    if errors:
        raise RuntimeError(f"{len(errors)} evaluation(s) failed, first: {errors[0]}")
    return timing, recorder


def encode_timing(calls: Sequence[list[str]], model: Embeddings) -> Timing:
    """The model alone on the same texts, in the same ``embed_documents`` calls."""
    clock = _Clock()
    for texts in calls:
        model.embed_documents(texts)
    return clock.stop()


def trulens_timing(traces: Sequence[Trace], model: Embeddings) -> tuple[Timing, str]:
    """TruLens's BatchEvaluator over the same feedback functions, one record at a time
    (``max_workers=1``: see the module doc)."""
    from trulens.core import BatchEvaluator, Metric, Selector

    recorder = RecordingEmbeddings(model)
    provider = MiniLMProvider(recorder)
    column = Selector.from_column
    metrics = [
        Metric(name="answer_relevance", implementation=provider.relevance,
               selectors={"prompt": column("question"), "response": column("answer")}),
        Metric(name="context_relevance", implementation=provider.context_relevance,
               selectors={"question": column("question"),
                          "context": column("contexts", collect_list=False)}),
        Metric(name="groundedness",
               implementation=provider.groundedness_measure_with_cot_reasons,
               selectors={"source": column("contexts"), "statement": column("answer")}),
    ]  # fmt: skip
    rows: list[dict[str, Any]] = [
        {"question": t.input, "answer": t.output, "contexts": t.contexts} for t in traces
    ]
    clock = _Clock()
    result = BatchEvaluator(metrics, max_workers=1).evaluate(rows)
    timing = clock.stop()
    if result[[m.name for m in metrics]].isna().any().any():
        raise RuntimeError("TruLens BatchEvaluator left feedback results empty")
    return timing, recorder.summary()


def _log(name: str, t: Timing, note: str = "") -> None:
    print(f"  {name}: wall {t.wall:.1f} s, cpu {t.cpu:.1f} s{note}", file=sys.stderr, flush=True)


def run() -> list[Row]:
    import torch

    model = load_embeddings()
    model.embed_documents(["warm up the model", "and its tokenizer"] * 32)
    traces = make_traces(TRACES)
    subset = traces[:TRULENS_TRACES]
    print(f"bench.evaluate: {TRACES} traces, {repeat_share(traces):.0%} of retrieved chunks "
          f"repeat an earlier one; torch threads {torch.get_num_threads()}; best of "
          f"{REPEATS}", file=sys.stderr)  # fmt: skip
    ours, bound, peer = [], [], []
    for _ in range(REPEATS):  # interleaved, so that a busy spell hits every path alike
        timing, recorder = vigil_timing(traces, model)
        ours.append(timing)
        _log("vigil", timing, recorder.summary())
        bound.append(encode_timing(recorder.calls, model))
        _log("encode bound (same calls)", bound[-1])
        timing, summary = trulens_timing(subset, model)
        peer.append(timing)
        _log(f"TruLens BatchEvaluator, {len(subset)} traces", timing, summary)
    vigil_rate = TRACES / min(t.wall for t in ours)
    case = f"local RAG triad, {TRACES} traces"
    return [
        Row("evaluate", case, "traces/s", vigil_rate, "MiniLM encode bound",
            TRACES / min(t.wall for t in bound)),
        Row("evaluate", case, "traces/s", vigil_rate,
            f"TruLens BatchEvaluator, record by record ({len(subset)} traces)",
            len(subset) / min(t.wall for t in peer)),
    ]  # fmt: skip


if __name__ == "__main__":
    from bench import table

    print(table(run()))
