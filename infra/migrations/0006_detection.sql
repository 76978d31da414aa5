-- Regressions of every metric, one open row per key, with their lifecycle and evidence.
-- A key is (app, metric, evaluator, evaluator_version, segment); trace metrics (cost,
-- tokens, latency, errors) have an empty evaluator and version. A later window of the same
-- incident updates the open row; N clean windows resolve it; it reopens if it comes back.
ALTER TABLE regressions
    ADD COLUMN metric text NOT NULL DEFAULT 'score',
    ADD COLUMN p_value double precision,
    ADD COLUMN q_value double precision,
    ADD COLUMN effect double precision,
    ADD COLUMN attribution jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN headline text,
    ADD COLUMN first_seen timestamptz,
    ADD COLUMN last_seen timestamptz,
    ADD COLUMN clean_windows integer NOT NULL DEFAULT 0,
    ADD COLUMN last_clean_window timestamptz,
    ADD COLUMN acknowledged_by text,
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN resolved_at timestamptz,
    ADD COLUMN reopened integer NOT NULL DEFAULT 0,
    ALTER COLUMN z DROP NOT NULL;

UPDATE regressions SET first_seen = window_start, last_seen = window_end;
ALTER TABLE regressions
    ALTER COLUMN first_seen SET NOT NULL,
    ALTER COLUMN last_seen SET NOT NULL;
-- The old key, one row per day window (its generated name is truncated: look it up).
DO $$
DECLARE old text;
BEGIN
    SELECT conname INTO old FROM pg_constraint
    WHERE conrelid = 'regressions'::regclass AND contype = 'u';
    EXECUTE format('ALTER TABLE regressions DROP CONSTRAINT %I', old);
END $$;

-- Rows from before this migration are one per day window: keep the newest of each key open.
UPDATE regressions r SET status = 'resolved', resolved_at = now()
WHERE status <> 'resolved' AND EXISTS (
    SELECT 1 FROM regressions n
    WHERE n.app = r.app AND n.metric = r.metric AND n.evaluator = r.evaluator
      AND n.evaluator_version = r.evaluator_version AND n.segment = r.segment
      AND n.status <> 'resolved' AND n.window_start > r.window_start);

CREATE UNIQUE INDEX regressions_one_open_idx
    ON regressions (app, metric, evaluator, evaluator_version, segment)
    WHERE status <> 'resolved';
CREATE INDEX regressions_status_idx ON regressions (status, last_seen DESC);

-- The daily audit sample: reviewers also see traces no regression picked.
ALTER TABLE review_items ADD COLUMN audit_day date;
CREATE UNIQUE INDEX review_items_audit_idx ON review_items (trace_id, audit_day)
    WHERE audit_day IS NOT NULL;
