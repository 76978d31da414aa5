"""Run every benchmark and print one table: ``python -m bench`` (``make bench``)."""

from __future__ import annotations

import importlib
import sys
import time

import vigil  # noqa: F401  (telemetry off)
from bench import Row, table

BENCHMARKS = [
    "bench.ingest_jsonl",
    "bench.ingest",
    "bench.quality",
    "bench.gate",
    "bench.evaluate",
    "bench.evaluate_judge",
    "bench.backfill",
    "bench.backfill_pool",
    "bench.detection",
    "bench.metrics_overhead",
    "bench.ui",
    "bench.partitions",
]


def main(names: list[str]) -> None:
    rows: list[Row] = []
    for name in names or BENCHMARKS:
        started = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows += importlib.import_module(name).run()
        print(f"  done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    print(table(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
