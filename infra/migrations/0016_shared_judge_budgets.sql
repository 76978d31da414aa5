-- A backfill fans its days out over a Prefect work pool (issue 16): each day is a flow run,
-- possibly on another worker. The judge budget of a backfill is shared by its day runs
-- through this table, one row per (backfill, app), added to by every judge request.
CREATE TABLE judge_budgets (
    scope       text NOT NULL,               -- 'backfill:<flow run id>'
    app         text NOT NULL,
    tokens      bigint NOT NULL DEFAULT 0 CHECK (tokens >= 0),
    cost_usd    double precision NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, app)
);

