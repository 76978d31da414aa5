-- Partitions and retention (issue 16, docs/scaling.md "Partitions and retention").
--
-- traces, spans, retrievals and scores become partitioned by time (declarative, weekly by
-- default), on a key that never changes: `part_time`, the trace's start time when it was
-- first stored (re-assembly moves `start_time` only earlier, hence the CHECK). Spans and
-- retrievals copy it, and `scores.trace_start` becomes it, so the four tables' partitions
-- share their bounds and a week of a trace and of everything of it drops together.
--
-- Primary keys of a partitioned table must hold its key, so `traces.id` is no longer unique
-- by itself: `trace_ids` (one row a trace, not partitioned) keeps ids unique, settles two
-- receivers inserting the same new trace, and maps an id to its partition. Nothing points at
-- traces with a foreign key any more: the write paths insert the parent first, and retention
-- deletes the dependants itself. Scores outlive their traces (`vigil retention set`).
--
-- This migration rewrites the four tables while holding them locked: stop the receivers and
-- workers (`vigil down`) before upgrading a large database (docs/scaling.md has the runtime).
SELECT pg_advisory_xact_lock(1986619156);  -- vigil.store.rollups.LOCK_KEY
LOCK TABLE traces, spans, retrievals, scores, eval_claims, review_items IN ACCESS EXCLUSIVE MODE;

-- Every trace id, whichever partition holds its trace. A trace is locked for writing by
-- locking its row here (vigil.store.spans.lock_trace_owners, vigil.store.segments).
CREATE TABLE trace_ids (
    id        text PRIMARY KEY,
    part_time timestamptz NOT NULL,  -- the partition key of the trace and of its rows
    app       text NOT NULL          -- never changes: a key writes only its own app's traces
);

-- The time ranges partitioned: one row = the four tables' partitions of [lo, hi).
CREATE TABLE time_partitions (
    lo                timestamptz PRIMARY KEY,
    hi                timestamptz NOT NULL CHECK (hi > lo),
    created_at        timestamptz NOT NULL DEFAULT now(),
    rolled_at         timestamptz,  -- score_segment_daily holds its days
    traces_dropped_at timestamptz,  -- traces, spans and retrievals dropped
    scores_dropped_at timestamptz   -- scores dropped
);

