"""Alerts: destinations from a file (:mod:`.config`), what an alert says (:mod:`.alert`),
how each destination wants it (:mod:`.formats`), and sending with retries (:mod:`.send`).
Which alerts to queue and when is the flows' business (:mod:`flows.alerting`); the queue
and the delivery log are the store's (:mod:`vigil.store.alerts`)."""

from vigil.alerts.alert import Alert
from vigil.alerts.config import AlertsFile, Destination
from vigil.alerts.config import load as load_alerts
from vigil.alerts.formats import render
from vigil.alerts.send import Attempt, send

__all__ = ["Alert", "AlertsFile", "Attempt", "Destination", "load_alerts", "render", "send"]
