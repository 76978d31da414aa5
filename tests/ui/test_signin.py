"""The sign-in gate and per-app grants, through the real form and the real users table."""

from __future__ import annotations

import psycopg
from streamlit.testing.v1 import AppTest

from tests.ui.pages import APP, seed
from vigil import auth
from vigil.store import users

PASSWORD = "correct horse battery"
OTHER_APP = "billing-bot"


def add(conn: psycopg.Connection, name: str, role: str, apps: tuple[str, ...] = (),
        email: str | None = None, password: str | None = PASSWORD) -> None:  # fmt: skip
    with conn.transaction():
        users.add_user(
            conn,
            name,
            role,
            by="test",
            email=email,
            password_hash=None if password is None else auth.hash_password(password),
        )
        for app in apps:
            users.grant(conn, name, app, by="test")


def seed_other_app(conn: psycopg.Connection, first: int) -> int:
    """A regression of another app, with its own headline (a copy of ``first``'s)."""
    row = conn.execute(
        "INSERT INTO regressions (app, metric, evaluator, evaluator_version, segment,"
        " window_start, window_end, baseline_start, baseline_end, window_mean, baseline_mean,"
        " window_n, baseline_n, delta, p_value, q_value, effect, evidence, headline,"
        " first_seen, last_seen)"
        " SELECT %s, metric, evaluator, evaluator_version, segment, window_start, window_end,"
        " baseline_start, baseline_end, 0.1, 0.9, 40, 300, -0.8, 1e-6, 1e-5, 0.8, evidence,"
        " 'SECRET billing headline', first_seen, last_seen FROM regressions WHERE id = %s"
        " RETURNING id",
        (OTHER_APP, first),
    ).fetchone()
    assert row is not None
    return int(row["id"])


def fresh() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=30)


def submit(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="sign_in_name").input(name)
    at.text_input(key="sign_in_password").input(password)
    at.button(key="sign_in_submit").click().run()
    assert not at.exception, at.exception
    return at


def only_the_form(at: AppTest) -> None:
    """What a visitor who is not signed in may see: the form, nothing of any page."""
    assert [t.key for t in at.text_input] == ["sign_in_name", "sign_in_password"]
    assert at.title[0].value == "Sign in to Vigil"
    assert len(at.title) == 1
    assert len(at.dataframe) == 0 and len(at.selectbox) == 0 and len(at.sidebar.button) == 0
    texts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert not any("groundedness" in t or "SECRET" in t for t in texts)


def test_nobody_signed_in_sees_only_the_sign_in_form(conn: psycopg.Connection) -> None:
    reg_id = seed(conn)
    add(conn, "ana", "admin")
    at = fresh().run()
    assert not at.exception, at.exception
    only_the_form(at)

    at.switch_page("app_pages/regressions.py")  # a page's address, or an alert's link
    at.query_params["regression"] = str(reg_id)
    at.run()
    only_the_form(at)


def test_the_first_visit_says_how_to_create_a_user(conn: psycopg.Connection) -> None:
    at = fresh().run()
    assert "vigil users add NAME --role admin" in at.info[0].value
    only_the_form(at)


def test_a_wrong_password_shows_an_error_and_nothing_else(conn: psycopg.Connection) -> None:
    seed(conn)
    add(conn, "ana", "admin")
    at = submit(fresh().run(), "ana", "not the password")
    assert "Wrong name or password" in at.error[0].value
    only_the_form(at)

    at = submit(fresh().run(), "nobody", PASSWORD)  # an unknown name fails the same way
    assert at.error[0].value.startswith("Wrong name or password")
    only_the_form(at)


def test_the_right_password_opens_the_pages_until_signing_out(conn: psycopg.Connection) -> None:
    seed(conn)
    add(conn, "ana", "admin")
    at = submit(fresh().run(), "ana", PASSWORD)
    assert len(at.error) == 0
    assert "ana" in at.sidebar.caption[0].value

    at.switch_page("app_pages/regressions.py").run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value["app"].tolist() == ["support-bot"]

    at.sidebar.button(key="sign_out").click().run()
    only_the_form(at)


