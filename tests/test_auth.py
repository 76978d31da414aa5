"""Password hashing and the sign-in configuration check (no database needed)."""

from __future__ import annotations

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
