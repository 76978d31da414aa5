-- Evaluators that measure an unbounded quantity (latency in ms, tokens, USD) store it in
-- `measure`, with its unit in metadata->>'unit'; `value` stays a [0, 1] score.
ALTER TABLE scores ADD COLUMN measure double precision;
ALTER TABLE scores DROP CONSTRAINT scores_check;
ALTER TABLE scores DROP CONSTRAINT scores_check1;
ALTER TABLE scores ADD CONSTRAINT scores_scored_has_result
    CHECK (status <> 'scored' OR value IS NOT NULL OR label IS NOT NULL OR measure IS NOT NULL);
ALTER TABLE scores ADD CONSTRAINT scores_only_scored_has_result
    CHECK (status = 'scored' OR (value IS NULL AND measure IS NULL));
