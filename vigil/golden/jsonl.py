"""Golden datasets as JSONL files (``.jsonl`` or ``.jsonl.gz``): one item a line.

Reading is all or nothing: every bad line is reported with its number, and a file with
any bad line yields no items, so an import never stores half a file.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from vigil.errors import VigilError
from vigil.golden.item import GoldenItem, Source, from_record

MAX_REPORTED = 20


def _open(path: Path) -> IO[bytes]:
    try:
        if path.suffix == ".gz":
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return path.open("rb")
    except OSError as err:
        raise VigilError(f"Cannot read {path}: {err.strerror}. Check the path.") from err


def _describe(err: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'item'}: {e['msg']}" for e in err.errors()
    )


def read_items(path: Path) -> list[GoldenItem]:
    """The file's items, in order; a VigilError listing the bad lines if there is any."""
    items: list[GoldenItem] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    source = Source(kind="file", file=path.name)
    with _open(path) as handle:
        try:
            lines = list(enumerate(handle, start=1))
        except (OSError, EOFError) as err:
            raise VigilError(f"Cannot read {path}: {err}. Is it a valid .gz file?") from err
    for number, raw in lines:
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as err:
            problems.append(f"line {number}: not UTF-8 (byte {err.start}); re-encode the file")
            continue
        except json.JSONDecodeError as err:
            problems.append(f"line {number}: not valid JSON ({err.msg} at column {err.colno})")
            continue
        if not isinstance(record, dict):
            problems.append(f"line {number}: expected a JSON object, one item per line")
            continue
        try:
            item = from_record(record, source)
        except ValidationError as err:
            problems.append(f"line {number}: {_describe(err)}")
            continue
        if item.id in seen:
            problems.append(f"line {number}: id {item.id!r} is already used on line "
                            f"{seen[item.id]}; ids must be unique")  # fmt: skip
            continue
        seen[item.id] = number
        items.append(item)
    if problems:
        shown = problems[:MAX_REPORTED]
        hidden = len(problems) - len(shown)
        more = f"\n  ... and {hidden} more" if hidden else ""
        raise VigilError(
            f"{path}: {len(problems)} bad line(s); nothing was imported. Fix them and import "
            "again (see docs/datasets.md for the item format):\n  " + "\n  ".join(shown) + more
        )
    if not items:
        raise VigilError(f"{path} holds no items; a dataset needs at least one.")
    return items


def write_items(items: Iterable[GoldenItem], handle: IO[str]) -> int:
    """Write items as JSONL (what :func:`read_items` reads back); the number written."""
    count = 0
    for item in items:
        handle.write(item.model_dump_json(exclude_none=True) + "\n")
        count += 1
    return count
