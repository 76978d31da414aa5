"""Wiring: the evaluator resources a worker process builds once and reuses."""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache
from typing import Any

from evaluators import Resources
from evaluators.providers import MiniLMProvider
from vigil.db.types import Conn
from vigil.embeddings import load_embeddings
from vigil.knowledge_base import PGVectorStore
from vigil.settings import Settings
from vigil.store import knowledge_base as kb_store

Budget = tuple[str, str]  # a shared judge budget: (scope, app), see flows.judge_sharing

_RUN_JUDGES: OrderedDict[tuple[int | None, str, Budget | None], Any] = OrderedDict()


@lru_cache(maxsize=2)
def local_provider(model_path: str | None) -> MiniLMProvider:
    """One provider per process and model: it holds the model and its embedding cache."""
    return MiniLMProvider(load_embeddings(model_path))


def run_judge(settings: Settings, run_id: int | None, budget: Budget | None = None) -> Any:
    """The LLM judge of one evaluation run, or None when VIGIL_JUDGE_PROVIDER is none.

    The judge carries the run's token and cost budget, so each run gets its own, shared by
    the run's batches in this process. With ``budget`` (a backfill's day runs), the budget
    is that row of ``judge_budgets``, shared by every day run on every worker. On a Prefect
    server each request also takes a slot of the judge model's global limits. TruLens is
    imported only when a judge is configured.
    """
    if settings.judge_provider == "none":
        return None
    key = (run_id, _judge_fingerprint(settings), budget)
    if key not in _RUN_JUDGES:
        from evaluators.providers.judge import build_judge
        from flows.judge_sharing import SharedBudget, shared_gate
        from vigil.db import database_url

        limited = (settings.judge_max_tokens_per_run, settings.judge_max_cost_usd_per_run)
        ledger = None
        if budget is not None and limited != (None, None):  # no limit: nothing to share
            ledger = SharedBudget(database_url(settings, start=False), *budget)
        _RUN_JUDGES[key] = build_judge(settings, ledger=ledger, gate=shared_gate(settings))
        while len(_RUN_JUDGES) > 4:
            _RUN_JUDGES.popitem(last=False)
    return _RUN_JUDGES[key]


def _judge_fingerprint(settings: Settings) -> str:
    fields = {k: v for k, v in settings.model_dump().items() if k.startswith("judge_")}
    secret = settings.judge_api_key
    fields["judge_api_key"] = hash(secret.get_secret_value()) if secret else None
    return repr(sorted(fields.items()))


def build_resources(
    settings: Settings, conn: Conn, run_id: int | None = None, budget: Budget | None = None
) -> Resources:
    store = PGVectorStore(
        conn,
        settings.kb_collection,
        embedding_table=settings.kb_embedding_table,
        collection_table=settings.kb_collection_table,
    )
    has_store = kb_store.table_exists(conn, settings.kb_embedding_table) and store.count() > 0
    return Resources(
        provider=local_provider(settings.embedding_model),
        store=store if has_store else None,
        judge=run_judge(settings, run_id, budget),
    )


def naming_resources(settings: Settings) -> Resources:
    """Enough to list evaluator names and versions (a judge's model is part of its
    evaluators' versions); no model is loaded and no request is sent."""
    return Resources(provider=None, judge=run_judge(settings, None))
