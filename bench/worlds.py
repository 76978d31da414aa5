"""The detection benchmark's own worlds: seeded RAG apps with a known incident, or none.

Built apart from the unit tests' rows (``tests/detection/world.py``, which the benchmark may
not import) and shaped differently on purpose, so that the detector is not measured on the
traffic it was tuned on. Each seed draws its own app: a name, 2 or 3 models (with their
shares, latencies and speed per output token), 3 to 5 routes over the demo's six topics,
retrieval indexes over product families, tenants (a long tail), channels, one or two prompt
versions, the number of chunks retrieved, the day's volume (a size per seed, quieter
weekends, a diurnal curve peaking at a seeded hour) and when the incident starts (after 7
to 9 baseline days).

The text is the demo's (``cli.demo``): the Orrin Labs corpus in a real PGVector knowledge
base, its questions, their grounded answers and their made-up ones. Retrieval is a real
search of that knowledge base (the caller passes it), so context relevance and
groundedness score real text. Tokens are counted with the ingest's own tokenizer (a system
prompt, the question and the chunks in; the answer out), cost is left for ingestion to price
from the model price table.

The incidents, each on one segment value that carries a quarter of the traffic or more
(the largest, if no value of the key does):

1. ``hallucinating_prompt``: a new prompt version on one route, most of whose answers state
   facts the retrieved context does not hold (the demo's made-up answers);
2. ``degraded_index``: one retrieval index returns chunks about another question;
3. ``verbose_outputs``: one model pads its answers (more output tokens, cost, some latency);
4. ``longer_context``: one route retrieves twice as many chunks or more (input tokens up);
5. ``slow_model``: one model's latency rises by 60-140%;
6. ``route_quality``: answers on one route are made up more often, nothing else changes.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cli.demo.corpus import PRODUCTS, TOPICS, Product
from cli.demo.questions import QA, QUESTIONS
from cli.demo.traffic import OPENERS
from evaluators.text import sentences
from vigil.ingest.tokens import count_tokens
from vigil.models import Retrieval

Search = Callable[[str, int], list[Retrieval]]  # the knowledge base: question, k -> chunks

APP_NAMES = ("orrin-helpdesk", "homecare-chat", "orrin-store-guide", "install-buddy",
             "smarthome-faq", "orrin-care", "device-doctor", "orrin-answers")  # fmt: skip
ROUTE_NAMES = ("returns", "devices", "onboarding", "plans", "fixes", "trust", "orders",
               "hardware", "accounts", "howto")  # fmt: skip
CHANNELS = ("web", "ios", "android", "slack", "email", "kiosk")
TENANT_WORDS = ("acme", "birch", "cobalt", "delta", "ember", "fjord", "garnet", "harbor",
                "iris", "juniper", "kestrel", "lumen")  # fmt: skip
# Priced in the migrations' model_prices, so ingestion costs them.
MODEL_POOL: dict[str, tuple[float, float]] = {  # median latency ms before output; ms/token
    "gpt-4o-mini": (650.0, 9.0),
    "claude-3-5-haiku": (800.0, 11.0),
    "gpt-4.1-mini": (700.0, 8.0),
    "gpt-4.1-nano": (380.0, 5.0),
    "llama-3.1-8b": (300.0, 4.0),
}
CLOSINGS = (
    "I hope this helps, and let me know if there is anything else I can do for you today.",
    "If you have any other questions about your Orrin devices, feel free to ask at any time.",
    "Thank you for choosing Orrin Labs, and have a wonderful rest of your day at home.",
)
FIRST_DAY = datetime(2026, 5, 4, tzinfo=UTC)
INCIDENT_DAYS = 3
MIN_SHARE = 0.25  # the segment an incident hits carries this share of the traffic (if any does)


@dataclass(frozen=True)
class Incident:
    kind: str
    start_day: int  # index of its first day
    days: int
    key: str  # the true segment: key=value
    value: str
    share: float  # share of the segment's traffic the incident changes
    level: float  # made-up rate (quality), latency factor (slow_model), else 0
    route: str = ""  # hallucinating_prompt: the route the new prompt version serves

    @property
    def segment(self) -> str:
        return f"{self.key}={self.value}"

    def on(self, day: int) -> bool:
        return self.start_day <= day < self.start_day + self.days


@dataclass(frozen=True)
class World:
    name: str
    seed: int
    app: str
    first_day: datetime
    days: int
    per_day: float  # mean traces on a weekday
    weekend: float  # volume factor on Saturdays and Sundays
    weekday0: int  # weekday of the first day
    peak_hour: float
    swing: float  # diurnal amplitude in [0, 1)
    models: dict[str, float]  # name -> share
    topics: dict[str, float]  # topic -> weight
    routes: dict[str, str]  # topic -> route
    indexes: dict[str, str]  # product slug -> retrieval index
    tenants: dict[str, float]
    channels: dict[str, float]
    versions: dict[str, int]  # prompt version -> system prompt tokens (the first ones live)
    live_versions: tuple[str, ...]
    top_k: int
    made_up_rate: float  # of answers on a normal day
    error_rate: float
    incident: Incident | None

    def describe(self) -> str:
        what = "clean" if self.incident is None else (
            f"{self.incident.kind} on {self.incident.segment} from day {self.incident.start_day}"
        )  # fmt: skip
        shares = ", ".join(f"{m} {s:.0%}" for m, s in self.models.items())
        return (
            f"{self.name}: app {self.app}, {self.days} days x ~{self.per_day:.0f} traces, "
            f"{len(set(self.routes.values()))} routes, {len(set(self.indexes.values()))} "
            f"indexes, {len(self.tenants)} tenants, models {shares}, top-k {self.top_k}; {what}"
        )

    def day_start(self, day: int) -> datetime:
        return self.first_day + timedelta(days=day)


def _weights(rng: random.Random, names: list[str] | tuple[str, ...], low: float = 0.5,
             high: float = 1.5) -> dict[str, float]:  # fmt: skip
    raw = {n: rng.uniform(low, high) for n in names}
    total = sum(raw.values())
    return {n: w / total for n, w in raw.items()}


def _partition(rng: random.Random, items: list[str], parts: int) -> list[list[str]]:
    """``items`` shuffled and cut into ``parts`` non-empty groups."""
    items = items[:]
    rng.shuffle(items)
    cuts = sorted(rng.sample(range(1, len(items)), parts - 1))
    return [items[a:b] for a, b in zip([0, *cuts], [*cuts, len(items)], strict=True)]


def _route_shares(world_topics: dict[str, float], routes: dict[str, str]) -> dict[str, float]:
    shares: dict[str, float] = {}
    for topic, weight in world_topics.items():
        shares[routes[topic]] = shares.get(routes[topic], 0.0) + weight
    return shares


def _pick(rng: random.Random, shares: dict[str, float]) -> str:
    """A value with at least MIN_SHARE of the traffic (the largest if none has)."""
    big = sorted(v for v, s in shares.items() if s >= MIN_SHARE)
    return rng.choice(big) if big else max(shares, key=shares.__getitem__)


def plan(seed: int, kind: str | None, per_day: int, clean_days: int) -> World:
    """The world of ``seed`` with an incident of ``kind`` (None: a clean world of
    ``clean_days`` days). Each (seed, kind) draws its own app."""
    rng = random.Random(f"bench.detection:{seed}:{kind}")
    while True:  # routes: 3-5 groups of topics, the largest under 60% of the traffic
        topics = _weights(rng, TOPICS, 0.4, 1.6)
        groups = _partition(rng, list(TOPICS), rng.randint(3, 5))
        names = rng.sample(ROUTE_NAMES, len(groups))
        routes = {t: name for name, group in zip(names, groups, strict=True) for t in group}
        if max(_route_shares(topics, routes).values()) < 0.6:
            break
    families = _partition(rng, [p.slug for p in PRODUCTS], rng.randint(2, 3))
    indexes = {slug: f"kb-{i + 1}-{family[0].split('-')[0]}"
               for i, family in enumerate(families) for slug in family}  # fmt: skip
    n_models = rng.choice((2, 2, 3))
    chosen = rng.sample(list(MODEL_POOL), n_models)
    while True:
        models = _weights(rng, chosen, 0.3, 1.7)
        if min(models.values()) >= 0.22:
            break
    tenant_names = rng.sample(TENANT_WORDS, rng.randint(3, 9))
    zipf = rng.uniform(0.6, 1.3)
    tenants = {n: 1 / (i + 1) ** zipf for i, n in enumerate(tenant_names)}
    tenants = {n: w / sum(tenants.values()) for n, w in tenants.items()}
    channels = _weights(rng, rng.sample(CHANNELS, rng.randint(2, 4)), 0.2, 1.8)
    base = rng.randint(2, 9)
    system = rng.randint(220, 560)
    versions = {f"v{base}": system}
    live: tuple[str, ...] = (f"v{base}",)
    if rng.random() < 0.4:  # an A/B test of two versions running all along
        versions[f"v{base}b"] = system + rng.randint(-20, 20)
        live = (f"v{base}", f"v{base}b")
    start = rng.randint(7, 9)
    days = clean_days if kind is None else start + INCIDENT_DAYS
    incident = None
    route_shares = _route_shares(topics, routes)
    index_shares: dict[str, float] = {}
    for p in PRODUCTS:
        index_shares[indexes[p.slug]] = index_shares.get(indexes[p.slug], 0.0) + 1 / len(PRODUCTS)
    if kind == "hallucinating_prompt":
        new = f"v{base + 1}"
        versions[new] = system + rng.randint(-15, 15)
        incident = Incident(kind, start, INCIDENT_DAYS, "prompt_version", new,
                            rng.uniform(0.8, 1.0), rng.uniform(0.55, 0.8),
                            route=_pick(rng, route_shares))  # fmt: skip
    elif kind == "degraded_index":
        incident = Incident(kind, start, INCIDENT_DAYS, "index", _pick(rng, index_shares),
                            rng.uniform(0.7, 1.0), 0.0)  # fmt: skip
    elif kind == "verbose_outputs":
        incident = Incident(kind, start, INCIDENT_DAYS, "model", _pick(rng, models),
                            rng.uniform(0.8, 1.0), 0.0)  # fmt: skip
    elif kind == "slow_model":
        incident = Incident(kind, start, INCIDENT_DAYS, "model", _pick(rng, models), 1.0,
                            rng.uniform(1.6, 2.4))  # fmt: skip
    elif kind == "longer_context":
        incident = Incident(kind, start, INCIDENT_DAYS, "route", _pick(rng, route_shares),
                            1.0, 0.0)  # fmt: skip
    elif kind == "route_quality":
        incident = Incident(kind, start, INCIDENT_DAYS, "route", _pick(rng, route_shares),
                            1.0, rng.uniform(0.45, 0.7))  # fmt: skip
    elif kind is not None:
        raise ValueError(f"unknown incident kind {kind!r}")
    return World(
        name=f"{kind or 'clean'}/seed {seed}",
        seed=seed,
        app=f"{rng.choice(APP_NAMES)}-{seed}",
        first_day=FIRST_DAY + timedelta(days=rng.randint(0, 90)),
        days=days,
        per_day=per_day * rng.uniform(0.9, 1.35),
        weekend=rng.uniform(0.8, 1.0),
        weekday0=rng.randint(0, 6),
        peak_hour=rng.uniform(0, 24),
        swing=rng.uniform(0.2, 0.7),
        models=models,
        topics=topics,
        routes=routes,
        indexes=indexes,
        tenants=tenants,
        channels=channels,
        versions=versions,
        live_versions=live,
        top_k=rng.randint(3, 5),
        made_up_rate=rng.uniform(0.01, 0.04),
        error_rate=rng.uniform(0.003, 0.012),
        incident=incident,
    )


def _choice(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _arrivals(rng: random.Random, w: World, day: int) -> list[datetime]:
    """The day's arrival times: the volume of the day, spread on a diurnal curve."""
    weekend = (w.weekday0 + day) % 7 >= 5
    n = round(w.per_day * (w.weekend if weekend else 1.0) * rng.uniform(0.92, 1.08))
    out: list[datetime] = []
    while len(out) < n:
        hour = rng.uniform(0, 24)
        if rng.random() < (1 + w.swing * math.cos(2 * math.pi * (hour - w.peak_hour) / 24)) / 2:
            out.append(w.day_start(day) + timedelta(hours=hour))
    return sorted(out)