def test_a_disabled_user_is_refused_and_signed_out(conn: psycopg.Connection) -> None:
    seed(conn)
    add(conn, "ana", "admin")
    add(conn, "bo", "admin")
    with conn.transaction():
        users.set_disabled(conn, "bo", True, by="ana")
    at = submit(fresh().run(), "bo", PASSWORD)
    assert "Wrong name or password, or the account is disabled" in at.error[0].value
    only_the_form(at)

    at = submit(fresh().run(), "ana", PASSWORD)  # signed in, then disabled: out at once
    at.switch_page("app_pages/regressions.py").run()
    assert len(at.dataframe) > 0
    with conn.transaction():
        users.set_disabled(conn, "ana", True, by="bo")
    at.run()
    assert "disabled or removed" in at.warning[0].value
    only_the_form(at)


def test_a_user_disabled_or_revoked_after_the_page_loaded_cannot_act(
    conn: psycopg.Connection,
) -> None:
    """Streamlit runs a button's callback before the gate re-reads the user: the callback
    checks the users table itself."""
    granted = seed(conn)
    add(conn, "rita", "reviewer", apps=("support-bot",))
    add(conn, "ana", "admin")
    at = submit(fresh().run(), "rita", PASSWORD)
    at.switch_page("app_pages/regressions.py").run()
    with conn.transaction():
        users.revoke(conn, "rita", "support-bot", by="ana")
    at.button(key="regression_ack").click().run()
    row = conn.execute("SELECT status FROM regressions WHERE id = %s", (granted,)).fetchone()
    assert row == {"status": "open"}

    with conn.transaction():
        users.grant(conn, "rita", "support-bot", by="ana")
    at = submit(fresh().run(), "rita", PASSWORD)
    at.switch_page("app_pages/regressions.py").run()
    with conn.transaction():
        users.set_disabled(conn, "rita", True, by="ana")
    at.button(key="regression_ack").click().run()
    row = conn.execute("SELECT status FROM regressions WHERE id = %s", (granted,)).fetchone()
    assert row == {"status": "open"}
    only_the_form(at)


def test_a_reviewer_sees_only_the_granted_app(conn: psycopg.Connection) -> None:
    granted = seed(conn)
    hidden = seed_other_app(conn, granted)
    add(conn, "rui", "reviewer", apps=("support-bot",))
    at = submit(fresh().run(), "rui", PASSWORD)
    at.switch_page("app_pages/regressions.py").run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value["app"].tolist() == ["support-bot"]
    options = at.selectbox(key="regression_pick").options
    assert len(options) == 1 and options[0].startswith(f"#{granted} support-bot")

    at.query_params["regression"] = str(hidden)  # a crafted link to the other app's
    at.run()
    assert not at.exception, at.exception
    assert f"#{hidden}" in at.warning[0].value and "not granted" in at.warning[0].value
    assert at.selectbox(key="regression_pick").value == granted
    texts = (
        [m.value for m in at.markdown]
        + [c.value for c in at.caption]
        + [str(d.value.to_dict()) for d in at.dataframe]
    )
    assert not any("SECRET" in t or OTHER_APP in t for t in texts)

    at.button(key="regression_ack").click().run()  # the granted one: a reviewer labels it
    row = conn.execute(
        "SELECT status, acknowledged_by FROM regressions WHERE id = %s", (granted,)
    ).fetchone()
    assert row == {"status": "acknowledged", "acknowledged_by": "rui"}


def test_an_admin_sees_every_app_and_a_viewer_cannot_act(conn: psycopg.Connection) -> None:
    first = seed(conn)
    seed_other_app(conn, first)
    add(conn, "ana", "admin")
    add(conn, "vic", "viewer", apps=("support-bot",))
    at = submit(fresh().run(), "ana", PASSWORD)
    at.switch_page("app_pages/regressions.py").run()
    assert sorted(at.dataframe[0].value["app"]) == [OTHER_APP, "support-bot"]

    at = submit(fresh().run(), "vic", PASSWORD)
    at.switch_page("app_pages/regressions.py").run()
    assert at.dataframe[0].value["app"].tolist() == ["support-bot"]
    assert [b.key for b in at.button if b.key in ("regression_ack", "regression_resolve")] == []
    assert any("need the reviewer role" in c.value for c in at.caption)


