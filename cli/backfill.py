"""``vigil backfill``: evaluate a past date range; ``vigil evaluators``: list evaluators."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from cli import orchestration
from cli.common import date_option, settings_from, settings_options, utc
from vigil.db import connect, database_url, migrate
from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.settings import Settings
from vigil.store import runs


@click.command()
@date_option(
    "--start",
    "First instant, included (UTC unless it carries an offset), e.g. 2026-11-01.",
    required=True,
)
@date_option("--end", "Last instant, excluded, e.g. 2026-11-08.", required=True)
@click.option("--app", default=None, help="Only this application's traces.")
@click.option(
    "--evaluator",
    "evaluators",
    multiple=True,
    help="Evaluator to run (repeatable; default: the default set, marked * by `vigil evaluators`).",
)
@click.option(
    "--sample-rate",
    type=click.FloatRange(0, 1),
    default=None,
    help="Share of traces to take by hash, instead of each app's policy rate (its always-"
    "include rules and cap still apply; see `vigil sampling`).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print how many traces would be evaluated and the judge cost estimate; run nothing.",
)
@click.option(
    "--parallel",
    type=click.IntRange(1, 256),
    default=None,
    help="On a work pool: chunk runs in flight at once, on any worker "
    "(default VIGIL_BACKFILL_PARALLEL, 4).",
)
@click.option(
    "--local",
    is_flag=True,
    help="Run every chunk in this process, one after another, instead of on the "
    "`backfill` deployment (no Prefect server needed).",
)
@settings_options
def backfill(
    start: datetime,
    end: datetime,
    app: str | None,
    evaluators: tuple[str, ...],
    sample_rate: float | None,
    dry_run: bool,
    parallel: int | None,
    local: bool,
    home: str | None,
    db_url: str | None,
) -> None:
    """Score the traces of [START, END) that are not scored yet, a day (or
    VIGIL_BACKFILL_CHUNK_HOURS) at a time.

    By default this triggers the `backfill` deployment, so the run and its per-day runs
    show in the Prefect UI; it waits and shows progress. Deployed to a work pool (`vigil
    deploy`), each day is a run of `evaluate-window` that any worker of the pool takes,
    --parallel at once, and a day whose worker died is run again on another. Served by
    `vigil up`, the days run one after another in the backfill's process. Scores already
    stored are kept, so a backfill can be re-run safely after an interruption.
    """
    settings = settings_from(home, db_url)
    start, end = utc(start), utc(end)
    if end <= start:
        raise VigilError(
            f"--end ({end:%Y-%m-%d %H:%M}) must be after --start ({start:%Y-%m-%d %H:%M})."
        )
    params: dict[str, Any] = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "app": app,
        "evaluators": list(evaluators) or None,
        "sample_rate": sample_rate,
        "parallel": parallel,
    }
    url = database_url(settings, start=True)
    with connect(url, autocommit=True) as conn:
        migrate(conn)
        if dry_run:
            click.echo(_dry_run(conn, settings, start, end, app, list(evaluators), sample_rate))
            return
    chunks = _chunks(start, end, settings.backfill_chunk_hours)
    result = run_backfill(settings, url, params, local=local, days=chunks)
    click.echo(result)


def run_backfill(
    settings: Settings, url: str, params: dict[str, Any], *, local: bool, days: int
) -> str:
    """Run the backfill (deployment or in-process) with a progress bar; returns a summary."""
    orchestration.use_prefect_server(settings, required=not local)
    since = datetime.now(UTC) - timedelta(seconds=1)
    with (
        Progress(
            TextColumn("[bold]backfill"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} chunks"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
        ) as progress,
        connect(url, autocommit=True) as conn,
    ):
        task = progress.add_task("backfill", total=days, detail="starting")

        def tick(state: str) -> None:
            totals = runs.progress_since(conn, since)
            done = runs.finished_since(conn, since, kind="backfill", status="completed")
            progress.update(
                task,
                completed=min(done, days),
                detail=f"{totals['done']} traces evaluated, {state}",
            )

        if local:
            outcome = _run_local(params, tick)
        else:
            flow_run_id = orchestration.trigger(orchestration.BACKFILL_DEPLOYMENT, params)
            final = orchestration.wait(flow_run_id, lambda s: tick(s.state.lower()))
            if not final.ok:
                raise VigilError(f"backfill run {final.name} ended {final.state}: {final.message}")
            outcome = f"flow run {final.name} completed"
        tick("done")
    totals = _summary(url, since)
    return f"{outcome}: {totals}"


def _run_local(params: dict[str, Any], tick: Any) -> str:
    from flows.backfill import backfill as backfill_flow

    result: dict[str, Any] = {}
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.update(
                backfill_flow(
                    start=datetime.fromisoformat(params["start"]),
                    end=datetime.fromisoformat(params["end"]),
                    app=params["app"],
                    evaluators=params["evaluators"],
                    sample_rate=params["sample_rate"],
                    local=True,
                )
            )
        except BaseException as err:  # re-raised in the main thread
            error.append(err)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    while worker.is_alive():
        tick("running")
        worker.join(1.0)
    if error:
        raise error[0]
    return "local run completed"


def _dry_run(
    conn: Conn,
    settings: Settings,
    start: datetime,
    end: datetime,
    app: str | None,
    names: list[str],
    sample_rate: float | None,
) -> str:
    """What the backfill would evaluate and what its judge calls would cost."""
    from evaluators import DEFAULT_EVALUATORS, build
    from evaluators.judge_base import JudgeEvaluator
    from flows.planning import CHARS_PER_TOKEN, PROMPT_TOKENS, REPLY_TOKENS, estimate
    from flows.resources import naming_resources
    from flows.windows import days

    built = build(names or list(DEFAULT_EVALUATORS), naming_resources(settings),
                  settings.extra_evaluator_paths)  # fmt: skip
    judged = [e for e in built if isinstance(e, JudgeEvaluator) and e.resources.judge]
    found = estimate(
        conn,
        settings,
        list(days(start, end)),
        app,
        [(e.name, e.version) for e in built],
        len(judged),
        sample_rate,
    )
    why = ", ".join(f"{n} {r}" for r, n in sorted(found.reasons.items())) or "none"
    lines = [
        f"dry run: {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC, "
        f"{_chunks(start, end, 24)} day(s), evaluators: {', '.join(e.name for e in built)}",
        f"  {found.traces} complete traces in range ({found.incomplete} not complete yet)",
        f"  {found.picked} to evaluate, picked by the sampling policies and not scored yet ({why})",
    ]
    if not judged:
        lines.append("  judge cost: $0 (local evaluators only, no judge calls)")
    else:
        cost = "unknown: set VIGIL_JUDGE_INPUT_USD_PER_MTOK and VIGIL_JUDGE_OUTPUT_USD_PER_MTOK"
        if found.cost_usd is not None:
            cost = f"about ${found.cost_usd:,.2f}"
        lines += [
            f"  judge: {found.judge_calls:,} calls, about {found.judge_tokens:,} tokens; "
            f"cost {cost}",
            f"  (estimate: the trace's text at {CHARS_PER_TOKEN} characters a token plus "
            f"{PROMPT_TOKENS} prompt tokens in, {REPLY_TOKENS} out, per call)",
        ]
    lines.append("nothing was run; drop --dry-run to start")
    return "\n".join(lines)


def _summary(url: str, since: datetime) -> str:
    with connect(url, autocommit=True) as conn:
        t = runs.totals_since(conn, since)
    return (
        f"{t['traces']} traces, {t['scored']} scored, {t['skipped']} skipped, "
        f"{t['errors']} errors, judge ${t['cost_usd']:.4f}, {t['regressions']} regression(s) found"
    )


def _chunks(start: datetime, end: datetime, hours: int) -> int:
    from flows.windows import chunks

    return len(list(chunks(start, end, hours)))


@click.command("evaluators")
def evaluators_cmd() -> None:
    """List the evaluators available (built-ins, installed plugins and VIGIL_EXTRA_EVALUATORS);
    * marks the default set that scheduled runs and backfills use."""
    import sys

    from evaluators import DEFAULT_EVALUATORS, available
    from vigil.settings import load_settings

    for name, cls in sorted(available(load_settings().extra_evaluator_paths).items()):
        needs = ", ".join(sorted(cls.needs)) or "-"
        doc = cls.__doc__ or sys.modules[cls.__module__].__doc__ or ""
        summary = doc.strip().splitlines()[0] if doc.strip() else ""
        mark = "*" if name in DEFAULT_EVALUATORS else " "
        click.echo(f"{mark} {name:24} v{cls.version:12} needs {needs:32} {summary}")
