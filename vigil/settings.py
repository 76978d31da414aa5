"""Vigil's settings, resolved once at the edge.

Precedence, highest first:
1. a command-line flag (each flag names its variable in ``--help``);
2. an environment variable ``VIGIL_<NAME>``;
3. a ``.env`` file in the working directory (same names);
4. the defaults below.
"""

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything Vigil can be configured with. Field ``x`` is env var ``VIGIL_X``."""

    model_config = SettingsConfigDict(env_prefix="VIGIL_", env_file=".env", extra="ignore")

    home: Path = Field(Path(".vigil"), description="Folder for the embedded database, logs, pids.")
    database_url: str | None = Field(
        None,
        description="PostgreSQL URL (with pgvector). Empty means the embedded server under home.",
    )
    database_name: str = Field("vigil", description="Database created on the embedded server.")
    database_schema: str | None = Field(
        None,
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="Schema of Vigil's tables (created by `vigil db migrate` when the role may; "
        "pgvector's types are found in public). Empty means the role's search_path.",
    )
    database_pooler: Literal["none", "transaction"] = Field(
        "none",
        description="transaction: VIGIL_DATABASE_URL is a pooler in transaction mode (PgBouncer "
        "before 1.21): Vigil prepares no statements, which would not survive a transaction.",
    )
    prefect_database_url: str | None = Field(
        None,
        description="The Prefect server's database (postgresql+asyncpg://...). Empty means a "
        "database named prefect on Vigil's PostgreSQL, created if the role may.",
    )
    host: str = Field(
        "127.0.0.1",
        description="Address Vigil's services bind to (the embedded PostgreSQL stays on "
        "127.0.0.1).",
    )
    db_port: int = Field(54329, description="TCP port of the embedded PostgreSQL.")
    prefect_port: int = Field(4200, description="Port of the Prefect server and UI.")
    ui_port: int = Field(8501, description="Port of the Streamlit app.")
    prefect_api_url: str | None = Field(
        None, description="Prefect API. Empty means the server `vigil up` starts."
    )
    embedding_model: str | None = Field(
        None, description="Sentence-transformers model path; empty means packaged MiniLM."
    )
    kb_collection: str = Field("vigil-demo-docs", description="PGVector collection of the app.")
    kb_embedding_table: str = Field("langchain_pg_embedding", description="PGVector chunk table.")
    kb_collection_table: str = Field(
        "langchain_pg_collection", description="PGVector collection table."
    )
    schedule_cron: str = Field("*/15 * * * *", description="Cron of the evaluate-window flow.")
    window_minutes: int = Field(15, description="Length of a scheduled evaluation window.")
    grace_minutes: int = Field(5, description="Wait for late traces before a window is evaluated.")
    batch_size: int = Field(
        64, ge=1, description="Traces evaluated and committed together (one claim, one write)."
    )
    task_traces: int = Field(
        4096, ge=1, description="Traces per Prefect task, evaluated batch_size at a time."
    )
    sample_rate: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Share of traces evaluated, for apps without a policy (`vigil sampling`).",
    )
    eval_max_attempts: int = Field(
        3, ge=1, description="Tries of an evaluator on a trace before its error is final."
    )
    backfill_chunk_hours: int = Field(
        24,
        ge=1,
        le=24 * 7,
        description="A backfill's unit of work: one evaluate-window flow run per chunk of "
        "this many hours (aligned to UTC midnight when it divides 24).",
    )
    backfill_parallel: int = Field(
        4, ge=1, description="A backfill's chunk runs in flight at once on the work pool."
    )
    backfill_retries: int = Field(
        2,
        ge=0,
        description="Times a backfill submits a chunk again after its run crashed or failed "
        "(its worker died, say).",
    )
    crash_after_s: int = Field(
        600,
        ge=60,
        description="A flow run that sent no heartbeat for this long is marked Crashed by the "
        "automation `vigil deploy` creates (heartbeats every PREFECT_FLOWS_HEARTBEAT_FREQUENCY, "
        "180 s by default; keep this well above it).",
    )
    detect_window_hours: int = Field(24, description="Window the detector looks at.")
    baseline_days: int = Field(7, description="Baseline the window is compared with.")
    detect_fdr: float = Field(
        0.01, gt=0, lt=1, description="False-discovery rate over every test of a pass (BH)."
    )
    detect_min_window_n: int = Field(30, ge=2, description="Fewest traces a tested slice needs.")
    detect_min_baseline_n: int = Field(
        50, ge=2, description="Fewest baseline traces; fewer makes a segment value 'new'."
    )
    detect_max_segment_values: int = Field(
        20, ge=1, description="Values per segment key; the rest fold into '(other)'."
    )
    detect_threshold: float = Field(
        0.5, ge=0, le=1, description="A score below it counts toward the below-threshold rate."
    )
    detect_floors: dict[str, float] = Field(
        default_factory=dict,
        description='Effect floors by metric, e.g. {"score": 0.03, "latency_p95": 0.3}.',
    )
    detect_max_traces: int = Field(
        20000, ge=100, description="Traces read per app on each side (a hash sample beyond)."
    )
    detect_drift_sample: int = Field(
        400, ge=0, description="Questions embedded per side for question drift (0: off)."
    )
    detect_resolve_windows: int = Field(
        2, ge=1, description="Clean windows after which a regression resolves itself."
    )
    slo_file: Path | None = Field(None, description="The SLO file (`vigil slo`, docs/slo.md).")
    alerts_file: Path | None = Field(
        None, description="Alert destinations file (`vigil alerts`, docs/alerts.md)."
    )
    alert_max_attempts: int = Field(
        5, ge=1, description="Tries of one alert delivery before it is marked failed."
    )
    alert_backoff_s: float = Field(
        1.0, ge=0, description="Wait before the first retry of a delivery; doubles each retry."
    )
    alert_timeout_s: float = Field(5.0, gt=0, description="Timeout of one alert request.")
    alert_give_up_hours: float = Field(
        24.0,
        gt=0,
        description="A destination that stays down: later passes retry its alerts until "
        "they are this old, then mark them failed.",
    )
    alert_max_age_hours: float = Field(
        24.0,
        gt=0,
        description="Page only for regressions last seen this recently: a backfill of older "
        "windows records them without paging.",
    )
    ui_url: str | None = Field(
        None,
        description="Public address of the Streamlit app, for links in alerts. Empty means "
        "http://host:ui_port.",
    )
    canary_cron: str = Field(
        "*/30 * * * *", description="Cron of the canary flow (checks every live canary)."
    )
    retention_cron: str = Field(
        "17 3 * * *",
        description="Cron of the retention flow (makes the next partitions, drops what the "
        "policy of `vigil retention set` says).",
    )
    metrics_port: int = Field(9464, description="Port of the Prometheus /metrics endpoint.")
    metrics_max_segment_values: int = Field(
        10, ge=1, description="Values per segment key in metric labels; the rest are '(other)'."
    )
    metrics_refresh_s: float = Field(
        15.0, gt=0, description="How often the metrics exporter reads new rows."
    )
    prefect_auth: SecretStr | None = Field(
        None,
        description="'user:password' for the Prefect server's basic authentication "
        "(PREFECT_SERVER_API_AUTH_STRING on the server, PREFECT_API_AUTH_STRING for its "
        "clients). Empty means none: then `vigil up` binds to 127.0.0.1 only.",
    )
    review_per_regression: int = Field(
        20, ge=0, description="Worst traces of the named segment queued per regression."
    )
    review_audit_per_day: int = Field(
        5, ge=0, description="Scored traces queued at random each day, regression or not."
    )
    review_lease_minutes: int = Field(
        15, ge=1, description="How long a claimed review item stays with its reviewer."
    )
    otlp_port: int = Field(4318, description="Port of the OTLP/HTTP receiver.")
    otlp_workers: int = Field(2, ge=1, description="Receiver processes (uvicorn workers).")
    otlp_max_body_mb: float = Field(16.0, description="Largest request body, after gunzip.")
    otlp_max_concurrency: int = Field(4, description="Batches written to PostgreSQL at once.")
    otlp_max_inflight: int | None = Field(
        None,
        ge=1,
        description="Requests read, decoded or written at once per worker; the rest wait, then "
        "get 503. Empty means twice otlp_max_concurrency.",
    )
    otlp_queue_timeout_s: float = Field(
        2.0,
        description="How long a batch may wait for an in-flight slot, then for a writer, "
        "before the receiver says 503.",
    )
    otlp_key_cache_s: float = Field(30.0, description="How long a checked API key is trusted.")
    trace_grace_s: int = Field(
        300, description="A trace without a finished root span is complete after this quiet time."
    )
    max_value_chars: int = Field(32_768, description="Longer text values are truncated, marked.")
    redact_pii: bool = Field(False, description="Mask emails, phone and card numbers on ingest.")
    extra_evaluators: str = Field(
        "",
        description="More evaluators, comma-separated `module:attribute` paths: a TruLens "
        "Feedback (trulens.core.Feedback) or a Vigil Evaluator class, e.g. "
        "mypkg.feedbacks:groundedness_gpt. Every process that scores must see it (workers too).",
    )
    judge_provider: Literal["none", "openai", "openai_compatible", "ollama"] = Field(
        "none",
        description="LLM judge for the judge_* evaluators: none (offline), openai, "
        "openai_compatible (vLLM, LM Studio, ... at judge_base_url) or ollama.",
    )
    judge_model: str | None = Field(
        None, description="Judge model name; part of the judge evaluators' version."
    )
    judge_base_url: str | None = Field(
        None,
        description="Judge API URL (e.g. http://localhost:8000/v1, http://localhost:11434). "
        "Empty means the provider's default.",
    )
    judge_api_key: SecretStr | None = Field(
        None, description="Judge API key. Empty means OPENAI_API_KEY for openai, none else."
    )
    judge_concurrency: int = Field(
        4,
        ge=1,
        description="Judge requests in flight at once: per process, and across every worker "
        "for flow runs on a Prefect server (a global concurrency limit per judge model).",
    )
    judge_timeout_s: float = Field(30.0, gt=0, description="Timeout of one judge request.")
    judge_max_retries: int = Field(
        4, ge=0, description="Retries of a judge request after a 429, a 5xx or a timeout."
    )
    judge_rate_limit_per_s: float | None = Field(
        None,
        gt=0,
        description="Most judge requests started per second (kept 2% under, evenly spaced). "
        "Empty means no cap.",
    )
    judge_structured_output: bool = Field(
        True,
        description="Ask the judge for JSON-schema structured output (one request per "
        "judgement). Turn off for servers without response_format support.",
    )
    judge_max_tokens_per_run: int | None = Field(
        None, ge=1, description="Judge tokens (in + out) one evaluation run may use."
    )
    judge_max_cost_usd_per_run: float | None = Field(
        None, gt=0, description="Judge spend in USD one run may use (needs the two prices)."
    )
    judge_input_usd_per_mtok: float | None = Field(
        None, ge=0, description="Judge model price, USD per million input tokens."
    )
    judge_output_usd_per_mtok: float | None = Field(
        None, ge=0, description="Judge model price, USD per million output tokens."
    )

    @property
    def extra_evaluator_paths(self) -> list[str]:
        """VIGIL_EXTRA_EVALUATORS as a list of module:attribute paths."""
        return [p.strip() for p in self.extra_evaluators.split(",") if p.strip()]

    @cached_property
    def home_dir(self) -> Path:
        """The home folder as an absolute path (created on first use by the callers)."""
        return self.home.expanduser().resolve()

    @property
    def uses_embedded_db(self) -> bool:
        return not self.database_url

    @property
    def prefect_api(self) -> str:
        return self.prefect_api_url or f"http://{self.host}:{self.prefect_port}/api"

    @property
    def prefect_ui(self) -> str:
        """The Prefect UI's address (the API's without ``/api``), for links."""
        return self.prefect_api.removesuffix("/").removesuffix("/api")

    @property
    def ui_address(self) -> str:
        return (self.ui_url or f"http://{self.host}:{self.ui_port}").rstrip("/")


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (CLI flags) on top."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
