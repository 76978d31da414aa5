"""``vigil retention``: how long traces and scores are kept, what is partitioned, and the
drop of what is older (the work of the ``retention`` flow, see :mod:`flows.pruning`)."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime

import click

from cli.common import open_db, settings_from, settings_options
from flows.pruning import run_retention
from vigil import retention
from vigil.retention import Policy, parse_keep
from vigil.store import partitions
from vigil.store import retention as store


@click.group("retention")
def retention_cmd() -> None:
    """Keep traces and scores for a time, then drop them a week at a time.

    \b
    Traces, spans, retrievals and scores are partitioned by week (of the trace's start).
    The `retention` deployment (daily, VIGIL_RETENTION_CRON) drops whole partitions: traces
    with their spans and retrievals at --traces, scores at --scores. Before a week of traces
    drops, its scores are rolled up per day and segment, so charts and baselines reach back
    as far as scores are kept. Labelled review items stay.
    """


@retention_cmd.command("set")
@click.option("--traces", "traces", default=None, help="Keep traces this long: 30d, or forever.")
@click.option("--scores", "scores", default=None, help="Keep scores this long: 400d, or forever.")
@click.option(
    "--partition-days",
    type=click.IntRange(1, 35),
    default=None,
    help="Width of the partitions made from now on (default 7).",
)
@settings_options
def set_cmd(
    traces: str | None,
    scores: str | None,
    partition_days: int | None,
    home: str | None,
    db_url: str | None,
) -> None:
    """Set the retention; options not given keep their value. Refused when it would drop
    what Vigil still reads (the detector's baseline, the longest SLO period), or scores
    before their traces."""
    settings = settings_from(home, db_url)
    with open_db(home, db_url) as conn:
        current = store.get_policy(conn)
        policy = Policy(
            current.traces_days if traces is None else parse_keep(traces, "--traces"),
            current.scores_days if scores is None else parse_keep(scores, "--scores"),
            current.partition_days if partition_days is None else partition_days,
        )
        retention.validate(policy, retention.needs_of(settings))
        store.set_policy(conn, policy, getpass.getuser())
        planned = store.plan(conn, policy, datetime.now(UTC))
    for line in policy.describe():
        click.echo(line)
    for data, ranges in (("traces", planned.traces), ("scores", planned.scores)):
        if ranges:
            click.echo(
                f"the next run drops the {data} of {len(ranges)} partition(s), "
                f"{ranges[0].lo:%Y-%m-%d} .. {ranges[-1].hi:%Y-%m-%d}"
            )


@retention_cmd.command()
@settings_options
def show(home: str | None, db_url: str | None) -> None:
    """The policy, what is kept, the partitions (rows estimated, size) and the last drops."""
    with open_db(home, db_url) as conn:
        policy = store.get_policy(conn)
        changes = store.policy_changes(conn)
        kept = partitions.kept_from(conn)
        sizes = partitions.sizes(conn)
        drops = store.last_drops(conn)
    for line in policy.describe():
        click.echo(line)
    for row in changes:
        when = f"{row['updated_at']:%Y-%m-%d %H:%M}"
        click.echo(f"  {row['data']} set by {row['updated_by']}, {when}")
    for data in retention.DATA:
        since = kept[data]
        click.echo(f"{data} held since: " + ("the first one stored" if since is None else
                                             f"{since:%Y-%m-%d}"))  # fmt: skip
    click.echo(f"partitions (width for new ones: {policy.partition_days} days):")
    for row in sizes:
        click.echo(
            f"  {row['partition']:28} {row['lo']:%Y-%m-%d} .. {row['hi']:%Y-%m-%d}"
            f"  ~{row['rows_estimate']} rows  {_size(int(row['bytes']))}"
        )
    if drops:
        click.echo("last drops:")
    for row in drops:
        click.echo(
            f"  {row['at']:%Y-%m-%d %H:%M} {row['data']} of {row['lo']:%Y-%m-%d} .. "
            f"{row['hi']:%Y-%m-%d} ({row['run'] or '?'}): {row['rows']}"
        )


@retention_cmd.command()
@click.option("--dry-run", is_flag=True, help="Only say what would be dropped.")
@settings_options
def run(dry_run: bool, home: str | None, db_url: str | None) -> None:
    """Make the next partitions and drop what the policy says now (the retention
    deployment's work, in this process)."""
    with open_db(home, db_url) as conn:
        needs = retention.needs_of(settings_from(home, db_url))
        outcome = run_retention(conn, datetime.now(UTC), dry_run=dry_run, run="cli", needs=needs)
    for line in outcome.lines(dry_run):
        click.echo(line)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n //= 1024
    return f"{n} TB"