@dataclass
class DayCount:
    traces: int = 0
    in_segment: int = 0  # traces in the incident's true segment value
    affected: int = 0  # traces the incident changed


@dataclass
class Request:
    """One user request as drawn, before the knowledge base and the model answer it."""

    product: Product
    topic: str
    qa: QA
    question: str
    model: str
    segment: dict[str, str]
    version: str
    made_up_rate: float
    k: int
    query: str  # what the retriever is asked (the question, unless the index is degraded)
    latency_factor: float = 1.0
    verbose: bool = False
    changed: bool = False  # by the incident


def _draw(rng: random.Random, w: World) -> Request:
    product, topic = rng.choice(PRODUCTS), _choice(rng, w.topics)
    qa = rng.choice(QUESTIONS[topic])
    question = qa.question(product)
    segment = {
        "route": w.routes[topic],
        "index": w.indexes[product.slug],
        "tenant": _choice(rng, w.tenants),
        "channel": _choice(rng, w.channels),
    }
    return Request(product, topic, qa, question, _choice(rng, w.models), segment,
                   rng.choice(w.live_versions), w.made_up_rate, w.top_k, question)  # fmt: skip


def _in_segment(inc: Incident, r: Request) -> bool:
    if inc.key == "prompt_version":
        return r.version == inc.value
    return r.model == inc.value if inc.key == "model" else r.segment[inc.key] == inc.value


