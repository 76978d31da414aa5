-- Alerts: what is firing, what each destination must be told, and every attempt to tell it.
--
-- alert_states has one row per thing that can fire ('regression:12', 'slo:support-latency',
-- 'canary:3'). Going from quiet to firing starts a new episode and queues one trigger
-- notice per destination; an update while firing queues nothing; going quiet queues one
-- resolve to each destination that got the episode's trigger. The unique key of
-- alert_notices makes that once-only under re-runs and concurrent passes.
CREATE TABLE alert_states (
    source_key  text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('regression', 'slo', 'canary', 'test')),
    app         text NOT NULL,
    firing      boolean NOT NULL,
    episode     integer NOT NULL DEFAULT 0,
    fired_at    timestamptz,
    resolved_at timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alert_notices (
    id           bigserial PRIMARY KEY,
    destination  text NOT NULL,
    source_key   text NOT NULL,
    episode      integer NOT NULL,
    action       text NOT NULL CHECK (action IN ('trigger', 'resolve')),
    alert        jsonb NOT NULL,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    last_status  integer,
    last_error   text,
    next_attempt_at timestamptz,  -- a destination that was down: not before then
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    UNIQUE (destination, source_key, episode, action)
);
CREATE INDEX alert_notices_pending_idx ON alert_notices (id) WHERE status = 'pending';

-- One row per HTTP attempt, written as it happens (a killed delivery keeps its attempts).
CREATE TABLE alert_attempts (
    id           bigserial PRIMARY KEY,
    notice_id    bigint NOT NULL REFERENCES alert_notices (id) ON DELETE CASCADE,
    attempt      integer NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    status_code  integer,
    error        text,
    duration_ms  double precision NOT NULL
);
CREATE INDEX alert_attempts_notice_idx ON alert_attempts (notice_id, attempt);

-- Live canaries: the canary flow compares each with its control on a schedule.
CREATE TABLE canaries (
    id          bigserial PRIMARY KEY,
    app         text NOT NULL,
    segment     jsonb NOT NULL,
    against     jsonb NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    stopped_at  timestamptz,
    started_by  text NOT NULL,
    last_verdict text,
    last_checked timestamptz
);
CREATE UNIQUE INDEX canaries_one_live_idx ON canaries (app, segment, against)
    WHERE stopped_at IS NULL;