-- The width of partitions made from now on (`vigil retention set --partition-days`).
CREATE TABLE partitioning (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    days       integer NOT NULL DEFAULT 7 CHECK (days BETWEEN 1 AND 35),
    updated_by text NOT NULL DEFAULT current_user,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO partitioning DEFAULT VALUES;

-- How long traces (with their spans and retrievals) and scores are kept; no row or NULL:
-- forever (`vigil retention set --traces 30d --scores 400d`).
CREATE TABLE retention_policies (
    data       text PRIMARY KEY CHECK (data IN ('traces', 'scores')),
    keep_days  integer CHECK (keep_days IS NULL OR keep_days > 0),
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- What each retention run dropped, append-only.
CREATE TABLE retention_log (
    id   bigserial PRIMARY KEY,
    at   timestamptz NOT NULL DEFAULT now(),
    data text NOT NULL CHECK (data IN ('traces', 'scores')),
    lo   timestamptz NOT NULL,
    hi   timestamptz NOT NULL,
    rows jsonb NOT NULL,  -- {"traces": n, "spans": n, ...}
    run  text             -- the flow run, or 'cli'
);

-- Daily score aggregates per (app, evaluator version, segment), made when a week's traces
-- drop (their segments go with them), so that charts and baselines per segment still reach
-- back as far as scores are kept. seg_key '' is the whole app; then 'model',
-- 'prompt_version' and each key of the trace's segment.
CREATE TABLE score_segment_daily (
    app               text NOT NULL,
    day               date NOT NULL,
    evaluator         text NOT NULL,
    evaluator_version text NOT NULL,
    seg_key           text NOT NULL,
    seg_value         text NOT NULL,             -- '' when seg_key = ''
    scored            bigint NOT NULL,
    skipped           bigint NOT NULL,
    errors            bigint NOT NULL,
    valued            bigint NOT NULL,           -- scores with a [0, 1] value
    total             double precision NOT NULL, -- their sum
    total_sq          double precision NOT NULL, -- the sum of their squares
    hist              integer[] NOT NULL,        -- 20 bins of value, 0.05 wide
    measured          bigint NOT NULL,           -- scores with a measure
    measure_total     double precision NOT NULL,
    PRIMARY KEY (app, day, evaluator, evaluator_version, seg_key, seg_value)
);

ALTER TABLE review_items DROP CONSTRAINT review_items_trace_id_fkey;
ALTER TABLE eval_claims DROP CONSTRAINT eval_claims_trace_id_fkey;

ALTER TABLE traces RENAME TO traces_0016;
ALTER TABLE spans RENAME TO spans_0016;
ALTER TABLE retrievals RENAME TO retrievals_0016;
ALTER TABLE scores RENAME TO scores_0016;
CREATE TABLE traces (
    id             text NOT NULL,
    app            text NOT NULL,
    start_time     timestamptz NOT NULL,
    end_time       timestamptz,
    latency_ms     double precision CHECK (latency_ms IS NULL OR latency_ms >= 0),
    input          text,
    output         text,
    model          text,
    prompt_version text,
    segment        jsonb NOT NULL DEFAULT '{}'::jsonb,
    tokens_in      integer CHECK (tokens_in IS NULL OR tokens_in >= 0),
    tokens_out     integer CHECK (tokens_out IS NULL OR tokens_out >= 0),
    cost_usd       double precision CHECK (cost_usd IS NULL OR cost_usd >= 0),
    status         text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'error')),
    user_feedback  smallint CHECK (user_feedback IN (-1, 0, 1)),
    attributes     jsonb NOT NULL DEFAULT '{}'::jsonb,
    ingested_at    timestamptz NOT NULL DEFAULT now(),
    complete       boolean NOT NULL DEFAULT true,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    completed_xid  xid8,
    part_time      timestamptz NOT NULL,
    CONSTRAINT traces_start_within_part CHECK (start_time <= part_time)
) PARTITION BY RANGE (part_time);

CREATE TABLE spans (
    trace_id       text NOT NULL,
    span_id        text NOT NULL,
    parent_span_id text,
    kind           text NOT NULL
                   CHECK (kind IN ('llm', 'retriever', 'chain', 'tool', 'embedding', 'other')),
    name           text NOT NULL,
    start_time     timestamptz NOT NULL,
    end_time       timestamptz,
    attributes     jsonb NOT NULL DEFAULT '{}'::jsonb,
    status         text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'error')),
    mapped         jsonb NOT NULL DEFAULT '{}'::jsonb,
    part_time      timestamptz NOT NULL  -- its trace's
) PARTITION BY RANGE (part_time);

CREATE TABLE retrievals (
    trace_id    text NOT NULL,
    span_id     text NOT NULL DEFAULT '',
    rank        integer NOT NULL CHECK (rank >= 0),
    document_id text,
    content     text NOT NULL,
    score       double precision,
    part_time   timestamptz NOT NULL  -- its trace's
) PARTITION BY RANGE (part_time);

CREATE TABLE scores (
    id                bigint NOT NULL DEFAULT nextval('scores_id_seq'),
    trace_id          text NOT NULL,
    app               text NOT NULL,
    trace_start       timestamptz NOT NULL,  -- the trace's part_time: the partition key
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
    measure           double precision,
    written_xid       xid8,
    CONSTRAINT scores_scored_has_result
        CHECK (status <> 'scored' OR value IS NOT NULL OR label IS NOT NULL OR measure IS NOT NULL),
    CONSTRAINT scores_only_scored_has_result
        CHECK (status = 'scored' OR (value IS NULL AND measure IS NULL))
) PARTITION BY RANGE (trace_start);
ALTER SEQUENCE scores_id_seq OWNED BY scores.id;  -- else dropping scores_0016 drops it

