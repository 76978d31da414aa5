-- OTLP ingestion: traces assembled from spans that arrive in batches, API keys, prices.

-- A trace is complete when its root span has ended (or, for OTLP traces without a root,
-- once no span arrived for the grace period). JSONL traces arrive whole.
ALTER TABLE traces ADD COLUMN complete boolean NOT NULL DEFAULT true;
ALTER TABLE traces ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX traces_incomplete_idx ON traces (updated_at) WHERE NOT complete;

-- The spans' mapped fields (OpenInference / GenAI), from which the trace is assembled.
ALTER TABLE spans ADD COLUMN status text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'error'));
ALTER TABLE spans ADD COLUMN mapped jsonb NOT NULL DEFAULT '{}'::jsonb;

-- API keys for the OTLP receiver: stored as SHA-256 of the secret, scoped to one app.
CREATE TABLE api_keys (
    id          bigserial PRIMARY KEY,
    prefix      text NOT NULL UNIQUE,        -- shown in listings, never enough to authenticate
    secret_hash text NOT NULL UNIQUE,
    app         text NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    revoked_by  text
);

-- Versioned prices: a trace is costed with the price in effect at its start.
CREATE TABLE model_prices (
    model              text NOT NULL,
    effective_from     date NOT NULL,
    input_usd_per_mtok double precision NOT NULL CHECK (input_usd_per_mtok >= 0),
    output_usd_per_mtok double precision NOT NULL CHECK (output_usd_per_mtok >= 0),
    source             text NOT NULL DEFAULT 'vigil default',
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, effective_from)
);

-- List prices published by the providers, USD per million tokens (edit with `vigil prices`).
INSERT INTO model_prices (model, effective_from, input_usd_per_mtok, output_usd_per_mtok) VALUES
    ('gpt-4o',          '2024-10-01', 2.50, 10.00),
    ('gpt-4o-mini',     '2024-07-18', 0.15, 0.60),
    ('gpt-4.1',         '2025-04-14', 2.00, 8.00),
    ('gpt-4.1-mini',    '2025-04-14', 0.40, 1.60),
    ('gpt-4.1-nano',    '2025-04-14', 0.10, 0.40),
    ('o3-mini',         '2025-01-31', 1.10, 4.40),
    ('claude-3-5-haiku','2024-11-04', 0.80, 4.00),
    ('claude-sonnet-4', '2025-05-22', 3.00, 15.00),
    ('llama-3.1-8b',    '2024-07-23', 0.05, 0.08)
ON CONFLICT DO NOTHING;
