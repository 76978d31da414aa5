"""Learn the contradiction weights of groundedness minilm-3 on SummEdits; check on HaluEval.

    python -m bench.train_groundedness [--dry-run]

The protocol (issue 17: tune on one set, report on the other):

- Features: each answer's minilm-2 support and which of the four contradiction kinds fire,
  computed by the evaluator itself (run with every weight at 0, its score is the support).
- Model: an offset logistic regression, ``logit P(grounded) = logit(support) + b + sum_k
  w_k fired_k``, support clipped to [1e-3, 1 - 1e-3] as a fixed term (its weight is not
  fitted), an L2 penalty ``|w|^2 / 2C`` on the kind weights, a free intercept ``b``. The
  shipped score leaves ``b`` out: a constant shift does not change the ranking, and without
  it a score where nothing fires stays minilm-2's.
- ``C`` from ``GRID``, chosen by leave-one-domain-out (LODO) inside SummEdits: the pooled
  ROC-AUC of each domain scored with weights fitted on the other seven.
- SummEdits is reported by nested LODO: each domain is scored with weights fitted on the
  other seven, ``C`` chosen by LODO among those seven; so no figure of a domain is tuned on
  it. The shipped weights are fitted on all of SummEdits with the ``C`` chosen on all
  eight domains. HaluEval is only scored, never fitted on.

Prints the figures with bootstrap 95% intervals beside minilm-2, word overlap and answer
shortness, and an ablation of each kind; writes ``evaluators/data/groundedness_minilm3.json``
(not with ``--dry-run``). Skipped when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

import vigil  # noqa: F401  (telemetry off, before TruLens is imported)
from bench.quality import DATA, dev_trace
from evaluators.contradiction import KINDS
from evaluators.groundedness import WEIGHTS_FILE, Weights
from evaluators.label_agreement import roc_auc, roc_auc_interval, word_overlap
from vigil.models import Score

TRAIN, CHECK = "summedits-dev.jsonl", "groundedness-dev.jsonl"
OUTPUT = Path(__file__).resolve().parents[1] / "evaluators" / "data" / WEIGHTS_FILE
GRID = (0.1, 1.0, 10.0)
CLIP = 1e-3


@dataclass(frozen=True)
class Features:
    """One row per answer: minilm-2 support, the kinds fired (0/1, in ``KINDS`` order),
    whether it was skipped (nothing to check), its label (1 = grounded) and domain."""

    support: np.ndarray
    fired: np.ndarray
    skipped: np.ndarray
    labels: np.ndarray
    domains: np.ndarray


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).open()]


def features(records: Sequence[dict], scores: Sequence[Score]) -> Features:
    """The features of scored answers (minilm-3's metadata, whatever its weights)."""
    kept = [s.value is not None for s in scores]
    fired = [s.metadata["contradictions"] if k else {} for s, k in zip(scores, kept, strict=True)]
    return Features(
        support=np.array(
            [s.metadata["support"] if k else 0.5 for s, k in zip(scores, kept, strict=True)]
        ),
        fired=np.array([[float(kind in found) for kind in KINDS] for found in fired]),
        skipped=~np.array(kept),
        labels=np.array([int(r["label"] == "grounded") for r in records]),
        domains=np.array([r["source"].split("/")[-1] for r in records]),
    )


def fit(f: Features, rows: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    """Kind weights and intercept of the offset logistic regression on ``rows``."""
    rows = rows & ~f.skipped
    x, y = f.fired[rows], f.labels[rows]
    s = np.clip(f.support[rows], CLIP, 1 - CLIP)
    offset, sign, k = np.log(s / (1 - s)), 2.0 * y - 1.0, x.shape[1]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        margin = sign * (x @ theta[:k] + theta[k] + offset)
        slope = -sign * expit(-margin)  # d loss / d logit
        value = np.logaddexp(0.0, -margin).sum() + theta[:k] @ theta[:k] / (2 * c)
        return float(value), np.append(x.T @ slope + theta[:k] / c, slope.sum())

    result = minimize(loss, np.zeros(k + 1), jac=True, method="L-BFGS-B")
    if not result.success:
        raise RuntimeError(f"the offset logistic regression did not converge: {result.message}")
    return result.x[:k], float(result.x[k])


def scored(f: Features, w: np.ndarray) -> np.ndarray:
    """The evaluator's scores with kind weights ``w``; skipped answers rank as 0.5."""
    weights = Weights(dict(zip(KINDS, map(float, w), strict=True)))
    return np.array([
        0.5 if skip else weights.apply(s, [k for k, on in zip(KINDS, row, strict=True) if on])
        for s, row, skip in zip(f.support, f.fired, f.skipped, strict=True)
    ])  # fmt: skip


def lodo(f: Features, rows: np.ndarray, c: float) -> np.ndarray:
    """Scores of ``rows``, each domain's with weights fitted on the others in ``rows``."""
    out = np.full(len(f.labels), np.nan)
    for domain in sorted(set(f.domains[rows])):
        held = rows & (f.domains == domain)
        w, _ = fit(f, rows & ~held, c)
        out[held] = scored(f, w)[held]
    return out


def choose_c(f: Features, rows: np.ndarray) -> float:
    """The ``GRID`` value with the best pooled LODO ROC-AUC over ``rows`` (smallest on ties)."""
    aucs = [auc(f.labels[rows], lodo(f, rows, c)[rows]) for c in GRID]
    return GRID[int(np.argmax(aucs))]


def held_out(f: Features) -> tuple[np.ndarray, dict[str, float]]:
    """Nested LODO: each domain scored with weights fitted on the other domains, ``C``
    chosen by LODO among them. Returns the scores and each domain's ``C``."""
    out, chosen = np.full(len(f.labels), np.nan), {}
    for domain in sorted(set(f.domains)):
        held = f.domains == domain
        chosen[str(domain)] = choose_c(f, ~held)
        w, _ = fit(f, ~held, chosen[str(domain)])
        out[held] = scored(f, w)[held]
    return out, chosen


def auc(labels: np.ndarray, values: np.ndarray) -> float:
    return roc_auc(labels.tolist(), values.tolist())


def figure(labels: np.ndarray, values: np.ndarray) -> dict[str, Any]:
    low, high = roc_auc_interval(labels.tolist(), values.tolist())
    return {"roc_auc": round(auc(labels, values), 3),
            "interval": [round(low, 3), round(high, 3)]}  # fmt: skip


def _cell(fig: dict[str, Any]) -> str:
    low, high = fig["interval"]
    return f"{fig['roc_auc']:.3f} [{low:.2f}, {high:.2f}]"


def compare(records: Sequence[dict], f: Features, ours: np.ndarray) -> dict[str, Any]:
    """Figures of ``ours`` beside minilm-2 and the trivial baselines, overall and per domain
    (SummEdits; HaluEval has one)."""
    columns = {
        "minilm-3": ours,
        "minilm-2": np.where(f.skipped, 0.5, f.support),
        "word overlap": np.array(
            [word_overlap(r["answer"], " ".join(r["contexts"])) for r in records]
        ),
        "answer shortness": np.array([-float(len(r["answer"])) for r in records]),
    }
    parts = {"all": np.ones(len(records), dtype=bool)}
    if len(set(f.domains)) > 1:
        parts |= {str(d): f.domains == d for d in sorted(set(f.domains))}
    return {
        part: {"n": int(rows.sum())}
        | {name: figure(f.labels[rows], values[rows]) for name, values in columns.items()}
        for part, rows in parts.items()
    }


def print_table(title: str, figures: dict[str, Any]) -> None:
    names = ("minilm-3", "minilm-2", "word overlap", "answer shortness")
    print(f"\n{title}")
    print(f"{'part':<18}" + "".join(f"{n:<24}" for n in names))
    for part, row in figures.items():
        label = f"{part} ({row['n']})"
        print(f"{label:<18}" + "".join(f"{_cell(row[n]):<24}" for n in names))


def ablation(train: Features, check: Features) -> dict[str, dict[str, float]]:
    """SummEdits nested LODO and HaluEval ROC-AUC with all kinds, and with each left out."""
    out = {}
    for left_out in (None, *KINDS):
        keep = np.array([k != left_out for k in KINDS], dtype=float)  # its column all 0
        tr, ch = replace(train, fired=train.fired * keep), replace(check, fired=check.fired * keep)
        everything = np.ones(len(tr.labels), dtype=bool)
        w, _ = fit(tr, everything, choose_c(tr, everything))
        out[f"without {left_out}" if left_out else "all four kinds"] = {
            "summedits_lodo": round(auc(tr.labels, held_out(tr)[0]), 3),
            "halueval": round(auc(ch.labels, scored(ch, w)), 3),
        }
    return out


def _dumps(result: dict[str, Any]) -> str:
    """JSON with each innermost list or object (an interval, a figure) on one line."""
    text = json.dumps(result, indent=1)
    for innermost in (r"\[[^\[\]{}]*\]", r"\{[^{}]*\}"):
        text = re.sub(innermost, lambda m: re.sub(r"\s*\n\s*", " ", m.group(0)), text)
    return text


def run(write: bool = True) -> dict[str, Any] | None:
    if not DATA.is_dir():
        print(
            f"bench.train_groundedness skipped: no shared data at {DATA} (the SummEdits and "
            "HaluEval dev sets live there; nothing was trained or written)",
            file=sys.stderr,
        )
        return None
    from evaluators import Resources
    from evaluators.groundedness import Groundedness
    from evaluators.providers import MiniLMProvider
    from vigil.embeddings import load_embeddings

    evaluator = Groundedness(Resources(MiniLMProvider(load_embeddings())),
                             weights=Weights(dict.fromkeys(KINDS, 0.0)))  # fmt: skip
    sets = {}
    for name in (TRAIN, CHECK):
        records = load(name)
        scores = evaluator.evaluate([dev_trace(i, r) for i, r in enumerate(records)])
        sets[name] = (records, features(records, scores))
    (train_records, train), (check_records, check) = sets[TRAIN], sets[CHECK]
    everything = np.ones(len(train.labels), dtype=bool)
    c = choose_c(train, everything)
    w, b = fit(train, everything, c)
    lodo_scores, lodo_c = held_out(train)
    result: dict[str, Any] = {
        "evaluator": "groundedness",
        "version": "minilm-3",
        "weights": {k: round(float(v), 4) for k, v in zip(KINDS, w, strict=True)},
        "intercept": round(b, 4),
        "intercept_note": "fitted with the weights, left out of the score (no change of ranking)",
        "C": c,
        "C_grid": list(GRID),
        "model": "offset logistic regression: logit P(grounded) = logit(clip(support, 1e-3, "
                 "1 - 1e-3)) + intercept + sum_k weight_k * fired_k; L2 |w|^2 / 2C on the weights",
        "trained_on": f"SummEdits dev ({TRAIN}), {len(train_records)} summaries, "
                      f"{len(set(train.domains))} domains",
        "date": datetime.date.today().isoformat(),
        "summedits_lodo_C": lodo_c,
        "summedits_lodo": compare(train_records, train, lodo_scores),
        "halueval_holdout": compare(check_records, check, scored(check, w)),
    }  # fmt: skip
    print(
        f"weights (C={c}, intercept {b:+.2f}, not used): "
        + ", ".join(f"{k} {v:+.2f}" for k, v in result["weights"].items())
    )
    print(f"C chosen per held-out domain: {lodo_c}")
    print_table("SummEdits, each domain held out (nested LODO)", result["summedits_lodo"])
    print_table("HaluEval QA, never fitted on (weights from all of SummEdits)",
                result["halueval_holdout"])  # fmt: skip
    result["ablation"] = ablation(train, check)
    print("\nablation (ROC-AUC: SummEdits nested LODO / HaluEval)")
    for name, row in result["ablation"].items():
        print(f"  {name:<22} {row['summedits_lodo']:.3f} / {row['halueval']:.3f}")
    if write:
        OUTPUT.write_text(_dumps(result) + "\n", encoding="utf-8")
        print(f"\nwrote {OUTPUT}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="print, do not write the weights")
    run(write=not parser.parse_args().dry_run)
