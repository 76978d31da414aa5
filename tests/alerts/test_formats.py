"""Each destination's payload: PagerDuty Events v2 fields, a Slack Block Kit message, and
Vigil's JSON."""

from __future__ import annotations

from vigil.alerts import Alert, render
from vigil.alerts.config import PagerDuty, Slack, Webhook

ALERT = Alert(
    kind="regression", key="vigil-regression-7", app="shop", severity="error",
    title="groundedness fell on route=technical", metric="score (groundedness)",
    segment={"route": "technical"}, attribution=["route=technical explains 95% of the drop"],
    before=0.75, after=0.41, details={"regression": 7},
    links={"regression": "http://ui/regressions?regression=7",
           "prefect run": "http://prefect/runs/flow-run/abc"},
)  # fmt: skip
PD = PagerDuty(name="oncall", type="pagerduty", routing_key="KEY", url="http://r/pd")


def test_a_pagerduty_trigger_has_the_v2_fields_and_the_cause() -> None:
    url, body, headers = render(PD, ALERT)
    assert url == "http://r/pd" and headers == {}
    assert body["routing_key"] == "KEY"
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == "vigil-regression-7"
    payload = body["payload"]
    assert payload["summary"] == "[shop] groundedness fell on route=technical (0.75 -> 0.41)"
    assert payload["severity"] == "error" and payload["source"] == "vigil/shop"
    assert payload["custom_details"]["segment"] == "route=technical"
    assert payload["custom_details"]["attribution"] == ["route=technical explains 95% of the drop"]
    assert {link["text"] for link in body["links"]} == {"regression", "prefect run"}


def test_a_pagerduty_resolve_carries_only_the_key() -> None:
    _, body, _ = render(PD, ALERT.resolved())
    assert body == {"routing_key": "KEY", "event_action": "resolve",
                    "dedup_key": "vigil-regression-7"}  # fmt: skip


def test_a_slack_message_is_block_kit_with_a_fallback_text() -> None:
    _, body, _ = render(Slack(name="c", type="slack", url="http://r/s"), ALERT)
    assert body["text"].startswith(":rotating_light: [shop] groundedness fell")
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["header", "section", "section", "actions"]
    fields = " ".join(f["text"] for f in body["blocks"][1]["fields"])
    assert "*Segment*\nroute=technical" in fields and "0.75 → 0.41" in fields
    buttons = body["blocks"][3]["elements"]
    assert [b["url"] for b in buttons] == list(ALERT.links.values())
    resolved = render(Slack(name="c", type="slack", url="http://r/s"), ALERT.resolved())[1]
    assert resolved["text"].startswith(":white_check_mark: RESOLVED: [shop]")


def test_the_webhook_json_is_the_alert_with_its_event_and_headers() -> None:
    dest = Webhook(name="h", type="webhook", url="http://r/h", headers={"X-Token": "t"})
    _, body, headers = render(dest, ALERT)
    assert headers == {"X-Token": "t"}
    assert body["version"] == 1 and body["event"] == "trigger"
    assert body["key"] == "vigil-regression-7" and body["segment"] == {"route": "technical"}
    assert body["before"] == 0.75 and body["after"] == 0.41
    assert body["links"]["prefect run"] == "http://prefect/runs/flow-run/abc"


def test_slack_texts_are_escaped_and_cut_to_its_limits() -> None:
    odd = ALERT.model_copy(update={"segment": {"route": "<b&c>"}, "title": "x" * 300,
                                   "attribution": ["y" * 5000]})  # fmt: skip
    body = render(Slack(name="c", type="slack", url="http://r/s"), odd)[1]
    header, facts, attribution = body["blocks"][0], body["blocks"][1], body["blocks"][2]
    assert len(header["text"]["text"]) == 150 and header["text"]["text"].endswith("…")
    assert "route=&lt;b&amp;c&gt;" in " ".join(f["text"] for f in facts["fields"])
    assert len(attribution["text"]["text"]) == 3000
