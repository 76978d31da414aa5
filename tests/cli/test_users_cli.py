"""`vigil users`: add, list, disable, grant, revoke, and the access trail they leave."""

from __future__ import annotations

from datetime import timedelta

import pytest
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


def fail(conn: Conn, name: str, times: int) -> None:
    for _ in range(times):
        assert user_store.sign_in(conn, name, "a wrong password") is None


def test_five_failed_sign_ins_lock_a_name_until_unlocked(conn: Conn, db_url: str) -> None:
    run("add", "ana", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    fail(conn, "ana", 4)
    assert user_store.sign_in(conn, "ana", PASSWORD) is not None  # a success starts again
    assert user_store.sign_in_locks(conn) == []

    fail(conn, "ana", 5)
    with pytest.raises(user_store.Locked, match="try again in 1 minute") as locked:
        user_store.sign_in(conn, "ana", PASSWORD)  # the right password, not even checked
    assert "vigil users unlock ana" in str(locked.value)
    fail(conn, "nobody", 5)  # a name that is no user's is locked the same way
    with pytest.raises(user_store.Locked, match="'nobody'"):
        user_store.sign_in(conn, "nobody", PASSWORD)
    rows = conn.execute(
        "SELECT name, count(*) AS n FROM sign_in_attempts WHERE outcome = 'failure'"
        " GROUP BY name ORDER BY name"
    ).fetchall()
    assert rows == [{"name": "ana", "n": 9}, {"name": "nobody", "n": 5}]  # refusals not counted

    shown = run("locks")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert [line.split()[:2] for line in lines[1:]] == [["ana", "5"], ["nobody", "5"]]
    assert "locked" in run("list").output

    unlocked = run("unlock", "ana", "--by", "ops")
    assert unlocked.output == "unlocked ana\n"
    assert run("unlock", "ana").output == "ana has no failed sign-ins to clear\n"
    assert user_store.sign_in(conn, "ana", PASSWORD) is not None
    assert "active" in run("list").output
    newest = user_store.access_events(conn, "ana")[0]
    assert (newest["actor"], newest["action"]) == ("ops", "unlock")
    assert [lock.name for lock in user_store.sign_in_locks(conn)] == ["nobody"]


def test_a_lock_grows_with_each_failure_after_it_ends(conn: Conn, db_url: str) -> None:
    run("add", "ana", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    fail(conn, "ana", 5)

    def later(minutes: int) -> None:  # the clock moves on: the failures move back
        conn.execute("UPDATE sign_in_attempts SET at = at - make_interval(mins => %s)", (minutes,))

    later(2)  # the 1-minute lock is over
    fail(conn, "ana", 1)
    (lock,) = user_store.sign_in_locks(conn, "ana")
    assert lock.failures == 6 and timedelta(minutes=1) < lock.wait <= timedelta(minutes=2)
    with pytest.raises(user_store.Locked, match="try again in 2 minutes"):
        user_store.sign_in(conn, "ana", PASSWORD)

    later(3)
    assert user_store.sign_in(conn, "ana", PASSWORD) is not None
    assert user_store.sign_in_locks(conn, "ana") == []