-- The four tables' partitions of [lo, hi), named <table>_pYYYYMMDD after lo; those that
-- exist are skipped. CREATE TABLE ... PARTITION OF would lock the parent ACCESS EXCLUSIVE
-- (reads and writes wait); LIKE then ATTACH locks it SHARE UPDATE EXCLUSIVE, which they
-- do not wait for.
CREATE FUNCTION vigil_create_partitions(lo timestamptz, hi timestamptz) RETURNS void
LANGUAGE plpgsql SET TimeZone = 'UTC' AS $$
DECLARE
    t text;
    name text;
BEGIN
    FOREACH t IN ARRAY ARRAY['traces', 'spans', 'retrievals', 'scores'] LOOP
        name := format('%s_p%s', t, to_char(lo, 'YYYYMMDD'));
        IF to_regclass(quote_ident(name)) IS NULL THEN
            EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                           name, t);
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           t, name, lo, hi);
        END IF;
    END LOOP;
END $$;

-- Makes sure a partition holds each of `times`; returns the times refused: older than the
-- traces' retention, or more than `max_ahead` in the future (one bad clock must not make a
-- partition for 2099). The usual case is one indexed probe a time, without a lock. New
-- ranges are aligned on Mondays (UTC) for 7 days, and clipped by their neighbours when the
-- width changed. vigil.store.partitions calls it.
CREATE FUNCTION vigil_ensure_partitions(times timestamptz[], max_ahead interval DEFAULT '1 day')
RETURNS timestamptz[] LANGUAGE plpgsql SET TimeZone = 'UTC' AS $$
DECLARE
    t timestamptz;
    new_lo timestamptz;
    new_hi timestamptz;
    width integer;
    keep integer;
    refused timestamptz[] := '{}';
    epoch constant timestamp := '2000-01-03 00:00';  -- a Monday
BEGIN
    SELECT r.keep_days INTO keep FROM retention_policies r WHERE r.data = 'traces';
    FOR t IN SELECT DISTINCT u FROM unnest(times) u WHERE u IS NOT NULL ORDER BY 1 LOOP
        -- Refused even where a partition still holds it: retention drops it next.
        IF t > now() + max_ahead OR (keep IS NOT NULL AND t < now() - make_interval(days => keep))
        THEN
            refused := refused || t;
            CONTINUE;
        END IF;
        CONTINUE WHEN EXISTS (SELECT 1 FROM time_partitions p
                              WHERE p.lo <= t AND t < p.hi AND p.traces_dropped_at IS NULL);
        PERFORM pg_advisory_xact_lock(1986619158);  -- vigil.store.partitions.LOCK_KEY
        CONTINUE WHEN EXISTS (SELECT 1 FROM time_partitions p  -- made meanwhile
                              WHERE p.lo <= t AND t < p.hi AND p.traces_dropped_at IS NULL);
        new_lo := NULL;
        SELECT p.lo, p.hi INTO new_lo, new_hi FROM time_partitions p WHERE p.lo <= t AND t < p.hi;
        IF new_lo IS NULL THEN  -- a new range, aligned, then clipped by its neighbours
            SELECT p.days INTO width FROM partitioning p;
            new_lo := epoch + make_interval(days => width * floor(
                      extract(epoch FROM (t AT TIME ZONE 'UTC') - epoch) / (width * 86400.0))::int);
            new_hi := least(new_lo + make_interval(days => width),
                            (SELECT min(p.lo) FROM time_partitions p WHERE p.lo > t));
            new_lo := greatest(new_lo, (SELECT max(p.hi) FROM time_partitions p WHERE p.hi <= t));
        END IF;  -- else: a range re-made after its traces were dropped
        PERFORM vigil_create_partitions(new_lo, new_hi);
        INSERT INTO time_partitions AS p (lo, hi) VALUES (new_lo, new_hi)
        ON CONFLICT ON CONSTRAINT time_partitions_pkey
        DO UPDATE SET traces_dropped_at = NULL, rolled_at = NULL;
    END LOOP;
    RETURN refused;
