"""``vigil regressions``: what got worse, which segment explains it, and the evidence."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import click

from cli.common import open_db, settings_from, settings_options
from vigil.store import regressions as reg_store

STATUS = click.Choice(reg_store.STATUSES)


def _metric(r: dict[str, Any]) -> str:
    return r["metric"] + (f":{r['evaluator']}" if r["evaluator"] else "")


def _segment(r: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in r["segment"].items()) or "whole app"


@click.group(invoke_without_command=True)
@click.option("--app", default=None, help="Only this application's regressions.")
@click.option("--status", type=STATUS, default=None, help="Only open, acknowledged or resolved.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1), help="Rows.")
@settings_options
@click.pass_context
def regressions(
    ctx: click.Context,
    app: str | None,
    status: str | None,
    limit: int,
    home: str | None,
    db_url: str | None,
) -> None:
    """List regressions, most recently seen first: the metric, the segment, how much worse,
    the q-value and the segment that explains most of the change.

    A regression is one row per app, metric, evaluator version and segment: later windows
    of the same incident update it, VIGIL_DETECT_RESOLVE_WINDOWS clean windows resolve it,
    and it reopens if it comes back. `vigil regressions show ID` prints one in full.
    """
    if ctx.invoked_subcommand is not None:
        return
    with open_db(home, db_url) as conn:
        rows = reg_store.list_regressions(conn, app=app, status=status, limit=limit)
    if not rows:
        click.echo("no regressions" + (f" with status {status}" if status else ""))
        return
    click.echo(
        f"{'id':>5}  {'status':12} {'app':16} {'metric':28} {'segment':24} "
        f"{'worse by':>9} {'q':>8}  {'last seen':16}  explained by"
    )
    for r in rows:
        worse = f"{r['effect']:.0%}" if r["evidence"].get("relative") else f"{r['effect']:.3f}"
        top = (r["attribution"] or [{}])[0].get("text", "")
        click.echo(
            f"{r['id']:>5}  {r['status']:12} {r['app'][:16]:16} {_metric(r)[:28]:28} "
            f"{_segment(r)[:24]:24} {worse:>9} {r['q_value'] or 0:>8.2g}  "
            f"{r['last_seen']:%Y-%m-%d %H:%M}  {top}"
        )


@regressions.command()
@click.argument("regression_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the stored row as JSON.")
@settings_options
def show(regression_id: int, as_json: bool, home: str | None, db_url: str | None) -> None:
    """Print one regression: its test, before and after distributions, attribution,
    for cost and tokens what grew, and links to the traces it queued for review."""
    with open_db(home, db_url) as conn:
        r = reg_store.get_regression(conn, regression_id)
        examples = [e["trace_id"] for e in reg_store.example_traces(conn, regression_id, 5)]
    if as_json:
        click.echo(json.dumps(r, default=str, indent=2))
        return
    ev = r["evidence"]
    click.echo(f"#{r['id']} {r['app']}  {_metric(r)} {r['evaluator_version']}  [{r['status']}]")
    click.echo(f"  {r['headline']}")
    click.echo(f"  segment: {_segment(r)}")
    click.echo(
        f"  seen {r['first_seen']:%Y-%m-%d %H:%M} .. {r['last_seen']:%Y-%m-%d %H:%M}; "
        f"clean windows since: {r['clean_windows']}; reopened {r['reopened']} time(s)"
    )
    click.echo(
        f"  test: {ev.get('test', '?')} against {ev.get('against', 'its baseline')}; "
        f"p = {r['p_value']:.3g}, q = {r['q_value']:.3g}, effect = {r['effect']:.4g}"
    )
    for side in ("baseline", "window"):
        part = ev.get(side, {})
        qs = "  ".join(f"{k} {v:.4g}" for k, v in part.get("quantiles", {}).items())
        click.echo(f"  {side:8}  n = {part.get('n', '?'):>6}  {qs}")
    if r["attribution"]:
        click.echo("  explained by:")
        for a in r["attribution"]:
            click.echo(f"    {a['text']} (traffic {a['traffic']:.0%})")
    for c in ev.get("clusters", []):
        click.echo(f"  new questions ({c['size']}): " + " | ".join(c["examples"]))
    growth = ev.get("growth")
    if growth:
        sizes = growth["sizes"]
        click.echo(f"  the {growth['grew']} grew: " + ", ".join(
            f"{name} {_num(before)} -> {_num(after)}"
            for name, (before, after) in sizes.items()
        ))  # fmt: skip
        for c in growth["changed"]:
            shift = f"{c['before']:.0%} -> {c['after']:.0%}"
            click.echo(f"    {c['key']}={c['value']}: {shift} of traffic")
    if examples:
        ui = settings_from(home, db_url).ui_address
        click.echo("  traces to look at (worst first):")
        for trace_id in examples:
            click.echo(f"    {ui}/traces?trace={quote(trace_id)}")


@regressions.command()
@click.argument("regression_id", type=int)
@click.option("--by", required=True, help="Who acknowledges it (recorded with the time).")
@settings_options
def ack(regression_id: int, by: str, home: str | None, db_url: str | None) -> None:
    """Acknowledge an open regression: it stays until it resolves on its own, and it
    reopens if it comes back after resolving."""
    with open_db(home, db_url) as conn:
        reg_store.acknowledge(conn, regression_id, by)
        status = reg_store.get_regression(conn, regression_id)["status"]
    click.echo(f"regression #{regression_id} is {status}")


def _num(value: float | None) -> str:
    return "?" if value is None else f"{value:.4g}"
