"""`vigil up --host ADDRESS` beyond 127.0.0.1 refuses, in one line, until sign-in and
Prefect's authentication are configured; it starts nothing when it refuses."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.helpers import vigil
from tests.conftest import free_port
from vigil import auth
from vigil.db.types import Conn
from vigil.store import users


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    values = {
        **os.environ,
        "VIGIL_HOME": str(tmp_path / "home"),
        "VIGIL_DATABASE_URL": db_url,
        "VIGIL_PREFECT_PORT": str(free_port()),
        "VIGIL_UI_PORT": str(free_port()),
        "VIGIL_OTLP_PORT": str(free_port()),
        "VIGIL_METRICS_PORT": str(free_port()),
    }
    for name in ("VIGIL_PREFECT_AUTH", "PREFECT_API_URL", "VIGIL_HOST"):
        values.pop(name, None)
    yield values
    vigil(["down"], values)  # only if a refusal failed and something started


def refused(result: subprocess.CompletedProcess[str], env: dict[str, str]) -> str:
    assert result.returncode == 1
    stderr = result.stderr
    assert len(stderr.strip().splitlines()) == 1, stderr  # one line, no traceback
    assert not list((Path(env["VIGIL_HOME"]) / "run").glob("*.pid"))  # nothing started
    return stderr


def test_without_prefect_auth_it_refuses_before_anything_starts(env: dict[str, str]) -> None:
    # a database nothing listens at: refused before it is even tried
    env["VIGIL_DATABASE_URL"] = f"postgresql://vigil@127.0.0.1:{free_port()}/none"
    stderr = refused(vigil(["up", "--host", "0.0.0.0", "--detach"], env, timeout=60), env)
    assert "refusing to bind to 0.0.0.0: set VIGIL_PREFECT_AUTH=user:password" in stderr
    assert "vigil users add" in stderr


def test_without_a_user_it_refuses_naming_how_to_create_one(
    env: dict[str, str], conn: Conn
) -> None:
    env["VIGIL_PREFECT_AUTH"] = "vigil:a-long-secret"
    stderr = refused(vigil(["up", "--host", "0.0.0.0", "--detach"], env, timeout=60), env)
    assert "create a user first (`vigil users add NAME --role admin`)" in stderr
    assert "VIGIL_PREFECT_AUTH" not in stderr  # that one is set

    env["VIGIL_PREFECT_AUTH"] = "no-colon-here"
    stderr = refused(vigil(["up", "--host", "0.0.0.0", "--detach"], env, timeout=60), env)
    assert "VIGIL_PREFECT_AUTH must look like user:password" in stderr

    with conn.transaction():  # with a user, the sign-in check passes
        users.add_user(conn, "ana", "admin", by="test", password_hash=auth.hash_password("x" * 12))
    from cli.access import check_sign_in
    from vigil.settings import Settings

    check_sign_in(Settings(host="0.0.0.0"), env["VIGIL_DATABASE_URL"])
