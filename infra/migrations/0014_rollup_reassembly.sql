-- The Overview's rollups (0012) follow traces that change after they were counted (issue
-- 14 review): re-assembly rewrites a complete trace's start time, latency, model, prompt
-- version, tokens and cost when a late child span arrives, or when the root of a trace the
-- quiet-trace sweep closed arrives after all, and a swept trace can even become incomplete
-- again. 0008's completed_xid marks a trace only when it becomes complete, so 0012's
-- refresh kept the figures it had first added.
--
-- Each update of a trace that was complete, changing a column the rollups read, now writes
-- the (app, UTC day) it was counted under, and the (app, day) it is now counted under if it
-- is still complete, to rollup_changes in the writer's transaction. vigil.store.rollups.refresh
-- takes those rows and recomputes the rollups of those days from `traces`. Writers only
-- insert: nothing they do waits on another writer or on the refresh.
CREATE TABLE rollup_changes (
    app text NOT NULL,
    day date NOT NULL
);

CREATE FUNCTION vigil_note_rollup_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_changes VALUES (OLD.app, (OLD.start_time AT TIME ZONE 'UTC')::date);
    IF NEW.complete AND (NEW.app, (NEW.start_time AT TIME ZONE 'UTC')::date)
            IS DISTINCT FROM (OLD.app, (OLD.start_time AT TIME ZONE 'UTC')::date) THEN
        INSERT INTO rollup_changes VALUES (NEW.app, (NEW.start_time AT TIME ZONE 'UTC')::date);
    END IF;
    RETURN NULL;
END $$;

-- Traces becoming complete are still added from completed_xid (0008); this is for traces
-- that were complete, i.e. already counted.
CREATE TRIGGER traces_rollup_change AFTER UPDATE ON traces FOR EACH ROW
    WHEN (OLD.complete AND (OLD.complete, OLD.app, OLD.start_time, OLD.latency_ms, OLD.model,
                            OLD.prompt_version, OLD.tokens_in, OLD.tokens_out, OLD.cost_usd)
          IS DISTINCT FROM (NEW.complete, NEW.app, NEW.start_time, NEW.latency_ms, NEW.model,
                            NEW.prompt_version, NEW.tokens_in, NEW.tokens_out, NEW.cost_usd))
    EXECUTE FUNCTION vigil_note_rollup_change();

-- Rollups filled before this migration may hold such stale figures: rebuild them, like
-- 0012's first fill, and move the mark to the same snapshot. The refresh's lock first (a
-- refresh running now finishes), then the writers wait for the rebuild.
SELECT pg_advisory_xact_lock(1986619156);  -- vigil.store.rollups.LOCK_KEY
LOCK TABLE traces, scores IN SHARE MODE;
DELETE FROM score_daily;
DELETE FROM trace_daily;
DELETE FROM latency_daily;

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
