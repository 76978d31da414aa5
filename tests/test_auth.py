"""Password hashing and the sign-in configuration check (no database needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from vigil import auth
from vigil.errors import VigilError

PASSWORD = "correct horse battery"


def test_a_hash_verifies_its_password_only() -> None:
    stored = auth.hash_password(PASSWORD)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert stored != auth.hash_password(PASSWORD)  # salted
    assert auth.check_password(stored, PASSWORD) == auth.Checked(ok=True)
    assert not auth.check_password(stored, PASSWORD + " ").ok
    assert not auth.check_password(stored, "").ok


def test_an_unknown_user_or_a_broken_hash_fails() -> None:
    assert auth.check_password(None, PASSWORD) == auth.Checked(ok=False)
    assert not auth.check_password("not a hash", PASSWORD).ok


def test_a_hash_with_outdated_parameters_is_replaced() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    checked = auth.check_password(weak, PASSWORD)
    assert checked.ok and checked.new_hash is not None and checked.new_hash != weak
    assert auth.check_password(checked.new_hash, PASSWORD) == auth.Checked(ok=True)
    assert auth.check_password(weak, "wrong password").new_hash is None


def test_short_passwords_and_unknown_roles_are_refused() -> None:
    with pytest.raises(VigilError, match="at least 10"):
        auth.hash_password("short")
    with pytest.raises(VigilError, match="viewer, reviewer, admin"):
        auth.check_role("owner")
    assert len(auth.new_password()) >= auth.MIN_PASSWORD_CHARS


def test_an_auth_section_in_streamlit_secrets_means_oidc(tmp_path: Path) -> None:
    secrets = tmp_path / ".streamlit" / "secrets.toml"
    files = [tmp_path / "missing.toml", secrets]
    assert not auth.oidc_configured(files)
    secrets.parent.mkdir()
    secrets.write_text('[other]\nkey = "x"\n')
    assert not auth.oidc_configured(files)
    secrets.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n')
    assert auth.oidc_configured(files)
    secrets.write_text("[auth\n")
    with pytest.raises(VigilError, match="cannot read"):
        auth.oidc_configured(files)


T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def failures(*offsets: float) -> list[auth.Failure]:
    """Failures at these minutes after T0, each with the streak sign-in gives it."""
    done: list[auth.Failure] = []
    for m in offsets:
        done.append(auth.Failure(at(m), auth.streak(done, at(m))))
    return done


def test_five_failures_within_fifteen_minutes_lock_a_name() -> None:
    assert auth.throttle([], T0) == auth.Throttle()
    four = auth.throttle(failures(0, 1, 2, 3), at(4))
    assert four == auth.Throttle(4) and not four.locked(at(4))

    five = auth.throttle(failures(0, 1, 2, 3, 4), at(4))
    assert five == auth.Throttle(5, at(5))  # refused for a minute
    assert five.locked(at(4.99)) and not five.locked(at(5))

    spread = failures(0, 4, 8, 12, 16)
    assert [f.streak for f in spread] == [1, 2, 3, 4, 4]  # the first fell out of the window
    assert auth.throttle(spread, at(16)) == auth.Throttle(4)
    assert auth.throttle(failures(0, 1, 2), at(30)) == auth.Throttle()


def test_each_failure_after_a_lock_doubles_it_up_to_an_hour() -> None:
    row = failures(0, 1, 2, 3, 4, 6, 9)  # locked until 5; then 2 minutes, then 4
    assert [f.streak for f in row] == [1, 2, 3, 4, 5, 6, 7]
    assert auth.throttle(row, at(9)) == auth.Throttle(7, at(13))
    waits = [auth.lock_after(n) for n in range(1, 14)]
    assert waits[:4] == [timedelta(0)] * 4
    assert waits[4:8] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert waits[-1] == auth.MAX_LOCK == timedelta(hours=1)

    # A failure an hour after each other, once at the longest lock, stays locked: the row
    # needs only its latest failure, however long it has gone on.
    hourly = failures(0, 1, 2, 3, 4)
    for _ in range(30):  # a guess a minute after each lock ends, for more than a day
        nxt = hourly[-1].at + auth.lock_after(hourly[-1].streak) + timedelta(minutes=1)
        hourly.append(auth.Failure(nxt, auth.streak(hourly[-1:], nxt)))
    assert hourly[-1].streak == 35 and hourly[-1].at - T0 > timedelta(days=1)
    last = hourly[-1].at
    assert auth.throttle(hourly[-1:], last) == auth.Throttle(35, last + auth.MAX_LOCK)

    # More than 15 minutes after a lock ended, a failure starts a new row...
    assert auth.streak(row, at(13 + 16)) == 1
    # ... and a lock that ended more than 15 minutes ago no longer counts at all.
    assert auth.throttle(row, at(13 + 16)) == auth.Throttle()
