"""An alert as each destination wants it: Vigil's JSON, a Slack Block Kit message, or a
PagerDuty Events API v2 event. Pure functions: (URL, JSON body, headers)."""

from __future__ import annotations

from typing import Any

from vigil.alerts.alert import Alert
from vigil.alerts.config import Destination, PagerDuty, Slack, Webhook

Request = tuple[str, dict[str, Any], dict[str, str]]
_EMOJI = {"trigger": ":rotating_light:", "resolve": ":white_check_mark:"}


def render(dest: Destination, alert: Alert) -> Request:
    if isinstance(dest, PagerDuty):
        return dest.url, pagerduty(dest, alert), {}
    if isinstance(dest, Slack):
        return dest.url, slack(alert), {}
    if isinstance(dest, Webhook):
        return dest.url, webhook(alert), dict(dest.headers)
    raise TypeError(f"no format for destination type {type(dest).__name__}")


def webhook(alert: Alert) -> dict[str, Any]:
    """Vigil's own JSON: the alert's fields, plus the summary line and a format version."""
    return {"version": 1, "event": alert.action, "summary": alert.summary(),
            **alert.model_dump(exclude={"action"})}  # fmt: skip


def pagerduty(dest: PagerDuty, alert: Alert) -> dict[str, Any]:
    """A trigger carries the summary, severity, source and the details; a resolve carries
    only the dedup_key (PagerDuty ignores anything else on a resolve)."""
    event: dict[str, Any] = {
        "routing_key": dest.routing_key,
        "event_action": alert.action,
        "dedup_key": alert.key,
    }
    if alert.action == "resolve":
        return event
    details = {
        "app": alert.app,
        "metric": alert.metric,
        "segment": alert.segment_text,
        "before": alert.before,
        "after": alert.after,
        "attribution": alert.attribution,
        **alert.details,
    }
    return {
        **event,
        "payload": {
            "summary": alert.summary(),
            "severity": alert.severity,
            "source": f"vigil/{alert.app}",
            "component": alert.app,
            "group": alert.metric or alert.kind,
            "class": alert.kind,
            "custom_details": details,
        },
        "client": "Vigil",
        **({"client_url": alert.links["regression"]} if "regression" in alert.links else {}),
        "links": [{"href": url, "text": label} for label, url in alert.links.items()],
    }


def slack(alert: Alert) -> dict[str, Any]:
    """Block Kit: a header, the facts as fields, the attribution, and link buttons. ``text``
    is the fallback shown in notifications. Texts are escaped for mrkdwn and cut to
    Slack's limits (header 150, field 2,000, section 3,000, button 75 characters)."""
    facts = [("App", alert.app), ("Metric", alert.metric or alert.kind),
             ("Segment", alert.segment_text), ("Severity", alert.severity)]  # fmt: skip
    if alert.before is not None and alert.after is not None:
        facts.append(("Before → after", f"{alert.before:.4g} → {alert.after:.4g}"))
    blocks: list[dict[str, Any]] = [
        {"type": "header",
         "text": {"type": "plain_text", "text": _cut(alert.summary(), 150), "emoji": True}},
        {"type": "section",
         "fields": [{"type": "mrkdwn", "text": _cut(f"*{k}*\n{_esc(v)}", 2000)}
                    for k, v in facts]},
    ]  # fmt: skip
    if alert.attribution:
        lines = "\n".join(f"• {_esc(line)}" for line in alert.attribution[:5])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(lines, 3000)}})
    if alert.links:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": _cut(label.title(), 75)},
             "url": url}
            for label, url in list(alert.links.items())[:5]
        ]})  # fmt: skip
    return {"text": f"{_EMOJI[alert.action]} {_esc(alert.summary())}", "blocks": blocks}


def _esc(text: str) -> str:
    """Slack's mrkdwn escapes: &, < and > (a segment value must not become a link)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