def _strike(rng: random.Random, w: World, inc: Incident, r: Request) -> None:
    """The incident, on a share of its segment's requests."""
    target = r.segment["route"] == inc.route if inc.route else _in_segment(inc, r)
    if not target or rng.random() >= inc.share:
        return
    r.changed = True
    if inc.kind == "hallucinating_prompt":
        r.version, r.made_up_rate = inc.value, inc.level
    elif inc.kind == "degraded_index":  # the chunks of another question
        topic = rng.choice([t for t in TOPICS if t != r.topic])
        r.query = rng.choice(QUESTIONS[topic]).question(rng.choice(PRODUCTS))
    elif inc.kind == "verbose_outputs":
        r.verbose = True
    elif inc.kind == "slow_model":
        r.latency_factor = inc.level
    elif inc.kind == "longer_context":
        r.k = w.top_k + rng.randint(w.top_k, w.top_k + 3)
    elif inc.kind == "route_quality":
        r.made_up_rate = inc.level


def _served(rng: random.Random, w: World, r: Request, search: Search) -> dict[str, Any]:
    """The request answered: retrieval, answer, tokens, latency (a JSONL trace's fields)."""
    chunks = search(r.query, r.k)
    failed = rng.random() < w.error_rate
    made_up = rng.random() < r.made_up_rate
    answer = None
    if not failed:
        said = r.qa.made_up(r.product) if made_up else r.qa.grounded(r.product)
        answer = rng.choice(OPENERS) + said
        if r.verbose:  # the top chunk retold, and a closing line
            extra = sentences(chunks[0].content)[: rng.randint(2, 4)] if chunks else []
            answer = " ".join([answer, *extra, rng.choice(CLOSINGS)])
    tokens_in = w.versions[r.version] + count_tokens(
        "\n".join([r.question, *(c.content for c in chunks)])
    )
    tokens_out = count_tokens(answer) if answer else 0
    median, per_token = MODEL_POOL[r.model]
    llm = rng.lognormvariate(math.log(median), 0.35) + per_token * tokens_out + 0.15 * tokens_in
    return {
        "latency_ms": round(rng.lognormvariate(math.log(45), 0.3) + llm * r.latency_factor, 1),
        "input": r.question,
        "output": answer,
        "model": r.model,
        "prompt_version": r.version,
        "segment": r.segment,
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "status": "error" if failed else "ok",
        "attributes": {"bench": {"made_up": made_up and not failed, "changed": r.changed}},
        "retrievals": [
            {"document_id": c.document_id, "content": c.content, "score": c.score, "rank": i}
            for i, c in enumerate(chunks)
        ],
    }


