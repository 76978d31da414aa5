"""Passwords and sign-in configuration, without a database (docs/access.md).

Passwords are hashed with argon2id (argon2-cffi's :class:`PasswordHasher`, its current
recommended parameters); a stored hash made with older parameters is rehashed on the next
successful sign-in. Checking the password of an unknown or disabled user costs the same
as checking a real one, so the time a failure takes does not tell which names exist.

Guessing is throttled per name typed (:func:`throttle`): after :data:`MAX_FAILURES` failures
within :data:`FAILURE_WINDOW`, the name is refused for :data:`FIRST_LOCK`, and each further
failure in a row doubles that, up to :data:`MAX_LOCK`. Unknown names are throttled the same.
"""

from __future__ import annotations

import secrets
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from vigil.errors import VigilError

ROLES = ("viewer", "reviewer", "admin")
MIN_PASSWORD_CHARS = 10

MAX_FAILURES = 5  # failed sign-ins within FAILURE_WINDOW that lock a name
FAILURE_WINDOW = timedelta(minutes=15)
FIRST_LOCK = timedelta(minutes=1)  # each further failure in a row doubles it
MAX_LOCK = timedelta(hours=1)
# Failures older than this never change a name's throttle: only the latest failure and
# those within FAILURE_WINDOW count, and the longest lock ends MAX_LOCK after its failure.
FAILURES_READ = MAX_LOCK + FAILURE_WINDOW

_HASHER = PasswordHasher()
# Verified against when the user is unknown, so a failure takes as long either way.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Checked:
    """The outcome of a password check: ``ok``, and a new hash to store when the stored one
    used outdated parameters."""

    ok: bool
    new_hash: str | None = None


@dataclass(frozen=True)
class Failure:
    """A failed sign-in as a name, and how many failures in a row it made (itself included)."""

    at: datetime
    streak: int


@dataclass(frozen=True)
class Throttle:
    """A name's failed sign-ins in a row, and until when it is refused (None: it is not)."""

    failures: int = 0
    until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        return self.until is not None and now < self.until


def lock_after(failures: int) -> timedelta:
    """How long a name is refused after this many failures in a row."""
    if failures < MAX_FAILURES:
        return timedelta(0)
    return min(FIRST_LOCK * 2 ** min(failures - MAX_FAILURES, 32), MAX_LOCK)


def streak(previous: Sequence[Failure], at: datetime) -> int:
    """The streak of a new failure at ``at``, after ``previous``: the name's failures since
    its last success or unlock, oldest first (those within :data:`FAILURES_READ` suffice).

    Failures are in a row while :data:`MAX_FAILURES` of them fit in :data:`FAILURE_WINDOW`;
    once they lock the name, a failure within :data:`FAILURE_WINDOW` after the lock ends
    continues the row (and doubles the lock); a later one starts a new row.
    """
    if previous and previous[-1].streak >= MAX_FAILURES:
        last = previous[-1]
        if at - (last.at + lock_after(last.streak)) <= FAILURE_WINDOW:
            return last.streak + 1
    return 1 + sum(1 for f in previous if at - f.at <= FAILURE_WINDOW)


def throttle(previous: Sequence[Failure], now: datetime) -> Throttle:
    """The throttle of a name as of ``now``, from its failures as for :func:`streak`."""
    if not previous:
        return Throttle()
    last = previous[-1]
    if last.streak >= MAX_FAILURES:
        until = last.at + lock_after(last.streak)
        return Throttle(last.streak, until) if now - until <= FAILURE_WINDOW else Throttle()
    return Throttle(sum(1 for f in previous if now - f.at <= FAILURE_WINDOW))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise VigilError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    return _HASHER.hash(password)


def check_password(stored_hash: str | None, password: str) -> Checked:
    """Verify ``password`` against ``stored_hash`` (None: an unknown user, or one without a
    password; always a failure, in the same time as a real check)."""
    try:
        _HASHER.verify(stored_hash or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return Checked(ok=False)
    if stored_hash is None:
        return Checked(ok=False)
    if _HASHER.check_needs_rehash(stored_hash):
        return Checked(ok=True, new_hash=_HASHER.hash(password))
    return Checked(ok=True)


def new_password() -> str:
    """A random password for a generated account (the demo's), 20 URL-safe characters."""
    return secrets.token_urlsafe(15)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise VigilError(f"unknown role {role!r}; use one of: {', '.join(ROLES)}")
    return role


def streamlit_secrets_files(cwd: Path) -> list[Path]:
    """Where Streamlit reads ``secrets.toml`` from for an app started in ``cwd``."""
    return [Path.home() / ".streamlit" / "secrets.toml", cwd / ".streamlit" / "secrets.toml"]


def oidc_configured(files: Iterable[Path]) -> bool:
    """Whether a Streamlit secrets file configures an identity provider (an ``[auth]``
    table), so that the app signs people in with ``st.login``."""
    for path in files:
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise VigilError(f"cannot read {path}: {err}") from err
        if isinstance(data.get("auth"), dict):
            return True
    return False
