-- Dropped weeks are final (issue 16, found in review). 0017's vigil_ensure_partitions made a
-- range again when a time fell in one whose traces retention had dropped (after the policy
-- was lengthened, or `--traces forever`, and an old import): its scores partition then was
-- never dropped again, a second roll-up lost counts, and `kept_from` hid the hole; a week
-- made before the dropped ones was read from the roll-up, which lacks it. A time before the
-- end of the last dropped week is now refused, like one older than the retention
-- ("older_than_retention").

CREATE OR REPLACE FUNCTION vigil_ensure_partitions(times timestamptz[], max_ahead interval DEFAULT '1 day')
RETURNS timestamptz[] LANGUAGE plpgsql SET TimeZone = 'UTC' AS $$
DECLARE
    t timestamptz;
    new_lo timestamptz;
    new_hi timestamptz;
    width integer;
    keep integer;
    dropped_to timestamptz;
    refused timestamptz[] := '{}';
    epoch constant timestamp := '2000-01-03 00:00';  -- a Monday
BEGIN
    SELECT r.keep_days INTO keep FROM retention_policies r WHERE r.data = 'traces';
    SELECT max(p.hi) INTO dropped_to FROM time_partitions p WHERE p.traces_dropped_at IS NOT NULL;
    FOR t IN SELECT DISTINCT u FROM unnest(times) u WHERE u IS NOT NULL ORDER BY 1 LOOP
        -- Refused even where a partition still holds it: retention drops it next. Before the
        -- end of the last week whose traces retention dropped, it is refused whatever the
        -- policy says now: those weeks were rolled up, and reads take them from the roll-up.
        IF t > now() + max_ahead OR (keep IS NOT NULL AND t < now() - make_interval(days => keep))
           OR t < dropped_to
        THEN
            refused := refused || t;
            CONTINUE;
        END IF;
        CONTINUE WHEN EXISTS (SELECT 1 FROM time_partitions p
                              WHERE p.lo <= t AND t < p.hi AND p.traces_dropped_at IS NULL);
        PERFORM pg_advisory_xact_lock(1986619158);  -- vigil.store.partitions.LOCK_KEY
        CONTINUE WHEN EXISTS (SELECT 1 FROM time_partitions p  -- made meanwhile
                              WHERE p.lo <= t AND t < p.hi AND p.traces_dropped_at IS NULL);
        SELECT max(p.hi) INTO dropped_to FROM time_partitions p  -- or dropped meanwhile
        WHERE p.traces_dropped_at IS NOT NULL;
        IF t < dropped_to OR EXISTS (SELECT 1 FROM time_partitions p WHERE p.lo <= t AND t < p.hi)
        THEN
            refused := refused || t;
            CONTINUE;
        END IF;
        -- A new range, aligned, then clipped by its neighbours.
        SELECT p.days INTO width FROM partitioning p;
        new_lo := epoch + make_interval(days => width * floor(
                  extract(epoch FROM (t AT TIME ZONE 'UTC') - epoch) / (width * 86400.0))::int);
        new_hi := least(new_lo + make_interval(days => width),
                        (SELECT min(p.lo) FROM time_partitions p WHERE p.lo > t));
        new_lo := greatest(new_lo, (SELECT max(p.hi) FROM time_partitions p WHERE p.hi <= t));
        PERFORM vigil_create_partitions(new_lo, new_hi);
        INSERT INTO time_partitions (lo, hi) VALUES (new_lo, new_hi);
    END LOOP;
    RETURN refused;
END $$;
