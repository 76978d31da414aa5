"""Golden datasets: versioned items a CI gate scores candidates on (docs/datasets.md)."""

from vigil.golden.item import GoldenItem, RetrievalSpec, Source, from_record, version_hash
from vigil.golden.jsonl import read_items, write_items

__all__ = [
    "GoldenItem",
    "RetrievalSpec",
    "Source",
    "from_record",
    "read_items",
    "version_hash",
    "write_items",
]
