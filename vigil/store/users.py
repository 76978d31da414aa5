"""Users, their per-app grants, and the trail of who changed whose access (docs/access.md).

Every change records its actor in ``access_events``, in the same transaction. Failed
password sign-ins are recorded in ``sign_in_attempts`` and throttle the name typed
(:func:`vigil.auth.throttle`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from vigil import auth
from vigil.db.types import Conn
from vigil.errors import VigilError


@dataclass(frozen=True)
class User:
    name: str
    role: str
    email: str | None
    disabled: bool
    apps: frozenset[str]  # granted; an admin sees every app whatever is granted
    has_password: bool
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class Lock:
    """A name's failed password sign-ins in a row, as of the database's clock."""

    name: str  # as typed at sign-in: a user's, or one that does not exist
    failures: int
    last_failure: datetime
    locked_until: datetime | None  # None: not locked (yet)
    wait: timedelta  # how long it is still refused; zero when it is not

    def message(self) -> str:
        minutes = max(1, math.ceil(self.wait.total_seconds() / 60))
        return (
            f"Too many failed sign-ins as {self.name!r}: try again in {minutes} minute"
            f"{'s' if minutes > 1 else ''}, or ask an admin to run "
            f"`vigil users unlock {self.name}`."
        )


class Locked(VigilError):
    """Refused without checking the password: too many failed sign-ins as this name."""

    def __init__(self, lock: Lock) -> None:
        super().__init__(lock.message())
        self.lock = lock


_SELECT = """
    SELECT u.*, coalesce(array_agg(g.app ORDER BY g.app)
                         FILTER (WHERE g.app IS NOT NULL), '{}') AS apps
    FROM users u LEFT JOIN grants g ON g.user_id = u.id
"""


def _user(row: dict) -> User:
    return User(
        name=row["name"],
        role=row["role"],
        email=row["email"],
        disabled=row["disabled"],
        apps=frozenset(row["apps"]),
        has_password=row["password_hash"] is not None,
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


def _event(conn: Conn, actor: str, action: str, subject: str, app: str | None = None,
           detail: str | None = None) -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO access_events (actor, action, subject, app, detail)"
        " VALUES (%s, %s, %s, %s, %s)",
        (actor, action, subject, app, detail),
    )


def count_users(conn: Conn) -> int:
    row = conn.execute("SELECT count(*) AS n FROM users").fetchone()
    assert row is not None
    return int(row["n"])


def add_user(conn: Conn, name: str, role: str, *, by: str, email: str | None = None,
             password_hash: str | None = None) -> User:  # fmt: skip
    """Create a user. Without a password hash the user signs in through OIDC only (by
    ``email``). Call inside a transaction."""
    name = name.strip()
    if not name:
        raise VigilError("a user needs a name")
    auth.check_role(role)
    email = email.strip() if email else None
    if password_hash is None and email is None:
        raise VigilError(
            f"user {name!r} would have no way to sign in: give a password, or an --email "
            "that the identity provider (OIDC) reports"
        )
    clash = conn.execute(
        "SELECT name FROM users WHERE name = %s OR lower(email) = lower(%s)", (name, email)
    ).fetchone()
    if clash is not None:
        raise VigilError(
            f"user {clash['name']!r} already exists"
            + ("" if clash["name"] == name else f" with email {email}")
        )
    conn.execute(
        "INSERT INTO users (name, email, password_hash, role, created_by)"
        " VALUES (%s, %s, %s, %s, %s)",
        (name, email, password_hash, role, by),
    )
    _event(conn, by, "add", name, detail=role)
    return get_user(conn, name)


def get_user(conn: Conn, name: str) -> User:
    row = conn.execute(_SELECT + " WHERE u.name = %s GROUP BY u.id", (name,)).fetchone()
    if row is None:
        raise VigilError(f"no user {name!r}; `vigil users list` shows them")
    return _user(row)


def user_by_email(conn: Conn, email: str) -> User | None:
    row = conn.execute(
        _SELECT + " WHERE lower(u.email) = lower(%s) GROUP BY u.id", (email,)
    ).fetchone()
    return None if row is None else _user(row)


def list_users(conn: Conn) -> list[User]:
    return [_user(r) for r in conn.execute(_SELECT + " GROUP BY u.id ORDER BY u.name")]


def password_hash_of(conn: Conn, name: str) -> str | None:
    """The stored hash of an enabled user; None for an unknown, disabled or OIDC-only one."""
    row = conn.execute(
        "SELECT password_hash FROM users WHERE name = %s AND NOT disabled", (name,)
    ).fetchone()
    return None if row is None else row["password_hash"]


def sign_in(conn: Conn, name: str, password: str) -> User | None:
    """The enabled user with this name and password, or None. The failure takes as long
    for an unknown name as for a wrong password; an outdated hash is replaced.

    A failure is recorded against the name (known or not), a success clears the name's
    failures. Raises :class:`Locked` while the name is locked, after the same time a check
    takes and without checking the password.
    """
    with conn.transaction():
        # One attempt at a time per name, so that parallel guesses cannot all pass the count.
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('vigil sign-in'), hashtext(%s))", (name,)
        )
        failures, now = _failures(conn, name)
        previous = failures.get(name, [])
        throttle = auth.throttle(previous, now)
        if not throttle.locked(now):
            checked = auth.check_password(password_hash_of(conn, name), password)
            if not checked.ok:
                _attempt(conn, name, "failure", streak=auth.streak(previous, now))
                return None
            if previous:
                _attempt(conn, name, "success")
            if checked.new_hash is not None:
                conn.execute(
                    "UPDATE users SET password_hash = %s WHERE name = %s", (checked.new_hash, name)
                )
            return get_user(conn, name)
    auth.check_password(None, password)  # refused in the time a real check takes
    raise Locked(_lock(name, previous, throttle, now))


def _attempt(conn: Conn, name: str, outcome: str, *, streak: int | None = None,
             actor: str | None = None) -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO sign_in_attempts (name, outcome, streak, actor) VALUES (%s, %s, %s, %s)",
        (name, outcome, streak, actor),
    )


def _failures(conn: Conn, name: str | None) -> tuple[dict[str, list[auth.Failure]], datetime]:
    """The failures that may still count (:data:`vigil.auth.FAILURES_READ`) of ``name`` (or
    of every name) since its last success or unlock, oldest first; and the database's now."""
    rows = conn.execute(
        "SELECT a.name, a.at, a.streak FROM sign_in_attempts a"
        " WHERE a.outcome = 'failure' AND a.at > now() - %(read)s"
        " AND (%(name)s::text IS NULL OR a.name = %(name)s)"
        " AND NOT EXISTS (SELECT FROM sign_in_attempts r WHERE r.name = a.name"
        "                 AND r.outcome <> 'failure' AND r.id > a.id)"
        " ORDER BY a.name, a.id",
        {"name": name, "read": auth.FAILURES_READ},
    ).fetchall()
    failures: dict[str, list[auth.Failure]] = {}
    for r in rows:
        failures.setdefault(r["name"], []).append(auth.Failure(r["at"], r["streak"]))
    now = conn.execute("SELECT now() AS now").fetchone()
    assert now is not None
    return failures, now["now"]


