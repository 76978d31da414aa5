"""Question drift with the real MiniLM model on a real PostgreSQL: a new topic on one route
is a regression with the route named and the new questions as examples; the same mix of
questions is not."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from flows.detection import Policy, detect
from flows.windows import detection_windows
from vigil.detection import Limits
from vigil.models import Trace
from vigil.store.traces import insert_traces

START = datetime(2026, 4, 1, tzinfo=UTC)
ROUTES = ("billing", "technical", "account", "shipping")
USUAL = (
    "How do I update the card on my {p} subscription?",
    "When will my {p} order ship?",
    "Can I change the delivery address for my {p}?",
    "Why was I charged twice for the {p}?",
    "How do I reset the password of my {p} account?",
    "Where can I download the invoice for my {p}?",
    "How do I cancel my {p} plan?",
    "Is there a student discount on the {p}?",
)
NEW_TOPIC = (
    "Does the {p} firmware support Matter over Thread?",
    "My {p} keeps dropping off the Zigbee mesh, how do I re-pair it?",
    "Can the {p} run local automations without the cloud bridge?",
    "Which MQTT topics does the {p} publish its sensor readings on?",
)
PRODUCTS = ("thermostat", "doorbell", "hub", "smart plug", "camera")
POLICY = Policy(Limits(), audit_per_day=0, drift_sample=300)


def seed_day(conn, day: int, new_topic_share: float = 0.0) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(day)
    traces = []
    for i in range(160):
        route = ROUTES[i % 4]
        novel = route == "technical" and rng.random() < new_topic_share
        question = rng.choice(NEW_TOPIC if novel else USUAL).format(p=rng.choice(PRODUCTS))
        at = START + timedelta(days=day, minutes=8 * i)
        traces.append(Trace(id=f"q{day:02d}-{i:03d}", app="shop", start_time=at,
                            input=question, output="An answer.", segment={"route": route}))
    with conn.transaction():
        insert_traces(conn, traces)


def detect_day(conn, day: int, embeddings) -> list[dict]:  # type: ignore[no-untyped-def]
    window, baseline = detection_windows(START + timedelta(days=day + 1), 24, 7)
    with conn.transaction():
        detect(conn, window, baseline, policy=POLICY, embed=embeddings.embed_documents)
    return conn.execute("SELECT * FROM regressions WHERE metric = 'question_drift'").fetchall()


def test_a_new_topic_on_one_route_is_question_drift_named_by_its_route(conn, embeddings) -> None:  # type: ignore[no-untyped-def]
    for day in range(7):
        seed_day(conn, day)
    seed_day(conn, 7)  # the same mix of questions: no drift
    assert detect_day(conn, 7, embeddings) == []

    seed_day(conn, 8, new_topic_share=0.9)
    (reg,) = detect_day(conn, 8, embeddings)
    assert reg["attribution"][0]["segment"] == {"route": "technical"}
    evidence = reg["evidence"]
    assert evidence["centroid_distance"] > 0
    largest = evidence["clusters"][0]  # the new questions, shown by their most typical
    assert largest["size"] >= 10 and len(set(largest["examples"])) == len(largest["examples"])
    assert all(any(w in q for w in ("Matter", "Zigbee", "MQTT", "cloud bridge"))
               for q in largest["examples"])  # fmt: skip
