"""``vigil compare``: a canary segment against its control, over the same window."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import click

from cli.common import date_option, open_db, settings_from, settings_options, utc
from flows.canaries import compare_live
from flows.detection import Policy
from vigil.detection.compare import MetricVerdict
from vigil.errors import VigilError

WORSE_EXIT = 3  # 1 is a mistake in the command; 3 says the canary is worse


def parse_segment(text: str, option: str) -> dict[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise VigilError(f"{option} {text!r} is not KEY=VALUE; e.g. {option} prompt_version=v4")
    return {key.strip(): value.strip()}


@click.command()
@click.option("--app", required=True, help="The application whose traffic is compared.")
@click.option(
    "--segment",
    "canary",
    required=True,
    help="The canary, KEY=VALUE: prompt_version=v4, model=gpt-4o, route=billing ...",
)
@click.option(
    "--against", "control", required=True, help="The control, KEY=VALUE, live meanwhile."
)
@date_option(
    "--start",
    "First instant, included (UTC unless it has an offset); default: a day before --end.",
)
@date_option("--end", "Last instant, excluded; default: now.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="markdown for a pull request comment, json for CI.",
)
@settings_options
def compare(
    app: str,
    canary: str,
    control: str,
    start: datetime | None,
    end: datetime | None,
    fmt: str,
    home: str | None,
    db_url: str | None,
) -> None:
    """Compare a canary segment with its control over the same window, metric by metric:
    each evaluator's score and below-threshold rate, cost, tokens, latency p95, errors.

    Each metric gets a verdict (worse, better, or no detectable difference) from the
    detector's tests with its false-discovery rate and effect floors
    (VIGIL_DETECT_FDR, VIGIL_DETECT_FLOORS), the effect with a 95% bootstrap interval,
    and the traces per side needed to detect the floor. Exits 3 when any metric is worse.
    """
    a, b = parse_segment(canary, "--segment"), parse_segment(control, "--against")
    stop = utc(end) if end else datetime.now(UTC)
    begin = utc(start) if start else stop - timedelta(days=1)
    if stop <= begin:
        raise VigilError(f"--end {stop:%Y-%m-%d %H:%M} is not after --start {begin:%Y-%m-%d %H:%M}")
    policy = Policy.from_settings(settings_from(home, db_url))
    with open_db(home, db_url) as conn:
        verdicts = compare_live(conn, app, a, b, begin, stop, policy)
    title = f"{app}: {canary} against {control}, {begin:%Y-%m-%d %H:%M} .. {stop:%Y-%m-%d %H:%M}"
    click.echo({"text": _text, "markdown": _markdown, "json": _json}[fmt](title, verdicts))
    if any(v.verdict == "worse" for v in verdicts):
        sys.exit(WORSE_EXIT)


def _effect(v: MetricVerdict) -> str:
    relative = v.metric in ("cost_per_request", "input_tokens", "output_tokens", "latency_p95")
    if relative:
        return f"{v.interval[0]:+.1%} .. {v.interval[1]:+.1%}"
    return f"{v.interval[0]:+.3f} .. {v.interval[1]:+.3f}"


def _rows(verdicts: list[MetricVerdict]) -> list[tuple[str, ...]]:
    return [
        (v.name, v.verdict, f"{v.control:.4g} -> {v.canary:.4g}", _effect(v),
         f"{v.q_worse:.2g}", f"{v.n_canary}/{v.n_control}",
         "?" if v.n_needed is None else str(v.n_needed))
        for v in verdicts
    ]  # fmt: skip


HEADER = ("metric", "verdict", "control -> canary", "95% interval", "q (worse)", "n canary/control",
          "n needed per side")  # fmt: skip


def _text(title: str, verdicts: list[MetricVerdict]) -> str:
    rows = [HEADER, *_rows(verdicts)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = [title] + ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def _markdown(title: str, verdicts: list[MetricVerdict]) -> str:
    lines = [f"**{title}**", "", "| " + " | ".join(HEADER) + " |",
             "|" + "---|" * len(HEADER)]  # fmt: skip
    lines += ["| " + " | ".join(r) + " |" for r in _rows(verdicts)]
    return "\n".join(lines)


def _json(title: str, verdicts: list[MetricVerdict]) -> str:
    worse = [v.name for v in verdicts if v.verdict == "worse"]
    metrics = [asdict(v) | {"name": v.name} for v in verdicts]
    return json.dumps({"comparison": title, "worse": worse, "metrics": metrics}, indent=2)