def _lock(name: str, failures: list[auth.Failure], throttle: auth.Throttle,
          now: datetime) -> Lock:  # fmt: skip
    until = throttle.until if throttle.locked(now) else None
    wait = until - now if until is not None else timedelta(0)
    return Lock(name, throttle.failures, failures[-1].at, until, wait)


def sign_in_locks(conn: Conn, name: str | None = None) -> list[Lock]:
    """The names (or just ``name``) with failed sign-ins in a row, locked or not yet, by
    name (:func:`vigil.auth.throttle`)."""
    failures, now = _failures(conn, name)
    locks = []
    for who, theirs in failures.items():
        throttle = auth.throttle(theirs, now)
        if throttle.failures > 0:
            locks.append(_lock(who, theirs, throttle, now))
    return locks


def unlock(conn: Conn, name: str, *, by: str) -> bool:
    """Forget the failed sign-ins as ``name`` (a user's or not), so that it may sign in
    again at once. Returns False if there were none. Call inside a transaction."""
    if not sign_in_locks(conn, name):
        return False
    _attempt(conn, name, "unlock", actor=by)
    _event(conn, by, "unlock", name)
    return True


def set_password(conn: Conn, name: str, password_hash: str, *, by: str) -> None:
    get_user(conn, name)
    conn.execute("UPDATE users SET password_hash = %s WHERE name = %s", (password_hash, name))
    _event(conn, by, "password", name)


def set_disabled(conn: Conn, name: str, disabled: bool, *, by: str) -> None:
    """Disable (or enable again) a user: a disabled user cannot sign in."""
    get_user(conn, name)
    conn.execute(
        "UPDATE users SET disabled = %s, disabled_at = CASE WHEN %s THEN now() END,"
        " disabled_by = CASE WHEN %s THEN %s END WHERE name = %s",
        (disabled, disabled, disabled, by, name),
    )
    _event(conn, by, "disable" if disabled else "enable", name)


def set_role(conn: Conn, name: str, role: str, *, by: str) -> None:
    auth.check_role(role)
    get_user(conn, name)
    conn.execute("UPDATE users SET role = %s WHERE name = %s", (role, name))
    _event(conn, by, "role", name, detail=role)


def grant(conn: Conn, name: str, app: str, *, by: str) -> bool:
    """Let the user see (and, as a reviewer, label) ``app``. Returns False if they already
    could."""
    if not app.strip():
        raise VigilError("a grant needs an app")
    get_user(conn, name)
    row = conn.execute(
        "INSERT INTO grants (user_id, app, granted_by)"
        " SELECT id, %s, %s FROM users WHERE name = %s ON CONFLICT DO NOTHING RETURNING app",
        (app.strip(), by, name),
    ).fetchone()
    if row is not None:
        _event(conn, by, "grant", name, app=app.strip())
    return row is not None


def revoke(conn: Conn, name: str, app: str, *, by: str) -> bool:
    """Take ``app`` away from the user. Returns False if it was not granted."""
    get_user(conn, name)
    row = conn.execute(
        "DELETE FROM grants g USING users u WHERE g.user_id = u.id AND u.name = %s"
        " AND g.app = %s RETURNING g.app",
        (name, app),
    ).fetchone()
    if row is not None:
        _event(conn, by, "revoke", name, app=app)
    return row is not None


def grants_of(conn: Conn, name: str) -> list[dict]:
    """The user's grants with who granted them and when."""
    return conn.execute(
        "SELECT g.app, g.granted_by, g.granted_at FROM grants g JOIN users u ON u.id = g.user_id"
        " WHERE u.name = %s ORDER BY g.app",
        (name,),
    ).fetchall()


def access_events(conn: Conn, name: str | None = None, limit: int = 200) -> list[dict]:
    """The access trail, newest first (one user's, or everyone's)."""
    return conn.execute(
        "SELECT at, actor, action, subject, app, detail FROM access_events"
        " WHERE %(name)s::text IS NULL OR subject = %(name)s ORDER BY at DESC, id DESC"
        " LIMIT %(limit)s",
        {"name": name, "limit": limit},
    ).fetchall()
