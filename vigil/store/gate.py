"""Gate runs (migration 0015): a candidate's outputs and scores on one dataset version, and
the verdict, written in one transaction when the run ends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from vigil.db.types import Conn
from vigil.errors import VigilError


@dataclass(frozen=True)
class ScoreRow:
    item_key: str
    metric: str
    version: str
    value: float | None
    status: str
    explanation: str | None
    votes: tuple[float, ...] = ()
    flaky: bool = False


@dataclass(frozen=True)
class OutputRow:
    item_key: str
    sample: int
    answer: str | None
    contexts: list[dict[str, Any]]
    error: str | None
    latency_ms: float | None


@dataclass(frozen=True)
class RunRecord:
    dataset_version_id: int
    candidate: str
    config: dict[str, Any]
    config_hash: str
    evaluators: dict[str, str]
    baseline_run_id: int | None
    baseline: str | None
    verdict: str
    rules: list[dict[str, Any]]
    items: int
    errors: int
    git_sha: str | None
    started_at: datetime
    created_by: str


def save_run(conn: Conn, run: RunRecord, outputs: Sequence[OutputRow],
             scores: Sequence[ScoreRow]) -> int:  # fmt: skip
    """Store a finished run, its outputs and scores, all or nothing; the run's id."""
    with conn.transaction():
        row = conn.execute(
            """INSERT INTO gate_runs (dataset_version_id, candidate, config, config_hash,
                   evaluators, baseline_run_id, baseline, verdict, rules, items, errors,
                   git_sha, started_at, created_by)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (run.dataset_version_id, run.candidate, Jsonb(run.config), run.config_hash,
             Jsonb(run.evaluators), run.baseline_run_id, run.baseline, run.verdict,
             Jsonb(run.rules), run.items, run.errors, run.git_sha, run.started_at,
             run.created_by),
        ).fetchone()  # fmt: skip
        assert row is not None
        run_id = int(row["id"])
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO gate_outputs (run_id, item_key, sample, answer, contexts, error,"
                " latency_ms) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(run_id, o.item_key, o.sample, o.answer, Jsonb(o.contexts), o.error,
                  o.latency_ms) for o in outputs],
            )  # fmt: skip
            cur.executemany(
                "INSERT INTO gate_scores (run_id, item_key, metric, version, value, status,"
                " explanation, votes, flaky) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(run_id, s.item_key, s.metric, s.version, s.value, s.status, s.explanation,
                  list(s.votes), s.flaky) for s in scores],
            )  # fmt: skip
    return run_id


def run(conn: Conn, run_id: int) -> dict[str, Any]:
    row = conn.execute(
        "SELECT r.*, d.name AS dataset, v.version AS dataset_version, v.content_hash"
        " FROM gate_runs r JOIN dataset_versions v ON v.id = r.dataset_version_id"
        " JOIN datasets d ON d.id = v.dataset_id WHERE r.id = %s",
        (run_id,),
    ).fetchone()
    if row is None:
        raise VigilError(f"no gate run #{run_id}; `vigil gate --help` and the Gate page list runs")
    return row


def last_passing(conn: Conn, dataset_version_id: int) -> int | None:
    """The latest passing run on this dataset version."""
    row = conn.execute(
        "SELECT id FROM gate_runs WHERE dataset_version_id = %s AND verdict = 'pass'"
        " ORDER BY id DESC LIMIT 1",
        (dataset_version_id,),
    ).fetchone()
    return None if row is None else int(row["id"])


def scores(conn: Conn, run_id: int) -> list[ScoreRow]:
    rows = conn.execute(
        "SELECT item_key, metric, version, value, status, explanation, votes, flaky"
        " FROM gate_scores WHERE run_id = %s ORDER BY item_key, metric",
        (run_id,),
    ).fetchall()
    return [ScoreRow(r["item_key"], r["metric"], r["version"], r["value"], r["status"],
                     r["explanation"], tuple(r["votes"]), r["flaky"]) for r in rows]  # fmt: skip


def outputs(conn: Conn, run_id: int, item_key: str | None = None) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT * FROM gate_outputs WHERE run_id = %s AND (%s::text IS NULL OR item_key = %s)"
        " ORDER BY item_key, sample",
        (run_id, item_key, item_key),
    ).fetchall()


def recent(conn: Conn, dataset: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Gate runs, newest first, with their dataset version."""
    return conn.execute(
        "SELECT r.id, r.candidate, r.verdict, r.items, r.errors, r.baseline, r.baseline_run_id,"
        " r.started_at, r.finished_at, r.created_by, r.git_sha, r.rules, d.name AS dataset,"
        " v.version AS dataset_version FROM gate_runs r"
        " JOIN dataset_versions v ON v.id = r.dataset_version_id"
        " JOIN datasets d ON d.id = v.dataset_id"
        " WHERE %s::text IS NULL OR d.name = %s ORDER BY r.id DESC LIMIT %s",
        (dataset, dataset, limit),
    ).fetchall()
