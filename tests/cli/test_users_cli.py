"""`vigil users`: add, list, disable, grant, revoke, and the access trail they leave."""

from __future__ import annotations

from click.testing import CliRunner, Result

from cli.users import users
from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.store import users as user_store

PASSWORD = "a long enough password"


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(users, list(args), input=stdin)


def test_add_stores_a_hash_that_signs_in(conn: Conn, db_url: str) -> None:
    added = run("add", "ana", "--role", "admin", "--password-stdin", "--by", "ops",
                stdin=PASSWORD + "\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert PASSWORD not in added.output  # never echoed
    row = conn.execute("SELECT password_hash, created_by FROM users WHERE name = 'ana'").fetchone()
    assert row is not None and row["created_by"] == "ops"
    assert row["password_hash"].startswith("$argon2id$") and PASSWORD not in row["password_hash"]
    assert user_store.sign_in(conn, "ana", PASSWORD) is not None
    assert user_store.sign_in(conn, "ana", PASSWORD + "x") is None

    again = run("add", "ana", "--role", "viewer", "--password-stdin", stdin=PASSWORD + "\n")
    assert again.exit_code == 1 and "already exists" in str(again.exception)


def test_add_refuses_what_cannot_sign_in(conn: Conn, db_url: str) -> None:
    short = run("add", "bo", "--role", "viewer", "--password-stdin", stdin="short\n")
    assert isinstance(short.exception, VigilError) and "at least" in str(short.exception)
    no_tty = run("add", "bo", "--role", "viewer")  # no terminal to ask, nothing piped
    assert isinstance(no_tty.exception, VigilError) and "--password-stdin" in str(no_tty.exception)
    no_way = run("add", "bo", "--role", "viewer", "--no-password")
    assert isinstance(no_way.exception, VigilError) and "--email" in str(no_way.exception)
    assert user_store.count_users(conn) == 0

    oidc = run("add", "bo", "--role", "viewer", "--no-password", "--email", "bo@example.com")
    assert oidc.exit_code == 0, oidc.output
    bo = user_store.user_by_email(conn, "BO@example.com")
    assert bo is not None and bo.name == "bo" and not bo.has_password


def test_grant_revoke_disable_list_and_the_trail(conn: Conn, db_url: str) -> None:
    run("add", "rui", "--role", "reviewer", "--password-stdin", "--by", "ana", stdin=PASSWORD)
    granted = run("grant", "rui", "--app", "support-bot", "--app", "billing-bot", "--by", "ana")
    assert granted.exit_code == 0, granted.output
    assert "granted support-bot to rui" in granted.output
    assert run("grant", "rui", "--app", "support-bot").output == "rui already had support-bot\n"
    assert user_store.get_user(conn, "rui").apps == {"support-bot", "billing-bot"}
    rows = user_store.grants_of(conn, "rui")
    assert [(g["app"], g["granted_by"]) for g in rows] == [
        ("billing-bot", "ana"), ("support-bot", "ana")
    ]  # fmt: skip

    revoked = run("revoke", "rui", "--app", "billing-bot", "--by", "ana")
    assert revoked.exit_code == 0 and user_store.get_user(conn, "rui").apps == {"support-bot"}
    listed = run("list")
    assert "rui" in listed.output and "reviewer" in listed.output
    assert "support-bot" in listed.output and "billing-bot" not in listed.output

    disabled = run("disable", "rui", "--by", "ana")
    assert disabled.exit_code == 0, disabled.output
    assert "disabled" in run("list").output
    assert user_store.sign_in(conn, "rui", PASSWORD) is None
    assert run("enable", "rui").exit_code == 0
    assert user_store.sign_in(conn, "rui", PASSWORD) is not None

    trail = [(e["actor"], e["action"], e["app"]) for e in user_store.access_events(conn, "rui")]
    assert trail[-4:] == [("ana", "revoke", "billing-bot"), ("ana", "grant", "billing-bot"),
                          ("ana", "grant", "support-bot"), ("ana", "add", None)]  # fmt: skip
    assert ("ana", "disable", None) in trail
    assert "revoke billing-bot" in run("log", "rui").output

    unknown = run("grant", "nobody", "--app", "x")
    assert isinstance(unknown.exception, VigilError) and "vigil users list" in str(
        unknown.exception
    )


def test_list_says_how_to_start(conn: Conn, db_url: str) -> None:
    assert "vigil users add NAME --role admin" in run("list").output


def test_the_demo_user_is_a_reviewer_of_the_demo_app(conn: Conn, db_url: str) -> None:
    from cli.access import demo_user

    first = demo_user(db_url, "orrin-assistant")
    again = demo_user(db_url, "orrin-assistant")  # a later `vigil demo`: a new password
    assert first != again and len(again) >= 20
    assert user_store.sign_in(conn, "demo", first) is None
    demo = user_store.sign_in(conn, "demo", again)
    assert demo is not None and demo.role == "reviewer" and demo.apps == {"orrin-assistant"}