def traces(w: World, search: Search) -> Iterator[tuple[int, dict[str, Any], bool, bool]]:
    """(day, trace as a JSONL object, in the true segment, changed by the incident), in
    time order."""
    rng = random.Random(f"bench.detection.traffic:{w.seed}:{w.name}")
    inc = w.incident
    for day in range(w.days):
        for i, ts in enumerate(_arrivals(rng, w, day)):
            r = _draw(rng, w)
            if inc is not None and inc.on(day):
                _strike(rng, w, inc, r)
            trace = _served(rng, w, r, search)
            end = ts + timedelta(milliseconds=trace["latency_ms"])
            trace = {"id": f"{w.app}-{day:02d}-{i:04d}", "app": w.app, "start_time":
                     ts.isoformat(), "end_time": end.isoformat(), **trace}  # fmt: skip
            yield day, trace, inc is not None and _in_segment(inc, r), r.changed


def write_jsonl(w: World, search: Search, path: Path) -> list[DayCount]:
    """Write the world's traces to ``path``, one JSON object a line; the counts per day."""
    counts = [DayCount() for _ in range(w.days)]
    with path.open("w", encoding="utf-8") as out:
        for day, trace, in_segment, changed in traces(w, search):
            out.write(json.dumps(trace) + "\n")
            counts[day].traces += 1
            counts[day].in_segment += in_segment
            counts[day].affected += changed
    return counts
