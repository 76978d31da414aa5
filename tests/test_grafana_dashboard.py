"""infra/grafana/vigil.json queries only what the exporter exports, and has the panels the
issue asks for: quality beside cost per request and p95 latency, and budget left per SLO."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.metrics import world
from vigil.metrics import Exporter
from vigil.store import metrics as store

DASHBOARD = Path(__file__).resolve().parents[1] / "infra" / "grafana" / "vigil.json"
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
            "and", "or", "unless", "inf", "nan"}  # fmt: skip
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "counter": ("_total",), "gauge": ("",)}


def family_of(name: str, exported: dict[str, tuple[str, set[str]]]) -> str | None:
    """The family a sample name belongs to, by the family's type (the parser names a
    counter family without ``_total``)."""
    for family, (kind, _) in exported.items():
        if any(name == family + suffix for suffix in SUFFIXES.get(kind, ())):
            return family
    return None


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not its functions, labels or variables)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values
    text = re.sub(r"\{[^}]*\}", " ", text)  # matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables
    names = set()
    for found in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", text):  # not 5m, 1e3
        follows = text[found.end() :].lstrip()
        if follows.startswith("(") or found.group() in KEYWORDS:
            continue  # a function or aggregation
        names.add(found.group())
    return names


def test_metric_names_are_found_in_promql() -> None:
    expr = ("histogram_quantile(0.95, sum by (app, le) (rate("
            'vigil_request_latency_seconds_bucket{app=~"$app", le="0.5"}[$__rate_interval])))'
            " / time() - vigil_x offset 5m")  # fmt: skip
    assert metric_names(expr) == {"vigil_request_latency_seconds_bucket", "vigil_x"}


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and every query variable."""
    found = [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            found.append((f"${var['name']}", re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1",
                                                    query)))  # fmt: skip
    return found


@pytest.fixture
def exported(conn, db_url: str, tmp_path: Path) -> dict[str, tuple[str, set[str]]]:  # type: ignore[no-untyped-def]
    """Family name -> (type, names of its samples) from a live exporter after some data."""
    conn.execute("TRUNCATE ingest_counts")
    exporter = Exporter(db_url, max_segment_values=2, slo_file=world.slo_file(tmp_path))
    exporter.refresh()
    rows = world.traces(conn, ["a", "b", "c"], "t", error_every=2)
    world.scores(conn, rows, [0.4, 0.6, 0.9])
    world.evaluation_run(conn)
    world.regression(conn)
    store.add_ingest_counts(
        conn,
        [
            store.IngestCount(world.APP, "stored", "", 0, 3),
            store.IngestCount("(unknown)", "refused", "too_large", 1, 0),
        ],
    )
    exporter.refresh()
    text = exporter.exposition().decode()
    return {f.name: (f.type, {s.name for s in f.samples})
            for f in text_string_to_metric_families(text)}  # fmt: skip


def test_every_query_names_a_metric_the_exporter_exports(exported) -> None:  # type: ignore[no-untyped-def]
    dashboard = json.loads(DASHBOARD.read_text())
    checked = 0
    for where, expr in queries(dashboard):
        names = metric_names(expr)
        assert names, f"{where}: no metric in {expr!r}"
        for name in names:
            family = family_of(name, exported)
            assert family, f"{where}: {name} is not exported (expr {expr!r})"
            kind, samples = exported[family]
            assert name in samples, f"{where}: {name} ({kind}) has no sample after data"
            checked += 1
    assert checked >= 20


def test_the_required_panels_share_one_time_axis() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 39
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert "label_values(" in json.dumps(variables["app"]["query"])
    panels = {p["title"]: p for p in dashboard["panels"] if p["type"] != "row"}

    def one(word: str) -> dict[str, Any]:
        matches = [p for title, p in panels.items() if word.lower() in title.lower()]
        assert matches, f"no panel titled with {word!r}"
        return matches[0]

    quality, cost, latency = one("Quality"), one("Cost per request"), one("p95 latency")
    assert {quality["type"], cost["type"], latency["type"]} == {"timeseries"}
    assert len({p["gridPos"]["y"] for p in (quality, cost, latency)}) == 1  # side by side
    assert all("timeFrom" not in p and "timeShift" not in p for p in (quality, cost, latency))
    assert "histogram_quantile(0.95" in latency["targets"][0]["expr"]
    budget = one("SLO budget left")
    assert "vigil_slo_budget_left_ratio" in budget["targets"][0]["expr"]
    assert budget["targets"][0]["legendFormat"] == "{{slo}}"  # one bar per SLO
