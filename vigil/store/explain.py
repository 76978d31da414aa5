"""Which partitions the store's own queries touch (bench/ui, tests/store/test_partition_pruning).

:class:`Explaining` stands in for a connection: each read it is given runs first under
``EXPLAIN (ANALYZE, FORMAT JSON)``, then for real, so a store function's plans are recorded
without copying its SQL. :func:`touched` reads a plan: the partitions it scanned (a partition
pruned when planning is not in the plan; one pruned when running shows no loop).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from vigil.db.types import Conn

PARTITION = re.compile(r"^(traces|spans|retrievals|scores)_p\d{8}$")
_READ = re.compile(r"^\s*(SELECT|WITH)\b", re.IGNORECASE)
_WRITE = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)


@dataclass
class Explaining:
    """A connection that records the plan of each read it runs (writes run unexplained)."""

    conn: Conn
    plans: list[dict[str, Any]] = field(default_factory=list)

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        text = query.as_string(self.conn) if isinstance(query, sql.Composable) else str(query)
        if _READ.match(text) and not _WRITE.search(text):
            prefix = "EXPLAIN (ANALYZE, FORMAT JSON) "
            explain = (
                sql.SQL(prefix) + query if isinstance(query, sql.Composable) else prefix + text
            )
            row = self.conn.execute(explain, params, prepare=False).fetchone()
            assert row is not None
            self.plans.append(next(iter(row.values()))[0]["Plan"])
        return self.conn.execute(query, params, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def touched(plan: dict[str, Any]) -> dict[str, set[str]]:
    """The partitions a plan scanned, by table (``traces``: {``traces_p20260105``, ...})."""
    found: dict[str, set[str]] = {}
    for node in _nodes(plan):
        name = node.get("Relation Name", "")
        hit = PARTITION.match(name)
        if hit and node.get("Actual Loops", 0) > 0:
            found.setdefault(hit.group(1), set()).add(name)
    return found


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)
