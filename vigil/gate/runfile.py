"""Gate-run files: a run's per-item scores as JSON, so that a file committed on main can be
the baseline of a pull request's gate without a shared database (docs/gate-ci.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil.errors import VigilError

FORMAT = "vigil-gate-run/1"


@dataclass(frozen=True)
class Baseline:
    """What a comparison needs from an earlier run: its scores by metric and item key."""

    description: str
    scores: dict[str, dict[str, float | None]]
    versions: dict[str, str]  # metric -> evaluator version
    run_id: int | None = None
    dataset: str | None = None
    content_hash: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def dump(baseline: Baseline, verdict: str, candidate: str, dataset_version: int) -> str:
    return json.dumps(
        {
            "format": FORMAT,
            "run_id": baseline.run_id,
            "dataset": baseline.dataset,
            "dataset_version": dataset_version,
            "content_hash": baseline.content_hash,
            "candidate": candidate,
            "verdict": verdict,
            "versions": baseline.versions,
            "scores": baseline.scores,
            **baseline.meta,
        },
        indent=1,
        sort_keys=True,
    )


def write(path: Path, text: str) -> None:
    """Write through a temporary file, so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)


def load(path: Path) -> Baseline:
    """A baseline from a gate-run file (``vigil gate --write-run``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise VigilError(f"--baseline {path}: cannot read it ({err.strerror})") from err
    except (ValueError, UnicodeDecodeError) as err:
        raise VigilError(
            f"--baseline {path}: not a gate-run file ({err}); write one with "
            "`vigil gate ... --write-run FILE`"
        ) from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise VigilError(
            f"--baseline {path}: not a {FORMAT} file; write one with "
            "`vigil gate ... --write-run FILE`"
        )
    scores = data.get("scores")
    versions = data.get("versions")
    if not isinstance(scores, dict) or not isinstance(versions, dict):
        raise VigilError(f"--baseline {path}: 'scores' and 'versions' must be objects")
    if data.get("verdict") != "pass":
        raise VigilError(
            f"--baseline {path}: that run did not pass (verdict "
            f"{data.get('verdict')!r}); a baseline is a passing run"
        )
    return Baseline(
        description=f"file {path.name}"
        + (f" (run #{data['run_id']})" if data.get("run_id") else ""),
        scores={
            m: {str(k): (None if v is None else float(v)) for k, v in s.items()}
            for m, s in scores.items()
        },
        versions={str(k): str(v) for k, v in versions.items()},
        run_id=None,
        dataset=data.get("dataset"),
        content_hash=data.get("content_hash"),
    )
