"""Import traces from a JSONL file: one trace object a line (see docs/trace-format.md).

Bad lines are reported with their line numbers and skipped; good lines are stored in
batches, each in one transaction. Re-importing a file stores nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from pydantic import ValidationError

from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.ingest.enrich import PriceBook, enrich, sanitize
from vigil.ingest.text import TextFilter
from vigil.models import Trace
from vigil.store.traces import insert_traces

BATCH_SIZE = 500


def _KEEP(text: str) -> str:
    return text


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class IngestReport:
    stored: int = 0
    already_present: int = 0
    errors: list[LineError] = field(default_factory=list)
    # ids of traces not stored: they start before the traces' retention or more than a day ahead
    refused: list[str] = field(default_factory=list)


def describe(err: ValidationError) -> str:
    """One line naming each bad field, e.g. ``start_time: Input should be a valid datetime``."""
    parts = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "trace"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)


def parse_lines(path: Path) -> Iterator[Trace | LineError]:
    """Traces and line errors, in file order. Blank lines are ignored."""
    try:
        handle = path.open("rb")
    except OSError as err:
        raise VigilError(f"Cannot read {path}: {err.strerror}. Check the path.") from err
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                yield LineError(number, f"not UTF-8 (byte {err.start}); re-encode the file")
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as err:
                yield LineError(number, f"not valid JSON ({err.msg} at column {err.colno})")
                continue
            if not isinstance(data, dict):
                yield LineError(number, "expected a JSON object, one trace per line")
                continue
            try:
                yield Trace.model_validate(data)
            except ValidationError as err:
                yield LineError(number, describe(err))


def ingest_file(
    conn: Conn,
    path: Path,
    *,
    safe: TextFilter = _KEEP,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[IngestReport], None] | None = None,
) -> IngestReport:
    """Validate and store a JSONL file (``conn`` in autocommit mode: one transaction a batch).

    Text passes through ``safe`` (see :func:`vigil.ingest.text.text_filter`); tokens are
    counted and cost computed where the file has none.
    """
    report = IngestReport()
    items = parse_lines(path)
    prices = PriceBook(conn)
    while chunk := list(islice(items, batch_size)):
        good = [enrich(prices, sanitize(t, safe)) for t in chunk if isinstance(t, Trace)]
        report.errors += [e for e in chunk if isinstance(e, LineError)]
        with conn.transaction():
            result = insert_traces(conn, good)
        report.stored += result.inserted
        report.already_present += result.already_present
        report.refused += result.refused
        if progress:
            progress(report)
    return report
