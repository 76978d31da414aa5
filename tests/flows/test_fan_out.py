"""The fan-out loop on its own: width, order, retries of crashed runs, giving up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flows.fan_out import RunEnd, fan_out
from flows.windows import Window, chunks

START = datetime(2026, 11, 1, tzinfo=UTC)


class ScriptedRuns:
    """Chunk runs that end as scripted, one poll after they were submitted: the n-th
    attempt of a chunk ends with ``script[(chunk index, n)]`` (COMPLETED when absent)."""

    def __init__(self, parts: list[Window], script: dict[tuple[int, int], str]) -> None:
        self.parts, self.script = parts, script
        self.submitted: list[tuple[int, int]] = []
        self.flying: dict[str, tuple[int, int]] = {}
        self.most_flying = 0

    def submit(self, chunk: Window, attempt: int) -> str:
        key = (self.parts.index(chunk), attempt)
        self.submitted.append(key)
        run_id = f"run-{key[0]}-{key[1]}"
        self.flying[run_id] = key
        self.most_flying = max(self.most_flying, len(self.flying))
        return run_id

    def ended(self, run_id: str) -> RunEnd | None:
        key = self.flying.pop(run_id)
        return RunEnd(run_id, self.script.get(key, "COMPLETED"), "scripted")


def test_chunks_are_days_or_hours_aligned_to_utc() -> None:
    days = list(chunks(START + timedelta(hours=5), START + timedelta(days=2), 24))
    assert days[0] == (START + timedelta(hours=5), START + timedelta(days=1))
    assert len(days) == 2
    sixes = list(chunks(START, START + timedelta(days=1), 6))
    assert [c[0].hour for c in sixes] == [0, 6, 12, 18]


def test_runs_every_chunk_oldest_first_at_most_parallel_at_once() -> None:
    parts = list(chunks(START, START + timedelta(days=6), 24))
    runs = ScriptedRuns(parts, {})
    result = fan_out(parts, runs, parallel=2, retries=2, poll_s=0)
    assert runs.submitted == [(i, 0) for i in range(6)]
    assert runs.most_flying == 2
    assert result.completed == parts and not result.failed and len(result.runs) == 6


def test_a_crashed_or_failed_run_is_submitted_again_until_the_retries_are_spent() -> None:
    parts = list(chunks(START, START + timedelta(days=3), 24))
    script = {(1, 0): "CRASHED", (2, 0): "FAILED", (2, 1): "CRASHED", (2, 2): "CRASHED"}
    ended: list[tuple[str, bool]] = []
    runs = ScriptedRuns(parts, script)

    def on_end(_chunk: Window, run_id: str, _end: RunEnd, retried: bool) -> None:
        ended.append((run_id, retried))

    result = fan_out(parts, runs, parallel=3, retries=2, poll_s=0, on_end=on_end)
    assert sorted(runs.submitted) == [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2)]
    assert result.completed == [parts[0], parts[1]]
    assert [(c, e.state) for c, e in result.failed] == [(parts[2], "CRASHED")]
    assert ("run-1-0", True) in ended and ("run-2-2", False) in ended


def test_a_cancelled_run_is_not_retried() -> None:
    parts = list(chunks(START, START + timedelta(days=1), 24))
    runs = ScriptedRuns(parts, {(0, 0): "CANCELLED"})
    result = fan_out(parts, runs, parallel=1, retries=3, poll_s=0)
    assert runs.submitted == [(0, 0)] and result.failed[0][1].state == "CANCELLED"
