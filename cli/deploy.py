"""``vigil deploy``: Vigil's deployments on a Prefect work pool, for workers on many hosts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from cli import orchestration
from cli.common import settings_from, settings_options
from vigil.errors import VigilError

ROOT = Path(__file__).resolve().parents[1]  # where prefect.yaml is
POOL = "vigil-process"


@click.command()
@click.option(
    "--no-deployments",
    is_flag=True,
    help="Only set the judge limits and the crash automation (the deployments are there).",
)
@settings_options
def deploy(no_deployments: bool, home: str | None, db_url: str | None) -> None:
    """Deploy Vigil's flows to the `vigil-process` work pool of the Prefect server.

    Creates the pool when it is missing, deploys every deployment of prefect.yaml
    (`prefect deploy --all`), then configures what spans workers: a global concurrency
    limit per judge model (VIGIL_JUDGE_CONCURRENCY requests in flight across all workers,
    and VIGIL_JUDGE_RATE_LIMIT_PER_S), and an automation that marks a flow run Crashed when
    its heartbeats stop for VIGIL_CRASH_AFTER_S, so a backfill retries that day elsewhere.
    Run it again after changing those settings. Then start workers on each host:

      prefect worker start --pool vigil-process
    """
    settings = settings_from(home, db_url)
    orchestration.use_prefect_server(settings, required=True)
    from flows.deploy_setup import configure_prefect

    if not no_deployments:
        click.echo(_ensure_pool())
        done = subprocess.run(
            [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise VigilError(
                f"`prefect deploy --all` failed in {ROOT}:\n{done.stdout[-2000:]}"
                f"{done.stderr[-2000:]}"
            )
        click.echo(
            "deployments: evaluate-window, backfill, detect, canary, retention -> pool " + POOL
        )
    for line in configure_prefect(settings):
        click.echo(line)


def _ensure_pool() -> str:
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(POOL)
            return f"work pool {POOL}: exists"
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
            return f"work pool {POOL}: created (type process)"