END $$;

-- Every week (Monday to Monday, UTC) from the oldest trace to two weeks ahead, empty ones too.
DO $$
DECLARE
    w timestamp;
    first timestamp := date_trunc('week', (SELECT min(start_time) FROM traces_0016) AT TIME ZONE 'UTC');
    last timestamp := greatest(
        date_trunc('week', (SELECT max(start_time) FROM traces_0016) AT TIME ZONE 'UTC'),
        date_trunc('week', now() AT TIME ZONE 'UTC')) + interval '2 weeks';
BEGIN
    FOR w IN SELECT generate_series(coalesce(first, date_trunc('week', now() AT TIME ZONE 'UTC')),
                                    last, interval '1 week') LOOP
        PERFORM vigil_create_partitions(w AT TIME ZONE 'UTC', (w + interval '1 week') AT TIME ZONE 'UTC');
        INSERT INTO time_partitions (lo, hi)
        VALUES (w AT TIME ZONE 'UTC', (w + interval '1 week') AT TIME ZONE 'UTC');
    END LOOP;
END $$;

-- The rows, each trace's part_time being its start time now. completed_xid and written_xid
-- are copied before the triggers exist: the exporter and the rollups do not count them again.
INSERT INTO trace_ids (id, part_time, app) SELECT id, start_time, app FROM traces_0016;
INSERT INTO traces SELECT *, start_time FROM traces_0016;
INSERT INTO spans SELECT s.*, t.start_time FROM spans_0016 s JOIN traces_0016 t ON t.id = s.trace_id;
INSERT INTO retrievals
SELECT r.*, t.start_time FROM retrievals_0016 r JOIN traces_0016 t ON t.id = r.trace_id;
INSERT INTO scores (id, trace_id, app, trace_start, evaluator, evaluator_version, value, label,
                    explanation, metadata, status, run_id, attempts, created_at, measure,
                    written_xid)
SELECT s.id, s.trace_id, s.app, t.start_time, s.evaluator, s.evaluator_version, s.value, s.label,
       s.explanation, s.metadata, s.status, s.run_id, s.attempts, s.created_at, s.measure,
       s.written_xid
FROM scores_0016 s JOIN traces_0016 t ON t.id = s.trace_id;

DROP TABLE scores_0016, retrievals_0016, spans_0016, traces_0016;

-- Keys and indexes after the load (faster than row by row), with the old names.
ALTER TABLE traces ADD CONSTRAINT traces_pkey PRIMARY KEY (id, part_time);
ALTER TABLE spans ADD CONSTRAINT spans_pkey PRIMARY KEY (trace_id, span_id, part_time);
ALTER TABLE retrievals ADD CONSTRAINT retrievals_pkey PRIMARY KEY (trace_id, span_id, rank, part_time);
ALTER TABLE scores ADD CONSTRAINT scores_pkey
    PRIMARY KEY (trace_id, evaluator, evaluator_version, trace_start);
CREATE INDEX trace_ids_part_time_idx ON trace_ids (part_time);

CREATE INDEX traces_start_idx ON traces (start_time);
CREATE INDEX traces_app_start_idx ON traces (app, start_time);
CREATE INDEX traces_app_prompt_start_idx ON traces (app, prompt_version, start_time);
CREATE INDEX traces_app_model_start_idx ON traces (app, model, start_time);
CREATE INDEX traces_segment_idx ON traces USING gin (segment jsonb_path_ops);
CREATE INDEX traces_incomplete_idx ON traces (updated_at) WHERE NOT complete;
CREATE INDEX traces_completed_xid_idx ON traces (completed_xid) WHERE completed_xid IS NOT NULL;
CREATE INDEX traces_errors_start_idx ON traces (start_time, id) WHERE status = 'error';

