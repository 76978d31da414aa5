"""``vigil runs``: recent evaluation runs; ``vigil evaluate --trace``: score one trace now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import click

from cli.common import open_db, settings_from, settings_options
from vigil.errors import VigilError
from vigil.models import Score
from vigil.store import explorer, traces
from vigil.store import runs as run_store

STALLED_AFTER = timedelta(minutes=30)  # a running run with no progress this long is shown so


@click.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1), help="Runs.")
@settings_options
def runs(limit: int, home: str | None, db_url: str | None) -> None:
    """List recent evaluation runs, newest first: scheduled windows, backfill days and ad
    hoc runs, with their traces, scores, skips, errors and judge cost, and a link to a
    trace a run points at (one whose evaluation errored, or the one an ad hoc run scored)."""
    with open_db(home, db_url) as conn:
        rows = run_store.recent_runs(conn, limit)
        examples = explorer.run_examples(conn, [r["id"] for r in rows])
    ui = settings_from(home, db_url).ui_address
    if not rows:
        click.echo("no runs yet: `vigil up` schedules them, `vigil backfill` starts one")
        return
    click.echo(
        f"{'id':>5}  {'kind':8} {'window (UTC)':33} {'status':10} {'traces':>13} "
        f"{'scored':>7} {'skipped':>7} {'errors':>6} {'judge $':>8}  message"
    )
    now = datetime.now(UTC)
    for r in rows:
        status = r["status"]
        if status == "running" and now - r["updated_at"] > STALLED_AFTER:
            status = "stalled"  # killed, most likely: its claims were released with it
        window = f"{r['window_start']:%Y-%m-%d %H:%M} .. {r['window_end']:%Y-%m-%d %H:%M}"
        done = f"{r['traces_done']}/{r['traces_total']}"
        click.echo(
            f"{r['id']:>5}  {r['kind']:8} {window:33} {status:10} {done:>13} "
            f"{r['scored']:>7} {r['skipped']:>7} {r['errors']:>6} {r['cost_usd']:>8.4f}  "
            f"{r['message'] or ''}"
            + (f"  {ui}/traces?trace={quote(examples[r['id']])}" if r["id"] in examples else "")
        )


@click.command()
@click.option("--trace", "trace_id", required=True, help="Id of the trace to score.")
@click.option(
    "--evaluator",
    "evaluators",
    multiple=True,
    help="Evaluator to run (repeatable; default: the default set).",
)
@click.option("--no-store", is_flag=True, help="Print the scores without storing them.")
@settings_options
def evaluate(
    trace_id: str, evaluators: tuple[str, ...], no_store: bool, home: str | None, db_url: str | None
) -> None:
    """Score one trace now, in this process, and print each evaluator's result.

    The scores are stored unless --no-store; a final score already stored for the same
    evaluator version is kept (scores are stored once per trace, evaluator and version),
    and the stored one is what `vigil runs` and the app show.
    """
    from evaluators import DEFAULT_EVALUATORS, build
    from flows.evaluation import evaluate_batch
    from flows.resources import build_resources

    settings = settings_from(home, db_url)
    with open_db(home, db_url) as conn:
        found = traces.load_traces(conn, [trace_id])
        if not found:
            raise VigilError(
                f"no trace with id {trace_id!r} in this database; check the id (the Traces "
                "page of the app lists them) and --database-url"
            )
        trace = found[0]
        names = list(evaluators or DEFAULT_EVALUATORS)
        run_id = None
        if not no_store:
            run_id = run_store.start_run(
                conn,
                kind="adhoc",
                window_start=trace.start_time,
                window_end=trace.start_time + timedelta(microseconds=1),
                evaluators=names,
                app=trace.app,
                traces_total=1,
            )
        outcome = evaluate_batch(
            conn,
            [trace.id],
            build(names, build_resources(settings, conn, run_id), settings.extra_evaluator_paths),
            run_id,
            settings.eval_max_attempts,
            rescore=True,  # print every evaluator's result; a stored final score is kept
            store=not no_store,
            report=lambda row: click.echo(
                f"{row.evaluator:24} v{row.evaluator_version:12} {_result(row.score)}"
            ),
        )
        if run_id is None:
            return
        run_store.finish_run(conn, run_id, "completed", f"trace {trace.id}")
    rows = outcome.scored + outcome.skipped + outcome.errors
    kept = rows - outcome.written
    click.echo(
        f"stored {outcome.written} score(s)"
        + (f"; kept {kept} final score(s) already stored for these versions" if kept else ""),
        err=True,
    )


def _result(score: Score) -> str:
    if score.status != "scored":
        return f"{score.status:8} {score.explanation}"
    if score.value is not None:
        shown = f"{score.value:.3f}"
    elif score.measure is not None:
        shown = f"{score.measure:g} {score.metadata.get('unit', '')}".strip()
    else:
        shown = str(score.label)
    return f"{'scored':8} {shown:10} {(score.explanation or '')[:120]}"
