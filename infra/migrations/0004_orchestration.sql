-- Orchestration: per-app sampling policies, batch claims that split work between
-- concurrent runs, and the judge spend of each run.

-- How one app's traces are sampled for evaluation. An app without a row uses the defaults
-- from settings (VIGIL_SAMPLE_RATE, ...); see vigil/sampling.py.
CREATE TABLE sampling_policies (
    app                      text PRIMARY KEY,
    rate                     double precision NOT NULL CHECK (rate >= 0 AND rate <= 1),
    strata                   text[] NOT NULL DEFAULT '{}',  -- model, prompt_version, segment keys
    min_per_stratum          integer NOT NULL DEFAULT 0 CHECK (min_per_stratum >= 0),
    include_thumbs_down      boolean NOT NULL DEFAULT true,
    include_errors           boolean NOT NULL DEFAULT true,
    outlier_quantile         double precision
                             CHECK (outlier_quantile IS NULL
                                    OR (outlier_quantile >= 0.5 AND outlier_quantile < 1)),
    first_per_prompt_version integer NOT NULL DEFAULT 0 CHECK (first_per_prompt_version >= 0),
    max_traces_per_run       integer CHECK (max_traces_per_run IS NULL OR max_traces_per_run > 0),
    judge_max_tokens         bigint CHECK (judge_max_tokens IS NULL OR judge_max_tokens > 0),
    judge_max_cost_usd       double precision
                             CHECK (judge_max_cost_usd IS NULL OR judge_max_cost_usd > 0),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    updated_by               text NOT NULL DEFAULT current_user
);

-- One row per trace that a run has picked. A run evaluates a batch while holding the
-- batch's rows locked (SELECT ... FOR UPDATE SKIP LOCKED), so a concurrent run skips them;
-- a killed run's locks go with its connection. `reason` says why the trace was picked.
CREATE TABLE eval_claims (
    trace_id   text PRIMARY KEY REFERENCES traces (id) ON DELETE CASCADE,
    reason     text NOT NULL,
    first_run  bigint REFERENCES eval_runs (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE eval_runs ADD COLUMN judge_tokens bigint NOT NULL DEFAULT 0;
ALTER TABLE eval_runs ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
