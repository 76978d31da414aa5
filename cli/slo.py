"""``vigil slo``: service level objectives on quality, cost and latency (:mod:`vigil.slo`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from cli.common import open_db, settings_from, settings_options
from vigil.errors import VigilError
from vigil.slo import SLO, Burn, budget_left, load
from vigil.store import slo as slo_store
from vigil.store.traces import trace_apps


@click.group()
def slo() -> None:
    """Service level objectives: each counts good traces (a score at or above a threshold,
    a measure below a bound) against a target over a window, with an error budget and
    multiwindow burn-rate alerts. The file is VIGIL_SLO_FILE (infra/slo.example.yaml)."""


def _file(path: str | None, settings_file: Path | None) -> Path:
    chosen = Path(path) if path else settings_file
    if chosen is None:
        raise VigilError("no SLO file: pass FILE or set VIGIL_SLO_FILE (infra/slo.example.yaml)")
    return chosen


@slo.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--apps/--no-apps", default=True, show_default=True,
              help="Check that each app has traces (needs the database).")  # fmt: skip
@settings_options
def check(file: str, apps: bool, home: str | None, db_url: str | None) -> None:
    """Validate FILE: its fields, the evaluators it names and (with --apps) its apps.
    Runs no evaluation; exits 1 with one line naming the file, the SLO and the field."""
    from evaluators import available

    known_apps = None
    if apps:
        with open_db(home, db_url) as conn:
            known_apps = set(trace_apps(conn))
    extra = settings_from(home, db_url).extra_evaluator_paths
    parsed = load(file, evaluators=set(available(extra)), apps=known_apps)
    click.echo(f"{file}: {len(parsed.slos)} SLO(s) valid")
    for s in parsed.slos:
        click.echo(f"  {s.name}: {s.describe()}")


@slo.command()
@click.option("--file", "path", default=None, help="The SLO file [env VIGIL_SLO_FILE].")
@settings_options
def status(path: str | None, home: str | None, db_url: str | None) -> None:
    """Each SLO's SLI over its window, error budget left, and burn rate over each alert
    window pair, now."""
    settings = settings_from(home, db_url)
    parsed = load(_file(path, settings.slo_file))
    now = datetime.now(UTC)
    with open_db(home, db_url) as conn:
        for s in parsed.slos:
            good, total = slo_store.over_period(conn, s, now)
            click.echo(_line(s, good, total, slo_store.burns(conn, s, parsed.burn_alerts, now)))


def _line(s: SLO, good: int, total: int, burns: list[Burn]) -> str:
    if total == 0:
        return f"{s.name}: no events in the last {s.window} ({s.describe()})"
    left = budget_left(s, good, total)
    rates = ", ".join(
        f"{b.pair.long}/{b.pair.short} {_rate(b.long_rate)}/{_rate(b.short_rate)}"
        + (f" FIRING ({b.pair.severity}, >= {b.pair.factor:g}x)" if b.firing else "")
        for b in burns
    )
    return (f"{s.name}: SLI {good / total:.4f} ({good}/{total}) against {s.target:g} over "
            f"{s.window}; budget left {left:.0%}; burn {rates}")  # fmt: skip


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1f}x"
