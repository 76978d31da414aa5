-- Segment keys an app promoted (`vigil segments set --app A --keys K1,K2`): span attributes
-- that the receiver copies into each trace's segment, besides the ones it reads anyway.
CREATE TABLE segment_keys (
    app        text PRIMARY KEY,
    keys       text[] NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
