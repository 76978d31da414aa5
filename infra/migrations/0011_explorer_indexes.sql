-- The trace explorer (docs/ui.md#trace-explorer): indexes for its filters. Measured with
-- EXPLAIN ANALYZE on 1M traces and 5M scores over 30 days (PostgreSQL 18); the time range,
-- app, model, prompt version, segment and label filters need nothing new (traces_start_idx
-- with an incremental sort on id, skip scans of the (app, ...) indexes, the segment GIN,
-- a semi-join from the small review_items table).

-- "status = error": errors are rare, so the newest errors were found by reading every trace
-- in the range (30 ms for a deep page of one app, 400 ms with a score filter over 30 days).
-- This index lists only them, in page order: under 2 ms, 14 ms with the score filter.
CREATE INDEX traces_errors_start_idx ON traces (start_time, id) WHERE status = 'error';

-- A score range, probed for each trace in time order (EXISTS on scores): index-only, with the
-- range in the index condition, instead of a heap visit per trace (5% of traces in range,
-- 7 days: 30 ms -> 4 ms; 0.3% in one app over 30 days: 700 ms -> 230 ms).
CREATE INDEX scores_trace_evaluator_value_idx ON scores (trace_id, evaluator, value)
    WHERE status = 'scored';

-- A narrow score range (the worst 0.05%): the planner starts from the scores in range and
-- fetches their traces, instead of probing every trace of the month (860 ms -> 16 ms).
CREATE INDEX scores_evaluator_value_idx ON scores (evaluator, value) INCLUDE (trace_id)
    WHERE status = 'scored';
