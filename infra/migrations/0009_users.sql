-- Sign-in and access (docs/access.md). A user signs in with a password (hashed with
-- argon2id; NULL for users who sign in through the identity provider, matched by email),
-- has one role, and sees the apps granted to them (admins see every app).
CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name <> ''),
    email         text,
    password_hash text,                      -- NULL: signs in through OIDC only
    role          text NOT NULL CHECK (role IN ('viewer', 'reviewer', 'admin')),
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL,
    disabled_at   timestamptz,
    disabled_by   text
);
CREATE UNIQUE INDEX users_email_idx ON users (lower(email)) WHERE email IS NOT NULL;

-- The apps a user may see (and, as a reviewer, label).
CREATE TABLE grants (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app        text NOT NULL,
    granted_by text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, app)
);

-- Who changed whose access, and when: every add, disable, role change, grant and revoke.
CREATE TABLE access_events (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL,
    action  text NOT NULL CHECK (action IN ('add', 'disable', 'enable', 'role', 'password',
                                            'grant', 'revoke')),
    subject text NOT NULL,                   -- the user's name
    app     text,
    detail  text
);
CREATE INDEX access_events_subject_idx ON access_events (subject, at);

-- Who resolved a regression by hand (NULL: resolved by clean windows).
ALTER TABLE regressions ADD COLUMN resolved_by text;
