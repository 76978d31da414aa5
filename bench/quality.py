"""Evaluator quality on real labelled data from ../shared/data (skipped when it is absent).

- Groundedness on both development sets: HaluEval QA (``groundedness-dev.jsonl``) and
  SummEdits (``summedits-dev.jsonl``, overall and per domain). Each ROC-AUC has a bootstrap
  95% interval and sits beside the two trivial baselines: word overlap with the context,
  and answer shortness. On HaluEval also a length-matched subset, where answer length alone
  cannot separate the labels. minilm-3 is shown beside minilm-2 (its support alone); its
  weights were fitted on SummEdits, so its SummEdits figures score each domain with
  weights fitted on the other domains.
- Retrieval with the MiniLM model in pgvector on SciFact: recall@10 and nDCG@10.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from bench import Row
from evaluators.label_agreement import (
    length_matched,
    roc_auc,
    roc_auc_interval,
    word_overlap,
)
from evaluators.ranking import ndcg_at_k, recall_at_k

if TYPE_CHECKING:
    from evaluators.base import Evaluator, Judge
    from vigil.models import Score, Trace

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = {"HaluEval QA": "groundedness-dev.jsonl", "SummEdits": "summedits-dev.jsonl"}


def groundedness_rows(judge: Judge | None = None) -> list[Row]:
    """The local groundedness evaluator (or, with a judge, the LLM-judged one) on both
    development sets, scored through the evaluator as in production. The local one comes
    twice: as shipped, and as minilm-2 (its support alone, every weight at 0)."""
    from evaluators import Resources
    from evaluators.groundedness import Groundedness
    from evaluators.judge_groundedness import JudgeGroundedness
    from evaluators.providers import MiniLMProvider
    from vigil.embeddings import load_embeddings

    evaluator: Evaluator
    if judge is None:
        evaluator = Groundedness(Resources(MiniLMProvider(load_embeddings())))
    else:
        evaluator = JudgeGroundedness(Resources(provider=None, judge=judge))
    rows = []
    for set_name, file_name in SETS.items():
        records = [json.loads(line) for line in (DATA / file_name).open()]
        scores = evaluator.evaluate([dev_trace(i, r) for i, r in enumerate(records)])
        _report_errors(evaluator, scores)
        skipped = sum(s.value is None for s in scores)
        if judge is None:
            columns = _local_columns(set_name, evaluator, records, scores)
        else:
            label = f"{evaluator.name} {evaluator.version}"
            columns = {label: [0.5 if s.value is None else s.value for s in scores]}
        for label, values in columns.items():
            rows += _set_rows(set_name, records, label, values, skipped)
    return rows


def _local_columns(
    set_name: str, evaluator: Evaluator, records: list[dict], scores: list[Score]
) -> dict[str, list[float]]:
    """minilm-3 and minilm-2 (its support). minilm-3's weights were fitted on SummEdits, so
    there each domain is scored with weights fitted on the other domains (as
    ``bench.train_groundedness`` reports it): no SummEdits figure is one trained on."""
    from bench.train_groundedness import features, held_out

    found = features(records, scores)
    label = f"{evaluator.name} {evaluator.version}"
    if set_name == "SummEdits":
        label += " (each domain held out: weights fitted on the others)"
        ours = held_out(found)[0].tolist()
    else:
        label += " (weights fitted on SummEdits)"
        ours = [0.5 if s.value is None else s.value for s in scores]
    support = [0.5 if skip else s for s, skip in zip(found.support, found.skipped, strict=True)]
    return {label: ours, "groundedness minilm-2 (support only)": support}


def _report_errors(evaluator: Evaluator, scores: list[Score]) -> None:
    errors = sum(s.status == "error" for s in scores)
    if errors:
        example = next(s.explanation for s in scores if s.status == "error")
        print(f"bench.quality: {errors} {evaluator.name} error(s), e.g. {example}", file=sys.stderr)


def _set_rows(
    set_name: str, records: list[dict], label: str, ours: Sequence[float], skipped: int
) -> list[Row]:
    """ROC-AUC over the set and its parts (SummEdits' domains; HaluEval's length-matched
    records), each beside word overlap and answer shortness, with 95% intervals. An answer
    with nothing to check (skipped) ranks as uninformative (0.5)."""
    labels = [int(r["label"] == "grounded") for r in records]
    baselines = {
        "word overlap": [word_overlap(r["answer"], " ".join(r["contexts"])) for r in records],
        "answer shortness": [-float(len(r["answer"])) for r in records],
    }
    parts: list[tuple[str, Sequence[int]]] = [
        (f"all, {skipped} skipped as 0.5", range(len(records)))
    ]
    if set_name == "HaluEval QA":
        parts.append(("length-matched", length_matched(records)))
    else:
        by_domain: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(records):
            by_domain[r["source"].split("/")[-1]].append(i)
        parts += sorted(by_domain.items())
    rows = []
    for part, subset in parts:
        y = [labels[i] for i in subset]
        mine = [ours[i] for i in subset]
        case = f"{label}, {set_name}, {part} (n={len(subset)})"
        for baseline, values in baselines.items():
            theirs = [values[i] for i in subset]
            rows.append(Row(
                "quality", case, "ROC-AUC", roc_auc(y, mine), baseline, roc_auc(y, theirs),
                interval=roc_auc_interval(y, mine), reference_interval=roc_auc_interval(y, theirs),
            ))  # fmt: skip
    return rows


def dev_trace(i: int, record: dict) -> Trace:
    """A labelled record as the trace an app would have sent."""
    from vigil.models import Retrieval, Trace

    return Trace(
        id=f"dev-{i}",
        app="bench",
        start_time="2026-01-01T00:00:00Z",
        input=record["question"],
        output=record["answer"],
        retrievals=[Retrieval(content=c) for c in record["contexts"]],
    )


def retrieval_rows(k: int = 10) -> list[Row]:
    """MiniLM embeddings in pgvector (HNSW) against exact search over the same vectors."""
    import numpy as np

    from vigil.embeddings import load_embeddings

    folder = DATA / "scifact"
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").open()]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (folder / "queries.jsonl").open())}
    relevant: dict[str, set[str]] = defaultdict(set)
    for line in (folder / "qrels.tsv").read_text().splitlines()[1:]:
        qid, doc_id, score = line.split("\t")
        if int(score) > 0:
            relevant[qid].add(doc_id)
    model = load_embeddings()
    texts = [f"{d['title']}. {d['text']}" for d in corpus]
    doc_vectors = np.asarray(model.embed_documents(texts), dtype=np.float32)
    ids = [d["_id"] for d in corpus]
    qids = [q for q in relevant if q in queries]
    q_vectors = np.asarray(model.embed_documents([queries[q] for q in qids]), dtype=np.float32)
    exact = np.argsort(-(q_vectors @ doc_vectors.T), axis=1)[:, :k]
    hnsw = _pgvector_top_k(ids, doc_vectors, q_vectors, k)
    exact_ids = [[ids[j] for j in row] for row in exact]
    truth = [relevant[q] for q in qids]

    def mean(metric: Callable[[list[str], set[str]], float], found: list[list[str]]) -> float:
        return float(np.mean([metric(f, t) for f, t in zip(found, truth, strict=True)]))

    case = f"SciFact, MiniLM, pgvector HNSW (n={len(qids)})"
    candidates = [set(row) | truth_ids for row, truth_ids in zip(exact_ids, truth, strict=True)]
    by_id = dict(zip(ids, texts, strict=True))
    return [
        *context_relevance_rows(qids, queries, candidates, truth, by_id),
        Row("quality", case, f"recall@{k}", mean(partial(recall_at_k, k=k), hnsw), "exact search",
            mean(partial(recall_at_k, k=k), exact_ids)),
        Row("quality", case, f"nDCG@{k}", mean(partial(ndcg_at_k, k=k), hnsw), "exact search",
            mean(partial(ndcg_at_k, k=k), exact_ids)),
    ]  # fmt: skip


def context_relevance_rows(
    qids: list[str],
    queries: dict[str, str],
    candidates: list[set[str]],
    truth: list[set[str]],
    texts: dict[str, str],
) -> list[Row]:
    """Context relevance separating relevant abstracts from the top-10 retrieved irrelevant
    ones (hard negatives), next to the whole-abstract cosine the retriever ranked them by."""
    from evaluators import Resources
    from evaluators.context_relevance import ContextRelevance
    from evaluators.providers import MiniLMProvider
    from vigil.embeddings import load_embeddings
    from vigil.models import Retrieval, Trace

    provider = MiniLMProvider(load_embeddings())
    pairs = [(q, d, int(d in t)) for q, c, t in zip(qids, candidates, truth, strict=True)
             for d in sorted(c)]  # fmt: skip
    traces = [
        Trace(id=f"{q}-{d}", app="bench", start_time="2026-01-01T00:00:00Z",
              input=queries[q], retrievals=[Retrieval(document_id=d, content=texts[d])])
        for q, d, _ in pairs
    ]  # fmt: skip
    ours = [s.value or 0.0 for s in ContextRelevance(Resources(provider)).evaluate(traces)]
    whole = [float(provider.embed([queries[q]])[0] @ provider.embed([texts[d]])[0])
             for q, d, _ in pairs]  # fmt: skip
    labels = [y for _, _, y in pairs]
    case = f"context relevance, SciFact relevant vs retrieved (n={len(pairs)})"
    return [Row("quality", case, "ROC-AUC", roc_auc(labels, ours), "whole-chunk cosine",
                roc_auc(labels, whole))]  # fmt: skip


def _pgvector_top_k(ids: list[str], docs: object, queries: object, k: int) -> list[list[str]]:
    from pgvector.psycopg import register_vector

    from bench._db import scratch_database
    from vigil.db import connect

    with scratch_database("vigil_quality") as url, connect(url, autocommit=True) as conn:
        register_vector(conn)
        conn.execute("CREATE TABLE docs (id text PRIMARY KEY, embedding vector(384))")
        with conn.cursor().copy(
            "COPY docs (id, embedding) FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["text", "vector"])
            for doc_id, vec in zip(ids, docs, strict=True):  # type: ignore[call-overload]
                copy.write_row((doc_id, vec))
        conn.execute("CREATE INDEX ON docs USING hnsw (embedding vector_cosine_ops)")
        conn.execute("SET hnsw.ef_search = 100")
        return [
            [r["id"] for r in conn.execute(
                "SELECT id FROM docs ORDER BY embedding <=> %s LIMIT %s", (q, k))]
            for q in queries  # type: ignore[attr-defined]
        ]  # fmt: skip


def run() -> list[Row]:
    if not DATA.is_dir():
        print(f"bench.quality skipped: no shared data at {DATA}", file=sys.stderr)
        return []
    rows = groundedness_rows() + retrieval_rows()
    judge = _configured_judge()
    if judge is not None:  # the same benchmark with the LLM judge of VIGIL_JUDGE_*
        rows += groundedness_rows(judge)
    return rows


def _configured_judge() -> Judge | None:
    from flows.resources import run_judge
    from vigil.settings import load_settings

    judge: Judge | None = run_judge(load_settings(), None)
    return judge


if __name__ == "__main__":
    from bench import table

    print(table(run()))