CREATE INDEX scores_app_eval_time_idx ON scores (app, evaluator, evaluator_version, trace_start);
CREATE INDEX scores_run_idx ON scores (run_id);
CREATE INDEX scores_written_xid_idx ON scores (written_xid) WHERE written_xid IS NOT NULL;
CREATE INDEX scores_error_idx ON scores (app, trace_start) WHERE status = 'error';
CREATE INDEX scores_trace_evaluator_value_idx ON scores (trace_id, evaluator, value)
    WHERE status = 'scored';
CREATE INDEX scores_evaluator_value_idx ON scores (evaluator, value) INCLUDE (trace_id)
    WHERE status = 'scored';

-- 0008's and 0014's triggers, on the new parents (partitions get them, attached later too).
CREATE TRIGGER traces_completed_on_insert BEFORE INSERT ON traces
    FOR EACH ROW WHEN (NEW.complete) EXECUTE FUNCTION vigil_mark_completed();
CREATE TRIGGER traces_completed_on_update BEFORE UPDATE OF complete ON traces
    FOR EACH ROW WHEN (NEW.complete AND NOT OLD.complete) EXECUTE FUNCTION vigil_mark_completed();
CREATE TRIGGER scores_written BEFORE INSERT OR UPDATE ON scores
    FOR EACH ROW EXECUTE FUNCTION vigil_mark_written();
CREATE TRIGGER traces_rollup_change AFTER UPDATE ON traces FOR EACH ROW
    WHEN (OLD.complete AND (OLD.complete, OLD.app, OLD.start_time, OLD.latency_ms, OLD.model,
                            OLD.prompt_version, OLD.tokens_in, OLD.tokens_out, OLD.cost_usd)
          IS DISTINCT FROM (NEW.complete, NEW.app, NEW.start_time, NEW.latency_ms, NEW.model,
                            NEW.prompt_version, NEW.tokens_in, NEW.tokens_out, NEW.cost_usd))
    EXECUTE FUNCTION vigil_note_rollup_change();

-- A review item carries its trace's app and partition, so that the review pages scope by
-- app without the trace, and a labelled item keeps both after its trace is dropped. They
-- are filled from trace_ids on insert; a trace that is not stored is refused, as the
-- foreign key did.
ALTER TABLE review_items ADD COLUMN app text, ADD COLUMN part_time timestamptz;
UPDATE review_items i SET app = k.app, part_time = k.part_time
FROM trace_ids k WHERE k.id = i.trace_id;
ALTER TABLE review_items ALTER COLUMN app SET NOT NULL, ALTER COLUMN part_time SET NOT NULL;
CREATE INDEX review_items_app_status_idx ON review_items (app, status, created_at);

CREATE FUNCTION vigil_review_item_trace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT k.app, k.part_time INTO NEW.app, NEW.part_time FROM trace_ids k
    WHERE k.id = NEW.trace_id;
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('review item for trace %s, which is not stored', NEW.trace_id);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER review_items_trace BEFORE INSERT ON review_items
    FOR EACH ROW EXECUTE FUNCTION vigil_review_item_trace();

-- A score's day is its trace's part_time now: rebuild the rollups, as 0014 did, and move the
-- mark to this snapshot (the writers wait for this migration).
DELETE FROM score_daily;
DELETE FROM trace_daily;
DELETE FROM latency_daily;
DELETE FROM rollup_changes;

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

UPDATE rollup_marks SET snapshot = pg_current_snapshot() WHERE name = 'overview';

-- Autovacuum analyzes partitions, never their parents.
ANALYZE traces, spans, retrievals, scores, trace_ids;
