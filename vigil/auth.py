"""Passwords and sign-in configuration, without a database (docs/access.md).

Passwords are hashed with argon2id (argon2-cffi's :class:`PasswordHasher`, its current
recommended parameters); a stored hash made with older parameters is rehashed on the next
successful sign-in. Checking the password of an unknown or disabled user costs the same
as checking a real one, so the time a failure takes does not tell which names exist.
"""

from __future__ import annotations

import secrets
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from vigil.errors import VigilError

ROLES = ("viewer", "reviewer", "admin")
MIN_PASSWORD_CHARS = 10

_HASHER = PasswordHasher()
# Verified against when the user is unknown, so a failure takes as long either way.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Checked:
    """The outcome of a password check: ``ok``, and a new hash to store when the stored one
    used outdated parameters."""

    ok: bool
    new_hash: str | None = None


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
