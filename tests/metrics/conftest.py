"""An exporter on the test database, and its output parsed with prometheus_client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from vigil.db import connect
from vigil.metrics import Exporter

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def clean_counts(db_url: str) -> str:
    """The test database with no ingest counts (the shared fixture does not know them)."""
    with connect(db_url, autocommit=True) as conn:
        conn.execute("TRUNCATE ingest_counts")
    return db_url


@pytest.fixture
def exporter(clean_counts: str) -> Iterator[Exporter]:
    """An exporter whose mark is set: only what is written from now on is observed."""
    exp = Exporter(clean_counts, max_segment_values=2)
    exp.refresh()
    yield exp


def samples(exporter: Exporter) -> Samples:
    """Every sample of the exporter's output, by name and labels."""
    text = exporter.exposition().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def family_types(exporter: Exporter) -> dict[str, str]:
    """Family name (as the parser gives it: no ``_total``) -> type."""
    text = exporter.exposition().decode()
    return {f.name: f.type for f in text_string_to_metric_families(text)}
