"""The documentation of Orrin Labs, a fictional smart-home company: 6 products x 6 topics.

Every document is built from a product's facts, so each question the simulated assistant
gets has a known grounded answer, and a known way to get it wrong.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    name: str
    slug: str
    price: int
    warranty_years: int
    return_days: int
    max_devices: int
    battery_hours: int
    weight_g: int
    reset_seconds: int
    plan_price: int
    history_days: int


PRODUCTS = (
    Product("Halcyon Hub", "halcyon-hub", 129, 2, 30, 64, 8, 310, 10, 4, 30),
    Product("Halcyon Hub Mini", "halcyon-hub-mini", 79, 1, 30, 24, 4, 180, 8, 3, 14),
    Product("Lumen Doorbell", "lumen-doorbell", 149, 2, 45, 1, 72, 220, 15, 5, 60),
    Product("Lumen Cam Indoor", "lumen-cam-indoor", 59, 1, 30, 1, 0, 140, 12, 3, 30),
    Product("Tempo Thermostat", "tempo-thermostat", 199, 3, 60, 12, 6, 260, 20, 2, 365),
    Product("Aria Smoke Sensor", "aria-smoke-sensor", 99, 5, 30, 1, 240, 160, 6, 2, 90),
)

TOPICS = ("warranty", "specs", "setup", "pricing", "troubleshooting", "privacy")
ROUTE_OF_TOPIC = {
    "warranty": "policy",
    "privacy": "policy",
    "pricing": "billing",
    "specs": "product",
    "setup": "support",
    "troubleshooting": "support",
}


@dataclass(frozen=True)
class Doc:
    id: str
    title: str
    text: str
    product: str
    topic: str


def _text(p: Product, topic: str) -> str:
    if topic == "warranty":
        return (
            f"The {p.name} comes with a {p.warranty_years}-year limited warranty covering "
            "manufacturing defects. Accidental damage and water damage are not covered. "
            f"Returns are accepted within {p.return_days} days of delivery in the original "
            "packaging. Warranty claims are filed in the Orrin app under Settings, then Support."
        )
    if topic == "specs":
        battery = (
            f"Its backup battery lasts {p.battery_hours} hours during a power outage."
            if p.battery_hours
            else "It has no backup battery and needs mains power."
        )
        return (
            f"The {p.name} connects up to {p.max_devices} devices over Wi-Fi 6 and Thread. "
            f"{battery} It weighs {p.weight_g} grams. It works with Orrin Home, Matter and "
            "voice assistants that support Matter."
        )
    if topic == "setup":
        return (
            f"To set up the {p.name}, install the Orrin app and create an account. Tap Add "
            "Device, scan the QR code on the back of the device, and join your 2.4 GHz or "
            "5 GHz Wi-Fi network. Setup takes about 5 minutes. Keep the phone within 3 meters "
            "of the device during pairing."
        )
    if topic == "pricing":
        return (
            f"The {p.name} costs ${p.price} in the Orrin store. The optional Orrin Plus plan "
            f"costs ${p.plan_price} per month and keeps {p.history_days} days of event "
            "history. Without the plan, events are kept for 24 hours. The plan can be "
            "cancelled at any time from the app."
        )
    if topic == "troubleshooting":
        return (
            f"If the status light on the {p.name} blinks amber, the device lost its network "
            "connection. Move it closer to the router and restart it. To factory reset, hold "
            f"the reset button for {p.reset_seconds} seconds until the light turns white. A "
            "reset erases all settings."
        )
    if topic == "privacy":
        return (
            f"The {p.name} processes events on the device whenever possible. Recordings "
            "uploaded to the cloud are encrypted in transit and at rest. Orrin does not sell "
            "personal data. Data can be exported or deleted from the app under Privacy."
        )
    raise ValueError(f"unknown topic {topic!r}")


def build_corpus() -> list[Doc]:
    """36 documents, one chunk each, with stable ids such as ``halcyon-hub/warranty``."""
    return [
        Doc(f"{p.slug}/{topic}", f"{p.name}: {topic}", _text(p, topic), p.name, topic)
        for p in PRODUCTS
        for topic in TOPICS
    ]
