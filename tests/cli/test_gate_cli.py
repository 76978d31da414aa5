"""`vigil datasets` and `vigil gate` as a CI job runs them: exit codes 0, 1 and 2, the
Markdown and JUnit reports, and a gate-run file as the next run's baseline."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.cli.helpers import vigil

CONFIG = """\
evaluators: [token_f1]
rules:
  - metric: token_f1
    max_drop: 0.02
    name: answers keep their facts
"""


def _files(tmp_path: Path) -> dict[str, Path]:
    golden = tmp_path / "golden.jsonl"
    golden.write_text("".join(
        json.dumps({"id": f"q{i}", "input": f"How long is the warranty of model {i}?",
                    "reference": f"Model {i} has a {i + 1} year warranty."}) + "\n"
        for i in range(12)), encoding="utf-8")  # fmt: skip
    good = tmp_path / "good.jsonl"
    good.write_text("".join(
        json.dumps({"id": f"q{i}", "answer": f"Model {i} has a {i + 1} year warranty."}) + "\n"
        for i in range(12)), encoding="utf-8")  # fmt: skip
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(
        json.dumps({"id": f"q{i}", "answer": "Please check our website for details."}) + "\n"
        for i in range(12)), encoding="utf-8")  # fmt: skip
    config = tmp_path / "gate.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    return {"golden": golden, "good": good, "bad": bad, "config": config}


def test_a_ci_job_imports_gates_and_keeps_a_baseline_file(db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "VIGIL_DATABASE_URL": db_url, "VIGIL_USER": "ci"}
    f = _files(tmp_path)
    imported = vigil(["datasets", "import", str(f["golden"]), "--name", "warranty"], env)
    assert imported.returncode == 0, imported.stderr
    assert "warranty@1: 12 items imported" in imported.stdout
    again = vigil(["datasets", "import", str(f["golden"]), "--name", "warranty"], env)
    assert "warranty@1: unchanged" in again.stdout

    run_file = tmp_path / "gate-run.json"
    first = vigil(["gate", "--dataset", "warranty", "--dataset-file", str(f["golden"]),
                   "--candidate", str(f["good"]), "--config", str(f["config"]),
                   "--write-run", str(run_file), "--baseline", "none"], env)  # fmt: skip
    assert first.returncode == 0, first.stdout + first.stderr
    assert "gate run #1 on warranty@1: PASS" in first.stdout  # the file's version, not a new one
    saved = json.loads(run_file.read_text())
    assert saved["verdict"] == "pass" and len(saved["scores"]["token_f1"]) == 12

    md, junit = tmp_path / "gate.md", tmp_path / "gate.xml"
    worse = vigil(["gate", "--dataset", "warranty", "--candidate", str(f["bad"]), "--config",
                   str(f["config"]), "--baseline", str(run_file), "--markdown", str(md),
                   "--junit", str(junit)], env)  # fmt: skip
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "FAIL answers keep their facts" in worse.stdout
    text = md.read_text()
    assert text.startswith("<!-- vigil-gate -->") and "answers keep their facts" in text
    suite = ET.parse(junit).getroot()
    failures = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failures == ["answers keep their facts"]

    missing = vigil(["gate", "--dataset", "nothing-here", "--candidate", str(f["good"]),
                     "--junit", str(junit)], env)  # fmt: skip
    assert missing.returncode == 2
    assert "could not run: no dataset named 'nothing-here'" in missing.stderr
    errors = [c for c in ET.parse(junit).getroot().iter("testcase") if c.find("error") is not None]
    assert len(errors) == 1

    broken = tmp_path / "broken.yaml"
    broken.write_text("evaluators: [token_f1]\nrules:\n  - metric: token_f1\n    max_dorp: 1\n")
    bad_config = vigil(["gate", "--dataset", "warranty", "--candidate", str(f["good"]),
                        "--config", str(broken)], env)  # fmt: skip
    assert bad_config.returncode == 2
    assert "max_dorp" in bad_config.stderr and "broken.yaml" in bad_config.stderr


def test_export_writes_what_import_reads_back(db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "VIGIL_DATABASE_URL": db_url, "VIGIL_USER": "ci"}
    f = _files(tmp_path)
    assert vigil(["datasets", "import", str(f["golden"]), "--name", "w"], env).returncode == 0
    out = tmp_path / "out.jsonl"
    exported = vigil(["datasets", "export", "w@1", "-o", str(out)], env)
    assert exported.returncode == 0, exported.stderr
    assert len(out.read_text().splitlines()) == 12
    back = vigil(["datasets", "import", str(out), "--name", "w"], env)
    assert "w@1: unchanged" in back.stdout
    shown = vigil(["datasets", "show", "w"], env)
    assert "* v1" in shown.stdout and "12 RAG item(s), 0 code item(s)" in shown.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "input": "q"}\n{"id": "x", "input": "r"}\n')
    refused = vigil(["datasets", "import", str(bad), "--name", "w"], env)
    assert refused.returncode == 1
    assert "line 2: id 'x' is already used on line 1" in refused.stderr
    listed = vigil(["datasets", "list"], env)
    assert listed.stdout.startswith("w@1: 12 items, 1 version(s)")
