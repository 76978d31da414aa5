"""/metrics over HTTP (prometheus_client's server, stopped by the test), and `vigil metrics
show`."""

from __future__ import annotations

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from cli.metrics import metrics
from tests.conftest import free_port
from tests.metrics import world
from vigil.metrics import Exporter, serve


def test_metrics_are_served_over_http_until_stopped(conn, exporter: Exporter) -> None:  # type: ignore[no-untyped-def]
    world.traces(conn, ["a"], "t")
    port = free_port()
    stop = serve(exporter, "127.0.0.1", port, every_s=3600.0)  # refreshes once, now
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert response.status_code == 200
        families = {f.name: f for f in text_string_to_metric_families(response.text)}
        assert families["vigil_request_latency_seconds"].type == "histogram"
        assert families["vigil_exporter_last_refresh_timestamp_seconds"].samples
    finally:
        stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)


def test_show_prints_the_exposition_once(db_url: str) -> None:
    result = CliRunner().invoke(metrics, ["show", "--database-url", db_url])
    assert result.exit_code == 0, result.output
    names = {f.name for f in text_string_to_metric_families(result.output)}
    assert {"vigil_ingest_requests", "vigil_score", "vigil_slo_budget_left_ratio"} <= names
