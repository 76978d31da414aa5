"""``vigil gate``: block a prompt or model change that makes answers worse on a golden
dataset (docs/gate.md). Exit code 0 pass, 1 fail, 2 could not run."""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from cli.common import open_db, settings_from, settings_options
from flows.gate import GateRequest, run_gate
from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.gate.config import load_gate_config
from vigil.gate.report import EXIT_CODES, GateSummary, junit_xml, markdown
from vigil.gate.runfile import dump, write
from vigil.golden import read_items
from vigil.store.datasets import save_version

T = TypeVar("T")


def _git_sha() -> str | None:
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    try:
        found = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                               timeout=5, check=False)  # fmt: skip
    except OSError:
        return None
    return found.stdout.strip() or None


def _write_reports(summary: GateSummary, md: Path | None, junit: Path | None) -> None:
    if md:
        write(md, markdown(summary))
    if junit:
        write(junit, junit_xml(summary))


def _cannot_run(dataset: str, candidate: str, err: VigilError, md: Path | None,
                junit: Path | None) -> NoReturn:  # fmt: skip
    name, _, number = dataset.partition("@")
    summary = GateSummary(
        dataset=name, dataset_version=int(number) if number.isdigit() else 0, run_id=None,
        candidate=candidate, baseline=None, verdict="error", rules=(), errors=(), worst=(),
        flaky=(), evaluators={}, items=0, message=str(err),
    )  # fmt: skip
    try:
        _write_reports(summary, md, junit)
    except OSError as failed:
        click.secho(f"warning: cannot write the reports: {failed}", fg="yellow", err=True)
    click.secho(f"error: the gate could not run: {err}", fg="red", err=True)
    sys.exit(EXIT_CODES["error"])


@click.command()
@click.option("--dataset", required=True, help="The golden dataset, NAME or NAME@VERSION.")
@click.option("--dataset-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Gate on the version of --dataset holding exactly this JSONL's items "
                   "(imported if new): for a CI job that keeps its dataset in git.")  # fmt: skip
@click.option("--candidate", required=True,
              help="module:function called with each item's input (returns the answer, "
                   "or answer and contexts), or a .jsonl of outputs ({id, answer, "
                   "contexts}).")  # fmt: skip
@click.option("--baseline", default="last-passing", show_default=True,
              help="last-passing (on this dataset version), none, a gate run id, or a "
                   "gate-run file (--write-run of an earlier run).")  # fmt: skip
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="The gate's YAML (evaluators, rules, noise; infra/gate.example.yaml). "
                   "Default: pass@1 for code items, the local RAG triad otherwise.")  # fmt: skip
@click.option("--markdown", "md", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the summary as Markdown (a PR comment).")  # fmt: skip
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write JUnit XML, one test case per rule.",
)
@click.option(
    "--write-run",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write this run as a gate-run file, a later run's --baseline.",
)
@click.option("--by", envvar=["VIGIL_USER", "USER"], default="vigil", show_default=True,
              help="Who runs the gate, kept with the run [env VIGIL_USER, else USER].")  # fmt: skip
@settings_options
def gate(dataset: str, dataset_file: Path | None, candidate: str, baseline: str,
         config_path: str | None, md: Path | None, junit: Path | None,
         write_run: Path | None, by: str, home: str | None,
         db_url: str | None) -> None:  # fmt: skip
    """Score a candidate on a golden dataset and compare it, item by item, with a baseline
    run: a bootstrap confidence interval of the mean difference, McNemar's test for
    pass/fail metrics, and the rules of --config. Judge scores near a threshold are judged
    again, and an item whose verdicts disagree (flaky) never fails the gate alone.

    \b
    Exit code: 0 the gate passed, 1 it failed, 2 it could not run.
    Example:
      vigil gate --dataset support --dataset-file golden.jsonl \\
                 --candidate myapp.rag:answer --config gate.yaml \\
                 --markdown gate.md --junit gate.xml
    """
    try:
        config = load_gate_config(config_path) if config_path else None
        settings = settings_from(home, db_url)
        with open_db(home, db_url) as conn:
            spec = _dataset(conn, dataset, dataset_file, by)
            request = GateRequest(dataset=spec, candidate=candidate, baseline=baseline,
                                  config=config, by=by, git_sha=_git_sha(),
                                  ui_url=settings.ui_url)  # fmt: skip
            outcome = _with_progress(lambda tick: run_gate(conn, settings, request, tick))
        summary = outcome.summary
        _write_reports(summary, md, junit)
        if write_run:
            write(write_run, dump(outcome.record, summary.verdict, candidate,
                                  summary.dataset_version))  # fmt: skip
    except VigilError as err:
        _cannot_run(dataset, candidate, err, md, junit)
    except Exception as err:  # a crash is "could not run", never a "fail" of the candidate
        traceback.print_exc()
        _cannot_run(dataset, candidate, VigilError(f"{type(err).__name__}: {err}"), md, junit)
    _echo(summary)
    sys.exit(EXIT_CODES[summary.verdict])


def _dataset(conn: Conn, dataset: str, dataset_file: Path | None, by: str) -> str:
    """The dataset version to gate on: --dataset as given, or the version that holds
    exactly --dataset-file's items (imported if new)."""
    if dataset_file is None:
        return dataset
    if "@" in dataset:
        raise VigilError("--dataset-file gives the version: pass --dataset NAME without @VERSION")
    version = save_version(conn, dataset, read_items(dataset_file), by=by,
                           change=f"import {dataset_file.name}")  # fmt: skip
    return version.label


def _with_progress(work: Callable[[Callable[[str, int, int], None]], T]) -> T:
    """Run ``work`` with one progress bar a stage, on stderr."""
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(),
        TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=console,
        transient=not console.is_terminal,
    ) as progress:  # fmt: skip
        tasks: dict[str, TaskID] = {}

        def tick(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        return work(tick)


def _echo(summary: GateSummary) -> None:
    color = "green" if summary.verdict == "pass" else "red"
    click.secho(f"gate run #{summary.run_id} on {summary.dataset}@{summary.dataset_version}: "
                f"{summary.verdict.upper()}", fg=color, bold=True)  # fmt: skip
    click.echo(f"baseline: {summary.baseline or 'none (first run: comparisons skipped)'}")
    for rule in summary.rules:
        mark = {"pass": "ok  ", "fail": "FAIL", "skipped": "skip"}[rule.status]
        click.echo(f"  {mark} {rule.name}: {rule.message}")
    if summary.errors:
        click.echo(f"candidate errors on {len(summary.errors)} item sample(s), e.g. "
                   f"{summary.errors[0][0]}: {summary.errors[0][1]}")  # fmt: skip
    if summary.flaky:
        click.echo(f"flaky (judges disagreed): {', '.join(k for k, _, _ in summary.flaky[:10])}")
