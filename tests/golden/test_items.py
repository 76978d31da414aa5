"""Golden items and their JSONL files: all or nothing, with line numbers."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from vigil.errors import VigilError
from vigil.golden import GoldenItem, from_record, read_items, version_hash, write_items
from vigil.golden.reviewed import from_review

PROBLEM = {
    "task_id": "Own/0",
    "prompt": "def add(a, b):\n    \"\"\"Sum of a and b.\"\"\"\n",
    "entry_point": "add",
    "canonical_solution": "    return a + b\n",
    "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n",
}


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_humaneval_problem_is_a_code_item() -> None:
    item = from_record(PROBLEM)
    assert (item.id, item.kind, item.entry_point) == ("Own/0", "code", "add")
    assert item.input == PROBLEM["prompt"] and item.reference == PROBLEM["canonical_solution"]


def test_an_item_without_an_id_gets_a_stable_one_from_its_input() -> None:
    a = from_record({"input": "What is the refund window?"})
    b = from_record({"input": "What is the refund window?", "reference": "30 days"})
    assert a.id == b.id and a.id.startswith("item-")
    assert a.content_hash() != b.content_hash()


def test_a_code_item_needs_both_tests_and_entry_point() -> None:
    with pytest.raises(ValidationError, match="entry_point and test"):
        GoldenItem(id="x", input="def f(): pass", test="def check(c): pass")


def test_bad_lines_are_all_reported_and_nothing_is_returned(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.jsonl", [
        json.dumps({"id": "a", "input": "q1"}),
        "{not json",
        json.dumps({"id": "b", "input": ""}),
        json.dumps({"id": "a", "input": "q2"}),
        json.dumps(["a list"]),
        json.dumps({"id": "c", "input": "q3", "colour": "red"}),
    ])  # fmt: skip
    with pytest.raises(VigilError) as caught:
        read_items(path)
    text = str(caught.value)
    assert "5 bad line(s); nothing was imported" in text
    for expected in ("line 2: not valid JSON", "line 3: input", "line 4: id 'a' is already used "
                     "on line 1", "line 5: expected a JSON object", "line 6: colour"):  # fmt: skip
        assert expected in text


def test_gzip_files_and_a_round_trip_keep_the_content(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(PROBLEM) + "\n")
        retrieval = {"relevant_document_ids": ["d1"], "k": 3}
        record = {"id": "r", "input": "q", "contexts": ["c"], "retrieval": retrieval}
        handle.write(json.dumps(record) + "\n")
    items = read_items(path)
    buffer = io.StringIO()
    assert write_items(items, buffer) == 2
    again = tmp_path / "again.jsonl"
    again.write_text(buffer.getvalue(), encoding="utf-8")
    assert read_items(again) == items
    assert version_hash(read_items(again)) == version_hash(items)
    assert items[0].source is not None and items[0].source.file == "g.jsonl.gz"


def test_an_empty_file_and_a_missing_file_say_so(tmp_path: Path) -> None:
    with pytest.raises(VigilError, match="holds no items"):
        read_items(_write(tmp_path / "e.jsonl", [""]))
    with pytest.raises(VigilError, match=r"Cannot read .*Check the path"):
        read_items(tmp_path / "missing.jsonl")


def test_a_reviewed_trace_takes_the_correction_as_its_reference() -> None:
    row = {"trace_id": "t1", "app": "shop", "input": "Refund window?", "output": "60 days",
           "item_id": 7, "label": "hallucinated", "reviewer": "ann",
           "corrected_answer": "30 days", "contexts": ["Refunds within 30 days."]}  # fmt: skip
    item = from_review(row)
    assert item is not None and item.reference == "30 days" and item.id == "trace-t1"
    assert item.source is not None and item.source.corrected and item.source.reviewer == "ann"
    assert item.contexts == ["Refunds within 30 days."]
    assert from_review({**row, "corrected_answer": None}) is None  # wrong, and no correction
    kept = from_review({**row, "corrected_answer": None, "label": "correct"})
    assert kept is not None and kept.reference == "60 days"
    assert kept.source is not None and kept.source.corrected is False
