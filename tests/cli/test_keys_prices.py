"""`vigil keys` and `vigil prices`."""

from __future__ import annotations

from click.testing import CliRunner

from cli.main import cli
from vigil.store.keys import app_for_token


def test_create_list_revoke(conn, db_url: str) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    created = runner.invoke(cli, ["keys", "create", "--app", "support-bot"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[0]
    assert token.startswith("vgl_") and app_for_token(conn, token) == "support-bot"
    prefix = token.split("_")[1]
    listed = runner.invoke(cli, ["keys", "list"])
    assert f"{prefix}  support-bot" in listed.output and "active" in listed.output
    assert token not in listed.output  # only the prefix is ever shown again
    revoked = runner.invoke(cli, ["keys", "revoke", prefix])
    assert revoked.exit_code == 0 and app_for_token(conn, token) is None
    again = runner.invoke(cli, ["keys", "revoke", prefix])
    assert again.exit_code == 1 and "No active key" in str(again.exception)


def test_a_new_price_version_applies_from_its_date(conn, db_url: str) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from vigil.store.prices import price_at

    runner = CliRunner()
    result = runner.invoke(
        cli, ["prices", "set", "gpt-4o-mini", "--input", "0.1", "--output", "0.4",
              "--from", "2026-01-01"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    old = price_at(conn, "gpt-4o-mini-2024-07-18", datetime(2025, 6, 1, tzinfo=UTC))
    new = price_at(conn, "openai/gpt-4o-mini", datetime(2026, 2, 1, tzinfo=UTC))
    assert old is not None and old.input_usd_per_mtok == 0.15
    assert new is not None and (new.input_usd_per_mtok, new.output_usd_per_mtok) == (0.1, 0.4)
    assert price_at(conn, "some-unpriced-model", datetime(2026, 2, 1, tzinfo=UTC)) is None
    listed = runner.invoke(cli, ["prices", "list"])
    assert "2026-01-01" in listed.output and "2024-07-18" in listed.output
