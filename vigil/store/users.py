"""Users, their per-app grants, and the trail of who changed whose access (docs/access.md).

Every change records its actor in ``access_events``, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
    for an unknown name as for a wrong password; an outdated hash is replaced."""
    stored = password_hash_of(conn, name)
    checked = auth.check_password(stored, password)
    if not checked.ok:
        return None
    if checked.new_hash is not None:
        conn.execute(
            "UPDATE users SET password_hash = %s WHERE name = %s", (checked.new_hash, name)
        )
    return get_user(conn, name)


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
