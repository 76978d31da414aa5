"""``vigil sampling``: each app's sampling policy (see :mod:`vigil.sampling`)."""

from __future__ import annotations

import getpass
from typing import Any

import click
from pydantic import ValidationError

from cli.common import open_db, settings_from, settings_options
from vigil.errors import VigilError
from vigil.sampling import SamplingPolicy, default_policy
from vigil.store import sampling as store


@click.group()
def sampling() -> None:
    """Which traces scheduled runs and backfills evaluate, per app.

    \b
    A trace is picked when the user gave a thumbs-down, the app reported an error, its
    latency or cost is an outlier of the window, it is among the first traces of a new
    prompt version, it fills its stratum's minimum, or its id hashes below the rate (the
    same trace every time). A cap per run and a judge budget bound the cost.
    """


@sampling.command()
@click.option("--app", default=None, help="Only this app.")
@settings_options
def show(app: str | None, home: str | None, db_url: str | None) -> None:
    """Show the stored policies, and the default for apps without one."""
    settings = settings_from(home, db_url)
    with open_db(home, db_url) as conn:
        rows = store.list_policies(conn)
    for row in rows:
        if app in (None, row["app"]):
            policy = SamplingPolicy(**{k: row[k] for k in SamplingPolicy.model_fields})
            who = f"{row['updated_by']}, {row['updated_at']:%Y-%m-%d %H:%M}"
            click.echo(f"{row['app']}: {policy.describe()}  ({who})")
    click.echo(f"other apps (default, from settings): {default_policy(settings).describe()}")


@sampling.command("set")
@click.option("--app", required=True, help="The application the policy is for.")
@click.option("--rate", type=click.FloatRange(0, 1), help="Share of traces picked by hash.")
@click.option(
    "--strata",
    help="Comma-separated segment keys to stratify by: model, prompt_version, or a segment "
    "attribute such as route. Empty string for none.",
)
@click.option(
    "--min-per-stratum",
    type=click.IntRange(0),
    help="Traces each stratum gets per window, whatever the rate.",
)
@click.option("--thumbs-down/--no-thumbs-down", default=None, help="Always take thumbs-down.")
@click.option("--errors/--no-errors", default=None, help="Always take traces with errors.")
@click.option(
    "--outlier-quantile",
    type=click.FloatRange(0.5, 1, max_open=True),
    help="Always take latency and cost above this quantile of the window (e.g. 0.99).",
)
@click.option("--no-outliers", is_flag=True, help="Do not take outliers.")
@click.option(
    "--first-per-prompt-version",
    type=click.IntRange(0),
    help="Always take the first N traces of each prompt version.",
)
@click.option("--max-per-run", type=click.IntRange(0), help="Most traces a run takes; 0 = no cap.")
@click.option("--judge-max-tokens", type=click.IntRange(0), help="Judge tokens a run may use.")
@click.option(
    "--judge-max-cost-usd", type=click.FloatRange(0), help="Judge dollars a run may spend."
)
@settings_options
def set_cmd(app: str, home: str | None, db_url: str | None, **changes: Any) -> None:
    """Create or change APP's policy; options not given keep their current value."""
    settings = settings_from(home, db_url)
    with open_db(home, db_url) as conn:
        current = store.get_policy(conn, app) or default_policy(settings)
        policy = _apply(current, changes)
        store.set_policy(conn, app, policy, getpass.getuser())
    click.echo(f"{app}: {policy.describe()}")


@sampling.command()
@click.option("--app", required=True)
@settings_options
def reset(app: str, home: str | None, db_url: str | None) -> None:
    """Delete APP's policy: it goes back to the default."""
    with open_db(home, db_url) as conn:
        found = store.delete_policy(conn, app)
    click.echo(f"{app}: back to the default policy" if found else f"{app} had no policy")


def _apply(policy: SamplingPolicy, changes: dict[str, Any]) -> SamplingPolicy:
    update: dict[str, Any] = {}
    renames = {
        "thumbs_down": "include_thumbs_down",
        "errors": "include_errors",
        "max_per_run": "max_traces_per_run",
    }
    for option, value in changes.items():
        if value is None or option == "no_outliers":
            continue
        if option == "strata":
            value = tuple(k.strip() for k in value.split(",") if k.strip())
        elif option in ("max_per_run", "judge_max_tokens", "judge_max_cost_usd") and not value:
            value = None  # 0 lifts the limit
        update[renames.get(option, option)] = value
    if changes.get("no_outliers"):
        update["outlier_quantile"] = None
    try:
        return SamplingPolicy(**{**policy.model_dump(), **update})
    except ValidationError as err:
        problems = "; ".join(e["msg"] for e in err.errors())
        raise VigilError(f"invalid sampling policy: {problems}") from err
