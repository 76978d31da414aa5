-- Throttling password guesses (docs/access.md "Password sign-in"): every failed password
-- sign-in, by the name typed (known or not, so that an unknown name is throttled like a
-- real one), and the success or `vigil users unlock` that starts the count again. Rows are
-- only ever added: a name's throttle is read from its failures after its last success or
-- unlock (vigil.auth.throttle).
CREATE TABLE sign_in_attempts (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    name    text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('failure', 'success', 'unlock')),
    streak  integer CHECK (streak > 0),      -- a failure's failures in a row, itself included
    actor   text,                            -- who unlocked
    CHECK ((outcome = 'failure') = (streak IS NOT NULL)),
    CHECK ((outcome = 'unlock') = (actor IS NOT NULL))
);
CREATE INDEX sign_in_attempts_name_idx ON sign_in_attempts (name, at);
CREATE INDEX sign_in_attempts_at_idx ON sign_in_attempts (at);

-- An unlock is a change of access, recorded with its actor like the others.
ALTER TABLE access_events DROP CONSTRAINT access_events_action_check;
ALTER TABLE access_events ADD CONSTRAINT access_events_action_check
    CHECK (action IN ('add', 'disable', 'enable', 'role', 'password', 'grant', 'revoke',
                      'unlock'));