def test_five_wrong_passwords_lock_the_name_known_or_not(conn: psycopg.Connection) -> None:
    seed(conn)
    add(conn, "ana", "admin")
    at = fresh().run()
    for _ in range(4):
        at = submit(at, "ana", "not the password")
        assert at.error[0].value == "Wrong name or password, or the account is disabled."
    at = submit(at, "ana", "not the password")  # the fifth: locked for a minute
    assert "Too many failed sign-ins as 'ana': try again in 1 minute" in at.error[0].value
    at = submit(at, "ana", PASSWORD)  # the right password is refused too, while locked
    assert at.error[0].value.startswith("Too many failed sign-ins as 'ana'")
    assert "vigil users unlock ana" in at.error[0].value
    only_the_form(at)

    for _ in range(5):  # a name that is no user's answers the same
        at = submit(at, "nobody", "not the password")
    assert "Too many failed sign-ins as 'nobody': try again in 1 minute" in at.error[0].value
    only_the_form(at)

    with conn.transaction():
        assert users.unlock(conn, "ana", by="ops")
    at = submit(at, "ana", PASSWORD)
    assert len(at.error) == 0 and "ana" in at.sidebar.caption[0].value


def with_provider(at: AppTest) -> AppTest:
    at.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "not-a-real-secret",
        "client_id": "vigil",
        "client_secret": "not-a-real-secret",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
    }
    return at


def test_with_an_identity_provider_people_sign_in_through_it(conn: psycopg.Connection) -> None:
    seed(conn)
    add(conn, "dana", "reviewer", apps=("support-bot",), email="Dana@Example.com", password=None)
    at = with_provider(fresh())
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception, at.exception
    assert [b.label for b in at.button] == ["Sign in"]  # st.login's button, no password form
    assert len(at.text_input) == 0 and len(at.dataframe) == 0

    at.user = {"is_logged_in": True, "email": "stranger@example.com", "email_verified": True}
    at.run()
    assert "stranger@example.com has no Vigil access" in at.error[0].value
    assert len(at.dataframe) == 0

    at.user = {"is_logged_in": True, "email": "dana@example.com", "email_verified": True}
    at.run()
    at.switch_page("app_pages/regressions.py").run()
    assert not at.exception, at.exception
    assert "dana" in at.sidebar.caption[0].value
    assert at.dataframe[0].value["app"].tolist() == ["support-bot"]


def test_an_email_the_provider_has_not_verified_is_refused(conn: psycopg.Connection) -> None:
    """Strict: a provider that leaves ``email_verified`` out does not vouch for the email."""
    seed(conn)
    add(conn, "dana", "admin", email="dana@example.com", password=None)
    for claims in ({}, {"email_verified": False}, {"email_verified": "false"}):
        at = with_provider(fresh())
        at.user = {"is_logged_in": True, "email": "dana@example.com", **claims}
        at.run()
        assert not at.exception, at.exception
        assert "not report it as verified" in at.error[0].value, claims
        assert len(at.dataframe) == 0 and len(at.sidebar.caption) == 0
        assert [b.key for b in at.button] == ["oidc_sign_out"]


def test_a_session_ends_when_the_provider_reports_someone_else(conn: psycopg.Connection) -> None:
    seed(conn)
    add(conn, "dana", "admin", email="dana@example.com", password=None)
    add(conn, "eve", "viewer", apps=("support-bot",), email="eve@example.com", password=None)
    at = with_provider(fresh())
    at.user = {"is_logged_in": True, "email": "dana@example.com", "email_verified": True}
    at.run()
    at.switch_page("app_pages/regressions.py").run()
    assert "dana" in at.sidebar.caption[0].value

    at.user = {"is_logged_in": True, "email": "stranger@example.com", "email_verified": True}
    at.run()  # another person signed in to the provider: not dana's session any more
    assert not at.exception, at.exception
    assert "signed out of dana's session" in at.warning[0].value
    assert "stranger@example.com has no Vigil access" in at.error[0].value
    assert len(at.dataframe) == 0 and len(at.sidebar.caption) == 0

    at.user = {"is_logged_in": True, "email": "dana@example.com", "email_verified": True}
    at.run()
    assert "dana" in at.sidebar.caption[0].value
    at.user = {"is_logged_in": True, "email": "dana@example.com", "email_verified": False}
    at.run()  # no longer verified
    assert "signed out of dana's session" in at.warning[0].value
    assert len(at.sidebar.caption) == 0

    at.user = {"is_logged_in": True, "email": "dana@example.com", "email_verified": True}
    at.run()
    at.user = {"is_logged_in": True, "email": "eve@example.com", "email_verified": True}
    at.run()  # eve now: her own session, with her own (viewer's) access
    assert "dana" not in at.sidebar.caption[0].value and "eve" in at.sidebar.caption[0].value

    with conn.transaction():  # eve's row now names another email
        conn.execute("UPDATE users SET email = 'eve.old@example.com' WHERE name = 'eve'")
    at.run()
    assert "signed out of eve's session" in at.warning[0].value
    assert len(at.sidebar.caption) == 0
