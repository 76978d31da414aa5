"""JSONL import: good lines stored, bad lines reported by number, re-runs duplicate nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from vigil.ingest.jsonl import ingest_file

GOOD = {
    "id": "t-1",
    "app": "support-bot",
    "start_time": "2026-11-20T10:00:00Z",
    "end_time": "2026-11-20T10:00:01.5Z",
    "input": "How long is the warranty?",
    "output": "Two years.",
    "model": "gpt-4o-mini",
    "prompt_version": "v3",
    "segment": {"route": "policy"},
    "tokens_in": 812,
    "tokens_out": 9,
    "retrievals": [
        {"document_id": "warranty", "content": "The warranty lasts two years.", "score": 0.8},
        {"document_id": "returns", "content": "Returns within 30 days.", "score": 0.6},
    ],
    "spans": [
        {"span_id": "s1", "kind": "llm", "name": "chat", "start_time": "2026-11-20T10:00:00Z"}
    ],
}


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def mixed_file(tmp_path: Path) -> Path:
    second = {**GOOD, "id": "t-2", "retrievals": [], "spans": []}
    return write(
        tmp_path / "traces.jsonl",
        [
            json.dumps(GOOD),  # 1 good
            "{not json",  # 2
            json.dumps({**GOOD, "id": "t-3", "start_time": "yesterday"}),  # 3 bad time
            "",  # 4 blank: ignored
            json.dumps({**GOOD, "id": "t-4", "outptu": "typo"}),  # 5 unknown field
            json.dumps(second),  # 6 good
            json.dumps({**GOOD, "id": "t-5", "start_time": "2026-11-20T10:00:00"}),  # 7 naive
            json.dumps([1, 2]),  # 8 not an object
        ],
    )


def test_good_lines_stored_bad_lines_reported(conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report = ingest_file(conn, mixed_file(tmp_path))
    assert report.stored == 2
    assert [e.line for e in report.errors] == [2, 3, 5, 7, 8]
    messages = {e.line: e.message for e in report.errors}
    assert "not valid JSON" in messages[2]
    assert messages[3].startswith("start_time:")
    assert "outptu" in messages[5]
    assert "timezone" in messages[7]
    assert "JSON object" in messages[8]

    row = conn.execute("SELECT * FROM traces WHERE id = 't-1'").fetchone()
    assert row["latency_ms"] == pytest.approx(1500.0)
    assert row["segment"] == {"route": "policy"}
    chunks = conn.execute(
        "SELECT rank, document_id FROM retrievals WHERE trace_id = 't-1' ORDER BY rank"
    ).fetchall()
    assert [(c["rank"], c["document_id"]) for c in chunks] == [(0, "warranty"), (1, "returns")]
    assert conn.execute("SELECT count(*) AS n FROM spans").fetchone()["n"] == 1


def test_rerun_duplicates_nothing(conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = mixed_file(tmp_path)
    ingest_file(conn, path)
    again = ingest_file(conn, path)
    assert again.stored == 0 and again.already_present == 2
    counts = conn.execute(
        "SELECT (SELECT count(*) FROM traces) AS t, (SELECT count(*) FROM retrievals) AS r,"
        " (SELECT count(*) FROM spans) AS s"
    ).fetchone()
    assert (counts["t"], counts["r"], counts["s"]) == (2, 2, 1)


def test_duplicate_ids_within_a_file_keep_the_first(conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(
        tmp_path / "dup.jsonl", [json.dumps(GOOD), json.dumps({**GOOD, "output": "Three years."})]
    )
    report = ingest_file(conn, path)
    assert report.stored == 1 and report.already_present == 1
    assert conn.execute("SELECT output FROM traces").fetchone()["output"] == "Two years."


def test_cli_reports_line_numbers_and_exits_1(db_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["ingest", str(mixed_file(tmp_path))])
    assert result.exit_code == 1
    assert "line 2: not valid JSON" in result.output
    assert "stored 2 traces, 0 already present, 5 bad lines skipped" in result.output
    clean = write(tmp_path / "clean.jsonl", [json.dumps({**GOOD, "id": "t-9"})])
    ok = CliRunner().invoke(cli, ["ingest", str(clean)])
    assert ok.exit_code == 0, ok.output
    assert "stored 1 traces" in ok.output


def test_missing_file_is_one_clear_line_without_traceback(db_url: str, tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "ingest", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    assert (
        proc.stderr.strip()
        == f"error: Cannot read {missing}: No such file or directory. Check the path."
    )


def test_tokens_cost_and_redaction_on_import(conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from vigil.ingest.text import text_filter

    line = {**GOOD, "id": "t-pii", "tokens_in": None, "tokens_out": None,
            "input": "Mail me at ann@example.com", "output": "Done.\x00"}  # fmt: skip
    path = write(tmp_path / "pii.jsonl", [json.dumps(line)])
    report = ingest_file(conn, path, safe=text_filter(1000, redact_pii=True))
    assert report.stored == 1
    row = conn.execute("SELECT * FROM traces").fetchone()
    assert row["input"] == "Mail me at [EMAIL]" and row["output"] == "Done.\ufffd"
    assert row["tokens_in"] > 5 and row["tokens_out"] >= 2  # counted with tiktoken
    assert row["cost_usd"] == pytest.approx(
        (row["tokens_in"] * 0.15 + row["tokens_out"] * 0.60) / 1e6
    )
    assert row["attributes"]["vigil"]["priced_as"] == "gpt-4o-mini@2024-07-18"
