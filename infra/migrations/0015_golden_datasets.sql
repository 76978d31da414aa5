-- Golden datasets and CI gate runs (issue 15, docs/datasets.md and docs/gate.md).
--
-- A dataset has numbered versions; a version is immutable: its items never change, an
-- edit (an import with other content, reviewed traces added) makes a new version. Items
-- are stored once by the hash of their content and shared by the versions that hold them.

CREATE TABLE datasets (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$'),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE golden_items (
    hash  text PRIMARY KEY,          -- sha256 of the item's canonical JSON
    item  jsonb NOT NULL             -- vigil.golden.GoldenItem
);

CREATE TABLE dataset_versions (
    id            bigserial PRIMARY KEY,
    dataset_id    bigint NOT NULL REFERENCES datasets (id),
    version       integer NOT NULL CHECK (version > 0),
    content_hash  text NOT NULL,     -- sha256 over the items' keys and hashes, in order
    items         integer NOT NULL CHECK (items >= 0),
    change        text NOT NULL,     -- what made it: "import golden.jsonl", "add 3 reviewed traces"
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (dataset_id, version)
);

CREATE TABLE dataset_items (
    version_id  bigint NOT NULL REFERENCES dataset_versions (id),
    position    integer NOT NULL,
    key         text NOT NULL,
    item_hash   text NOT NULL REFERENCES golden_items (hash),
    PRIMARY KEY (version_id, key),
    UNIQUE (version_id, position)
);

-- Versions are immutable: rows are only ever added (TRUNCATE, for a test reset, still works).
CREATE FUNCTION vigil_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable: an edit makes a new dataset version', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER dataset_versions_immutable BEFORE UPDATE OR DELETE ON dataset_versions
    FOR EACH ROW EXECUTE FUNCTION vigil_immutable();
CREATE TRIGGER dataset_items_immutable BEFORE UPDATE OR DELETE ON dataset_items
    FOR EACH ROW EXECUTE FUNCTION vigil_immutable();
CREATE TRIGGER golden_items_immutable BEFORE UPDATE OR DELETE ON golden_items
    FOR EACH ROW EXECUTE FUNCTION vigil_immutable();

-- A gate run: a candidate scored on one dataset version with pinned evaluators, compared
-- with a baseline run. Written in one transaction when the run ends.
CREATE TABLE gate_runs (
    id                  bigserial PRIMARY KEY,
    dataset_version_id  bigint NOT NULL REFERENCES dataset_versions (id),
    candidate           text NOT NULL,          -- module:function or the outputs file
    config              jsonb NOT NULL,         -- vigil.gate.GateConfig
    config_hash         text NOT NULL,
    evaluators          jsonb NOT NULL,         -- {name: version}
    baseline_run_id     bigint REFERENCES gate_runs (id),
    baseline            text,                   -- how the baseline was chosen: "last-passing", "run 3", a file
    verdict             text NOT NULL CHECK (verdict IN ('pass', 'fail')),
    rules               jsonb NOT NULL,         -- [RuleResult]
    items               integer NOT NULL,
    errors              integer NOT NULL,
    git_sha             text,
    started_at          timestamptz NOT NULL,
    finished_at         timestamptz NOT NULL DEFAULT now(),
    created_by          text NOT NULL
);
CREATE INDEX gate_runs_version_idx ON gate_runs (dataset_version_id, verdict, id);

-- The candidate's output on each item (one row per item and sample).
CREATE TABLE gate_outputs (
    run_id      bigint NOT NULL REFERENCES gate_runs (id) ON DELETE CASCADE,
    item_key    text NOT NULL,
    sample      integer NOT NULL DEFAULT 0,
    answer      text,
    contexts    jsonb NOT NULL DEFAULT '[]'::jsonb,
    error       text,                               -- the candidate raised or timed out
    latency_ms  double precision,
    PRIMARY KEY (run_id, item_key, sample)
);

-- Per item and metric: the value the rules use, every judgement when it was judged again,
-- and whether the judgements disagreed.
CREATE TABLE gate_scores (
    run_id       bigint NOT NULL REFERENCES gate_runs (id) ON DELETE CASCADE,
    item_key     text NOT NULL,
    metric       text NOT NULL,
    version      text NOT NULL,
    value        double precision,                 -- NULL: not scored (see status)
    status       text NOT NULL CHECK (status IN ('scored', 'skipped', 'error')),
    explanation  text,
    votes        double precision[] NOT NULL DEFAULT '{}',
    flaky        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (run_id, item_key, metric)
);
