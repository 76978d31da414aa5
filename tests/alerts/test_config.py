"""The alerts file: valid destinations, and one clear line for each kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.alerts.conftest import write_alerts_file
from vigil.alerts import load_alerts
from vigil.alerts.config import PagerDuty, Slack, Webhook
from vigil.errors import VigilError

ENV = {"PD_KEY": "k", "HOOK_TOKEN": "t"}


def test_a_valid_file_gives_typed_destinations_with_secrets_from_the_environment(
    tmp_path: Path,
) -> None:
    config = load_alerts(write_alerts_file(tmp_path / "a.yaml", "http://h"), ENV)
    pd, slack, hook = config.destinations
    assert isinstance(pd, PagerDuty) and pd.routing_key == "k" and pd.url == "http://h/pd"
    assert isinstance(slack, Slack) and isinstance(hook, Webhook)
    assert hook.headers == {"Authorization": "Bearer t"}
    assert config.get("channel") is slack
    with pytest.raises(VigilError, match="no alert destination 'nope'; the file has: oncall"):
        config.get("nope")


def test_filters_pick_kind_app_and_severity(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "destinations:\n  - {name: p, type: webhook, url: 'http://h', events: [slo],"
        " apps: [shop], min_severity: critical}\n"
    )
    (dest,) = load_alerts(tmp_path / "a.yaml", {}).destinations
    assert dest.wants("slo", "shop", "critical")
    assert not dest.wants("slo", "shop", "warning")
    assert not dest.wants("regression", "shop", "critical")
    assert not dest.wants("slo", "blog", "critical")
    assert dest.wants("test", "vigil", "info")  # a test message goes anywhere


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("destinations:\n  - {name: p, type: pagerduty, routing_key: '${UNSET_KEY}'}\n",
         "destination 'p': routing_key: environment variable UNSET_KEY is not set"),
        ("destinations:\n  - {name: p, type: pager, url: 'http://h'}\n",
         "destination 'p': type: Input tag 'pager' found"),
        ("destinations:\n  - {name: s, type: slack}\n", "destination 's': url: Field required"),
        ("destinations:\n  - {name: s, type: slack, url: 'http://h', colour: red}\n",
         "destination 's': colour: Extra inputs are not permitted"),
        ("destinations:\n  - {name: s, type: slack, url: 'http://h', min_severity: loud}\n",
         "destination 's': min_severity: Input should be 'info'"),
        ("destinations:\n  - {name: s, type: slack, url: 'http://h'}\n"
         "  - {name: s, type: slack, url: 'http://h'}\n",
         "destinations: Value error, destination names must be unique; repeated: s"),
        ("destinations: [\n", "not valid YAML"),
        ("destinations:\n  - {name: s, type: slack, url: 'hooks.slack.com/x'}\n",
         "destination 's': url: Value error, 'hooks.slack.com/x' is not an http(s) URL"),
        ("destinations:\n  - {name: p, type: pagerduty, routing_key: ''}\n",
         "destination 'p': routing_key: String should have at least 1 character"),
        ("destinations:\n  - {name: h, type: webhook, url: 'http://h', headers: {X: 'é'}}\n",
         "destination 'h': headers: Value error, header 'X': use ASCII on one line"),
    ],
)
def test_a_mistake_is_one_line_naming_the_file_the_destination_and_the_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(VigilError) as err:
        load_alerts(path, {})
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(VigilError, match=r"cannot read the alerts file .* VIGIL_ALERTS_FILE"):
        load_alerts(tmp_path / "absent.yaml", {})
