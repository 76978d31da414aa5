-- Vigil's first schema. Append-only: change it with a new migration, never by editing this one.
CREATE EXTENSION IF NOT EXISTS vector;

-- One row per request the monitored application served.
CREATE TABLE traces (
    id             text PRIMARY KEY,
    app            text NOT NULL,
    start_time     timestamptz NOT NULL,
    end_time       timestamptz,
    latency_ms     double precision CHECK (latency_ms IS NULL OR latency_ms >= 0),
    input          text,
    output         text,
    model          text,
    prompt_version text,
    segment        jsonb NOT NULL DEFAULT '{}'::jsonb,  -- route, tenant, ... (filterable)
    tokens_in      integer CHECK (tokens_in IS NULL OR tokens_in >= 0),
    tokens_out     integer CHECK (tokens_out IS NULL OR tokens_out >= 0),
    cost_usd       double precision CHECK (cost_usd IS NULL OR cost_usd >= 0),
    status         text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'error')),
    user_feedback  smallint CHECK (user_feedback IN (-1, 0, 1)),  -- thumbs down / none / up
    attributes     jsonb NOT NULL DEFAULT '{}'::jsonb,             -- anything else, kept as sent
    ingested_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX traces_start_idx ON traces (start_time);
CREATE INDEX traces_app_start_idx ON traces (app, start_time);
CREATE INDEX traces_app_prompt_start_idx ON traces (app, prompt_version, start_time);
CREATE INDEX traces_app_model_start_idx ON traces (app, model, start_time);
CREATE INDEX traces_segment_idx ON traces USING gin (segment jsonb_path_ops);

CREATE TABLE spans (
    trace_id       text NOT NULL REFERENCES traces (id) ON DELETE CASCADE,
    span_id        text NOT NULL,
    parent_span_id text,
    kind           text NOT NULL
                   CHECK (kind IN ('llm', 'retriever', 'chain', 'tool', 'embedding', 'other')),
    name           text NOT NULL,
    start_time     timestamptz NOT NULL,
    end_time       timestamptz,
    attributes     jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (trace_id, span_id)
);

-- The chunks the application retrieved for a trace, as it saw them at the time.
CREATE TABLE retrievals (
    trace_id    text NOT NULL REFERENCES traces (id) ON DELETE CASCADE,
    span_id     text NOT NULL DEFAULT '',
    rank        integer NOT NULL CHECK (rank >= 0),
    document_id text,
    content     text NOT NULL,
    score       double precision,
    PRIMARY KEY (trace_id, span_id, rank)
);

-- One evaluation run (a scheduled window, a backfill day, an ad hoc run).
CREATE TABLE eval_runs (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('window', 'backfill', 'adhoc')),
    flow_run_id   text,
    app           text,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    evaluators    text[] NOT NULL,
    status        text NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'completed', 'failed')),
    traces_total  integer NOT NULL DEFAULT 0,
    traces_done   integer NOT NULL DEFAULT 0,
    scored        integer NOT NULL DEFAULT 0,
    skipped       integer NOT NULL DEFAULT 0,
    errors        integer NOT NULL DEFAULT 0,
    cost_usd      double precision NOT NULL DEFAULT 0,
    message       text,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    CHECK (window_end > window_start)
);
CREATE INDEX eval_runs_started_idx ON eval_runs (started_at DESC);

-- One judgement per trace, evaluator and evaluator version. A failure is never a score:
-- only status 'scored' carries a value.
CREATE TABLE scores (
    id                bigserial PRIMARY KEY,
    trace_id          text NOT NULL REFERENCES traces (id) ON DELETE CASCADE,
    app               text NOT NULL,          -- copied from the trace for time-range queries
    trace_start       timestamptz NOT NULL,   -- idem
    evaluator         text NOT NULL,
    evaluator_version text NOT NULL,
    value             double precision CHECK (value IS NULL OR (value >= 0 AND value <= 1)),
    label             text,
    explanation       text,
    metadata          jsonb NOT NULL DEFAULT '{}'::jsonb,
    status            text NOT NULL CHECK (status IN ('scored', 'skipped', 'error')),
    run_id            bigint REFERENCES eval_runs (id) ON DELETE SET NULL,
    attempts          integer NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (trace_id, evaluator, evaluator_version),
    CHECK (status <> 'scored' OR value IS NOT NULL OR label IS NOT NULL),
    CHECK (status = 'scored' OR value IS NULL)
);
CREATE INDEX scores_app_eval_time_idx ON scores (app, evaluator, evaluator_version, trace_start);
CREATE INDEX scores_run_idx ON scores (run_id);

-- A window whose mean score fell significantly below its baseline.
CREATE TABLE regressions (
    id                bigserial PRIMARY KEY,
    app               text NOT NULL,
    evaluator         text NOT NULL,
    evaluator_version text NOT NULL,
    segment           jsonb NOT NULL DEFAULT '{}'::jsonb,  -- {} means the whole app
    window_start      timestamptz NOT NULL,
    window_end        timestamptz NOT NULL,
    baseline_start    timestamptz NOT NULL,
    baseline_end      timestamptz NOT NULL,
    window_mean       double precision NOT NULL,
    baseline_mean     double precision NOT NULL,
    window_n          integer NOT NULL,
    baseline_n        integer NOT NULL,
    delta             double precision NOT NULL,
    z                 double precision NOT NULL,
    status            text NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'acknowledged', 'resolved')),
    evidence          jsonb NOT NULL DEFAULT '{}'::jsonb,
    run_id            bigint REFERENCES eval_runs (id) ON DELETE SET NULL,
    detected_at       timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (app, evaluator, evaluator_version, segment, window_start)
);
CREATE INDEX regressions_detected_idx ON regressions (detected_at DESC);
CREATE INDEX regressions_app_window_idx ON regressions (app, window_start);

-- Traces a person should look at, and what they concluded.
CREATE TABLE review_items (
    id            bigserial PRIMARY KEY,
    trace_id      text NOT NULL REFERENCES traces (id) ON DELETE CASCADE,
    regression_id bigint REFERENCES regressions (id) ON DELETE CASCADE,
    reason        text NOT NULL,
    evaluator     text,
    score         double precision,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'labeled')),
    label         text,
    note          text,
    reviewer      text,
    labeled_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (trace_id, regression_id),
    CHECK (status = 'pending' OR (label IS NOT NULL AND reviewer IS NOT NULL))
);
CREATE INDEX review_items_status_idx ON review_items (status, created_at);

-- Who did what: every human action on review items, append-only.
CREATE TABLE review_events (
    id         bigserial PRIMARY KEY,
    item_id    bigint NOT NULL REFERENCES review_items (id) ON DELETE CASCADE,
    actor      text NOT NULL,
    action     text NOT NULL,
    label      text,
    note       text,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX review_events_item_idx ON review_events (item_id, at);
