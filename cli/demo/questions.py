"""What users ask the assistant about each topic, with a grounded answer and a made-up one.

A made-up answer states facts that the retrieved documents do not contain: wrong numbers,
invented programmes and promises. That is the regression the demo injects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cli.demo.corpus import Product


@dataclass(frozen=True)
class QA:
    question: Callable[[Product], str]
    grounded: Callable[[Product], str]
    made_up: Callable[[Product], str]


QUESTIONS: dict[str, list[QA]] = {
    "warranty": [
        QA(
            lambda p: f"How long is the warranty on the {p.name}?",
            lambda p: (
                f"The {p.name} has a {p.warranty_years}-year limited warranty that covers "
                "manufacturing defects."
            ),
            lambda p: (
                f"The {p.name} has a {p.warranty_years + 3}-year warranty, and the Orrin "
                "Shield programme extends it for life at no cost."
            ),
        ),
        QA(
            lambda p: f"Can I return the {p.name} if I don't like it?",
            lambda p: (
                f"Yes. Returns are accepted within {p.return_days} days of delivery in the "
                "original packaging."
            ),
            lambda p: (
                f"Yes. Orrin accepts returns for {p.return_days * 3} days and refunds "
                "shipping twice over with a Bonus Voucher."
            ),
        ),
        QA(
            lambda p: f"Does the {p.name} warranty cover water damage?",
            lambda p: "No. Accidental damage and water damage are not covered by the warranty.",
            lambda p: (
                "Yes. Water damage is covered under the Aqua Guard extension, which "
                "Orrin includes free in Europe and Canada."
            ),
        ),
    ],
    "specs": [
        QA(
            lambda p: f"How many devices can the {p.name} connect?",
            lambda p: (
                f"The {p.name} connects up to {p.max_devices} devices over Wi-Fi 6 and Thread."
            ),
            lambda p: (
                f"The {p.name} connects up to {p.max_devices * 4 + 100} devices and also "
                "supports Zigbee and LoRa."
            ),
        ),
        QA(
            lambda p: f"How long does the {p.name} battery last in an outage?",
            lambda p: (
                f"Its backup battery lasts {p.battery_hours} hours during a power outage."
                if p.battery_hours
                else f"The {p.name} has no backup battery; it needs mains power."
            ),
            lambda p: (
                f"The {p.name} battery lasts {p.battery_hours + 48} hours, and the Solar "
                "Pack from Orrin recharges it indefinitely."
            ),
        ),
        QA(
            lambda p: f"Does the {p.name} work with Matter?",
            lambda p: (
                f"Yes. The {p.name} works with Orrin Home, Matter and Matter voice assistants."
            ),
            lambda p: (
                f"Yes, and the {p.name} also runs HomeKit Secure Video and Tuya scenes "
                "natively since firmware 7."
            ),
        ),
    ],
    "setup": [
        QA(
            lambda p: f"How do I set up the {p.name}?",
            lambda p: (
                "Install the Orrin app, tap Add Device, scan the QR code on the back of "
                "the device and join your Wi-Fi network."
            ),
            lambda p: (
                "Call Orrin Concierge at 1-800-555-0199 and a technician will set it up "
                "remotely within 2 hours."
            ),
        ),
        QA(
            lambda p: f"How long does setup of the {p.name} take?",
            lambda p: "Setup takes about 5 minutes.",
            lambda p: (
                "Setup takes about 45 minutes because the firmware must be flashed over USB first."
            ),
        ),
        QA(
            lambda p: f"Which Wi-Fi bands does the {p.name} need?",
            lambda p: "It joins a 2.4 GHz or 5 GHz Wi-Fi network.",
            lambda p: "It needs a 6 GHz Wi-Fi 7 network and an Orrin Mesh Bridge.",
        ),
    ],
    "pricing": [
        QA(
            lambda p: f"How much does the {p.name} cost?",
            lambda p: f"The {p.name} costs ${p.price} in the Orrin store.",
            lambda p: (
                f"The {p.name} costs ${p.price - 40}, and Prime members get a second one free."
            ),
        ),
        QA(
            lambda p: f"What does Orrin Plus cost for the {p.name}?",
            lambda p: (
                f"Orrin Plus costs ${p.plan_price} per month and keeps {p.history_days} "
                "days of event history."
            ),
            lambda p: (
                f"Orrin Plus costs ${p.plan_price + 7} per month and includes unlimited "
                "history plus Netflix."
            ),
        ),
        QA(
            lambda p: "Can I cancel Orrin Plus?",
            lambda p: "Yes. The plan can be cancelled at any time from the app.",
            lambda p: "Only after 12 months; early cancellation costs a $60 fee.",
        ),
    ],
    "troubleshooting": [
        QA(
            lambda p: f"Why is the light on my {p.name} blinking amber?",
            lambda p: (
                "A blinking amber light means the device lost its network connection; "
                "move it closer to the router and restart it."
            ),
            lambda p: (
                "Blinking amber means the battery is overheating; unplug it and contact "
                "the Orrin Safety Team within 24 hours."
            ),
        ),
        QA(
            lambda p: f"How do I factory reset the {p.name}?",
            lambda p: (
                f"Hold the reset button for {p.reset_seconds} seconds until the light turns white."
            ),
            lambda p: (
                f"Hold the reset button for {p.reset_seconds + 30} seconds while pressing "
                "the volume key, then email Orrin Support."
            ),
        ),
        QA(
            lambda p: f"Will a reset delete my {p.name} settings?",
            lambda p: "Yes. A factory reset erases all settings.",
            lambda p: "No. Settings are restored from Orrin Cloud Backup automatically.",
        ),
    ],
    "privacy": [
        QA(
            lambda p: f"Is video from the {p.name} encrypted?",
            lambda p: "Yes. Recordings uploaded to the cloud are encrypted in transit and at rest.",
            lambda p: (
                "Yes, with quantum-safe encryption certified by NIST in 2024 and audited "
                "by Deloitte."
            ),
        ),
        QA(
            lambda p: "Does Orrin sell my data?",
            lambda p: "No. Orrin does not sell personal data.",
            lambda p: (
                "Only anonymised data is shared with 12 advertising partners, including Meta."
            ),
        ),
        QA(
            lambda p: f"How do I delete my {p.name} data?",
            lambda p: "Data can be exported or deleted from the app under Privacy.",
            lambda p: "Send a notarised letter to Orrin Legal in Dublin; deletion takes 90 days.",
        ),
    ],
}
