"""``vigil datasets``: golden datasets, the items `vigil gate` scores candidates on."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from cli.common import date_option, open_db, settings_options, utc
from vigil.errors import VigilError
from vigil.golden import read_items, write_items
from vigil.golden.reviewed import add_reviewed
from vigil.store import datasets as store
from vigil.store.review import LABELS

BY_HELP = "Who makes the version (kept with it) [env VIGIL_USER, else $USER]."


def _by(value: str | None) -> str:
    if not value:
        raise VigilError("a dataset version records who made it: pass --by NAME or set VIGIL_USER")
    return value


by_option = click.option("--by", envvar=["VIGIL_USER", "USER"], default=None, help=BY_HELP)


@click.group()
def datasets() -> None:
    """Golden datasets: versioned items (question, contexts or retrieval spec, reference
    answer, or a code prompt with tests) that `vigil gate` scores candidates on.

    A version never changes: importing other content, or adding reviewed traces, makes a
    new one, and each gate run records the version it used. See docs/datasets.md.
    """


@datasets.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="The dataset (created on first import).")
@by_option
@settings_options
def import_(file: Path, name: str, by: str | None, home: str | None, db_url: str | None) -> None:
    """Import FILE (.jsonl or .jsonl.gz, one item a line; HumanEval's format too) as the
    dataset's next version. Bad lines are listed with their numbers and nothing is stored;
    the same content as the latest version stores nothing (safe to run on every CI build)."""
    items = read_items(file)
    with open_db(home, db_url) as conn:
        version = store.save_version(conn, name, items, by=_by(by), change=f"import {file.name}")
    if version.created:
        click.echo(f"{version.label}: {version.items} items imported from {file}")
    else:
        click.echo(f"{version.label}: unchanged ({file} holds the same {version.items} items)")


@datasets.command(name="list")
@settings_options
def list_(home: str | None, db_url: str | None) -> None:
    """Every dataset with its latest version."""
    with open_db(home, db_url) as conn:
        rows = store.listing(conn)
    if not rows:
        click.echo("no datasets; `vigil datasets import FILE.jsonl --name NAME` makes one")
    for r in rows:
        last = f"{r['change']} by {r['created_by']} {r['created_at']:%Y-%m-%d %H:%M}"
        click.echo(f"{r['name']}@{r['version']}: {r['items']} items, "
                   f"{r['versions']} version(s); last: {last}")  # fmt: skip


@datasets.command()
@click.argument("dataset")
@click.option("--items", "show_items", type=int, default=5, show_default=True,
              help="How many of the version's items to print.")  # fmt: skip
@settings_options
def show(dataset: str, show_items: int, home: str | None, db_url: str | None) -> None:
    """DATASET's versions (NAME, or NAME@VERSION for that one) and its first items."""
    with open_db(home, db_url) as conn:
        version = store.resolve(conn, dataset)
        history = store.versions(conn, version.dataset)
        items = store.items(conn, version.id)
    for v in history:
        mark = "*" if v["version"] == version.version else " "
        when = f"{v['created_at']:%Y-%m-%d %H:%M}"
        click.echo(f"{mark} v{v['version']}  {v['items']:>5} items  {v['gate_runs']} gate "
                   f"run(s)  {when}  {v['change']} (by {v['created_by']})")  # fmt: skip
    kinds = {k: sum(1 for i in items if i.kind == k) for k in ("rag", "code")}
    click.echo(f"\n{version.label}: {kinds['rag']} RAG item(s), {kinds['code']} code item(s)")
    for item in items[:show_items]:
        text = " ".join(item.input.split())
        click.echo(f"  {item.id}: {text[:100]}{'…' if len(text) > 100 else ''}")


@datasets.command()
@click.argument("dataset")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The JSONL file to write (default: standard output).")  # fmt: skip
@settings_options
def export(dataset: str, output: Path | None, home: str | None, db_url: str | None) -> None:
    """Write DATASET (NAME or NAME@VERSION) as JSONL, which `import` reads back."""
    with open_db(home, db_url) as conn:
        version = store.resolve(conn, dataset)
        items = store.items(conn, version.id)
    if output is None:
        write_items(items, sys.stdout)
        return
    tmp = output.with_name(output.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        count = write_items(items, handle)
    tmp.replace(output)  # never a half-written file under the real name
    click.echo(f"{version.label}: {count} items written to {output}", err=True)


@datasets.command(name="add-reviewed")
@click.option("--name", required=True, help="The dataset to add to (created if new).")
@click.option("--label", type=click.Choice(LABELS), default=None,
              help="Only traces with this label (default: any with a reference).")  # fmt: skip
@click.option("--app", default=None, help="Only this application's traces.")
@date_option("--since", "Only labels set since then.")
@by_option
@settings_options
def add_reviewed_cmd(name: str, label: str | None, app: str | None, since: datetime | None,
                 by: str | None, home: str | None, db_url: str | None) -> None:  # fmt: skip
    """Add reviewed production traces to a dataset, as one new version. The reference is the
    reviewer's corrected answer when there is one, else the answer labeled correct; a trace
    labeled wrong without a correction is left out (and counted). A trace added before is
    replaced when its review changed."""
    with open_db(home, db_url) as conn:
        result = add_reviewed(conn, name, by=_by(by), label=label,
                              since=utc(since) if since else None, app=app)  # fmt: skip
    v = result.version
    if v is None:
        click.echo(f"no reviewed traces to add ({result.labeled} labeled, {result.left_out} "
                   "without a reference: give a corrected answer on the review page)")  # fmt: skip
        return
    if not v.created:
        click.echo(f"{v.label}: unchanged (these traces are in it already)")
    else:
        click.echo(f"{v.label}: {result.added} added, {result.replaced} replaced, "
                   f"{v.items} items in all")  # fmt: skip
    left_out = result.left_out
    if left_out:
        click.echo(f"{left_out} labeled trace(s) left out: no corrected answer, and not "
                   "labeled correct")  # fmt: skip
