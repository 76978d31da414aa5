-- Prometheus metrics (docs/metrics.md): the receivers' ingest counts, summed across every
-- receiver and worker process, and the marks by which the exporter reads each committed
-- trace and score exactly once.

-- Cumulative counts, bumped with one INSERT ... ON CONFLICT DO UPDATE per request. `shard`
-- spreads concurrent writers of one app over several rows, so that batches do not queue on
-- one counter row until they commit; readers sum over it.
CREATE TABLE ingest_counts (
    app        text NOT NULL,            -- '(unknown)' when refused before the key was read
    outcome    text NOT NULL,            -- received, stored, duplicate, rejected, refused
    reason     text NOT NULL DEFAULT '', -- why rejected or refused ('' otherwise)
    shard      smallint NOT NULL DEFAULT 0,
    requests   bigint NOT NULL DEFAULT 0 CHECK (requests >= 0),
    spans      bigint NOT NULL DEFAULT 0 CHECK (spans >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app, outcome, reason, shard)
);

-- The transaction that made a trace complete, and the one that last wrote a score. The
-- exporter reads rows whose transaction committed between two of its snapshots
-- (pg_visible_in_snapshot), so a long transaction that commits late is still read once,
-- and never twice. Rows from before this migration stay NULL: they are history.
ALTER TABLE traces ADD COLUMN completed_xid xid8;
ALTER TABLE scores ADD COLUMN written_xid xid8;
CREATE INDEX traces_completed_xid_idx ON traces (completed_xid) WHERE completed_xid IS NOT NULL;
CREATE INDEX scores_written_xid_idx ON scores (written_xid) WHERE written_xid IS NOT NULL;

CREATE FUNCTION vigil_mark_completed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.completed_xid := pg_current_xact_id();
    RETURN NEW;
END $$;

CREATE FUNCTION vigil_mark_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.written_xid := pg_current_xact_id();
    RETURN NEW;
END $$;

-- A trace counts once, when it becomes complete: whole (JSONL, SDK, a one-batch OTLP
-- trace), when its root span ends in a later batch, or when the quiet-trace sweep closes it.
CREATE TRIGGER traces_completed_on_insert BEFORE INSERT ON traces
    FOR EACH ROW WHEN (NEW.complete) EXECUTE FUNCTION vigil_mark_completed();
CREATE TRIGGER traces_completed_on_update BEFORE UPDATE OF complete ON traces
    FOR EACH ROW WHEN (NEW.complete AND NOT OLD.complete) EXECUTE FUNCTION vigil_mark_completed();
-- A score counts when written, and again only when a retried error is replaced.
CREATE TRIGGER scores_written BEFORE INSERT OR UPDATE ON scores
    FOR EACH ROW EXECUTE FUNCTION vigil_mark_written();
