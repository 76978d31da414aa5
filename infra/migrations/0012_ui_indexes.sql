-- The Overview at scale (issue 14, docs/ui-pages.md "Measured"): daily rollups of scores and
-- traces, kept up to date from 0008's transaction marks, and the indexes the pages' raw
-- queries need. On 1M traces and 5M scores over 30 days, a 30-day mean per evaluator read
-- from `scores` takes seconds however it is indexed; from the rollup, milliseconds.

-- Final scores (scored, skipped: never overwritten) per UTC day, app and evaluator version.
-- An error may still be replaced by a retry, so errors are counted from `scores` itself.
CREATE TABLE score_daily (
    app               text NOT NULL,
    day               date NOT NULL,
    evaluator         text NOT NULL,
    evaluator_version text NOT NULL,
    status            text NOT NULL CHECK (status IN ('scored', 'skipped')),
    n                 bigint NOT NULL,            -- scores
    valued            bigint NOT NULL,            -- of which with a [0, 1] value
    total             double precision NOT NULL,  -- sum of those values
    PRIMARY KEY (app, day, evaluator, evaluator_version, status)
);

-- Completed traces per UTC day, app, model and prompt version ('' for none).
CREATE TABLE trace_daily (
    app            text NOT NULL,
    day            date NOT NULL,
    model          text NOT NULL,
    prompt_version text NOT NULL,
    requests       bigint NOT NULL,
    costed         bigint NOT NULL,             -- requests with a cost
    cost_usd       double precision NOT NULL,
    tokens_in      bigint NOT NULL,
    tokens_out     bigint NOT NULL,
    PRIMARY KEY (app, day, model, prompt_version)
);

-- Latencies of completed traces per UTC day and app, in bins 2% wide
-- (bin = floor(ln(1 + latency_ms) / ln(1.02))): a daily p95 from them is within 1%.
CREATE TABLE latency_daily (
    app  text NOT NULL,
    day  date NOT NULL,
    bin  integer NOT NULL,
    n    bigint NOT NULL,
    PRIMARY KEY (app, day, bin)
);

-- What the rollups hold: every row committed by this snapshot (vigil.store.views.refresh).
CREATE TABLE rollup_marks (
    name     text PRIMARY KEY,
    snapshot pg_snapshot NOT NULL
);

-- The first fill and its mark see the same rows: writers wait for this migration.
LOCK TABLE traces, scores IN SHARE MODE;

INSERT INTO score_daily
SELECT app, (trace_start AT TIME ZONE 'UTC')::date, evaluator, evaluator_version, status,
       count(*), count(value), coalesce(sum(value), 0)
FROM scores WHERE status IN ('scored', 'skipped') GROUP BY 1, 2, 3, 4, 5;

INSERT INTO trace_daily
SELECT app, (start_time AT TIME ZONE 'UTC')::date, coalesce(model, ''),
       coalesce(prompt_version, ''), count(*), count(cost_usd), coalesce(sum(cost_usd), 0),
       coalesce(sum(tokens_in), 0), coalesce(sum(tokens_out), 0)
FROM traces WHERE complete GROUP BY 1, 2, 3, 4;

INSERT INTO latency_daily
SELECT app, (start_time AT TIME ZONE 'UTC')::date,
       floor(ln(1 + latency_ms) / ln(1.02))::integer, count(*)
FROM traces WHERE complete AND latency_ms IS NOT NULL GROUP BY 1, 2, 3;

INSERT INTO rollup_marks VALUES ('overview', pg_current_snapshot());

-- Errors by app and time (the status counts), a small partial index.
CREATE INDEX scores_error_idx ON scores (app, trace_start) WHERE status = 'error';
