"""Scoring a detection benchmark's worlds: what each day's pass found, against the incident
the world was built with, and the report (per-incident table, targets, failed cases)."""

from __future__ import annotations

import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench import Row
from bench.incidents import EXPECTED, KINDS
from bench.worlds import DayCount, World
from vigil.settings import load_settings

TARGET_FALSE_ALARMS = 1.0  # per 30 clean days


@dataclass(frozen=True)
class Found:
    """A regression a day's pass returned, as the ``regressions`` table holds it then."""

    id: int
    day: int
    new: bool  # opened (or reopened) by this day's pass
    metric: str
    evaluator: str
    segment: dict[str, str]
    named: dict[str, str]  # attribution[0].segment
    headline: str

    def names(self, key: str, value: str) -> bool:
        return self.named.get(key) == value


@dataclass
class Outcome:
    world: World
    counts: list[DayCount]
    found: list[Found] = field(default_factory=list)
    seconds: float = 0.0  # evaluating and detecting, every day
    evaluate_s: float = 0.0
    detect_s: float = 0.0
    scored: int = 0

    @property
    def kind(self) -> str:
        return self.world.incident.kind if self.world.incident else "clean"

    @property
    def clean_days(self) -> list[int]:
        """Days whose pass had a baseline and no incident."""
        inc = self.world.incident
        last = self.world.days if inc is None else inc.start_day
        return list(range(1, last))

    @property
    def full_clean_days(self) -> list[int]:
        """Clean days whose baseline is the whole ``VIGIL_BASELINE_DAYS``."""
        return [d for d in self.clean_days if d >= load_settings().baseline_days]

    @property
    def false_alarms(self) -> list[Found]:
        clean = set(self.clean_days)
        return [f for f in self.found if f.new and f.day in clean]

    @property
    def full_false_alarms(self) -> list[Found]:
        return [f for f in self.false_alarms if f.day in self.full_clean_days]

    @property
    def hits(self) -> list[Found]:
        """Regressions of the incident's metrics on its days."""
        inc = self.world.incident
        if inc is None:
            return []
        want = EXPECTED[inc.kind]
        return [f for f in self.found if inc.on(f.day) and (f.metric, f.evaluator) in want]

    @property
    def others(self) -> list[Found]:
        """Regressions of other metrics opened on the incident's days: consequences of it
        (groundedness when retrieval degrades, latency with longer answers) or not."""
        inc = self.world.incident
        if inc is None:
            return []
        want = EXPECTED[inc.kind]
        return [f for f in self.found
                if f.new and inc.on(f.day) and (f.metric, f.evaluator) not in want]  # fmt: skip

    @property
    def delay(self) -> int | None:
        """Windows from the incident's first day to its first detection (None: missed)."""
        inc = self.world.incident
        if inc is None or not self.hits:
            return None
        return min(f.day for f in self.hits) - inc.start_day

    @property
    def sampled_delay(self) -> int | None:
        """Windows from the incident's first day to its first day whose true segment has the
        detector's minimum sample (None: none has)."""
        inc, n = self.world.incident, load_settings().detect_min_window_n
        if inc is None:
            return None
        days = [d for d in range(inc.start_day, inc.start_day + inc.days)
                if self.counts[d].in_segment >= n]  # fmt: skip
        return days[0] - inc.start_day if days else None

    @property
    def on_time(self) -> bool:
        """Found by the first window with the minimum sample (found at all, if none has)."""
        if self.delay is None:
            return False
        return self.sampled_delay is None or self.delay <= self.sampled_delay

    @property
    def first_hits(self) -> list[Found]:
        """The regressions of the incident's metrics on its detection day, primary first."""
        inc = self.world.incident
        if inc is None or self.delay is None:
            return []
        order = EXPECTED[inc.kind]
        first = [f for f in self.hits if f.day == inc.start_day + self.delay]
        return sorted(first, key=lambda f: order.index((f.metric, f.evaluator)))

    @property
    def named_right(self) -> bool:
        """The segment named first by the detection day's regression of the incident's
        primary metric (else the first of its metrics found) holds the true key=value."""
        inc, first = self.world.incident, self.first_hits
        return inc is not None and bool(first) and first[0].names(inc.key, inc.value)

    @property
    def named_right_everywhere(self) -> bool:
        """... in every regression of the incident's metrics that day (cost too)."""
        inc, first = self.world.incident, self.first_hits
        return inc is not None and bool(first) and all(f.names(inc.key, inc.value) for f in first)

    @property
    def named_exactly(self) -> bool:
        """The primary regression names the true key=value and nothing else (but the route
        the new prompt version serves)."""
        inc = self.world.incident
        if inc is None or not self.named_right:
            return False
        true = {inc.key: inc.value, **({"route": inc.route} if inc.route else {})}
        return self.first_hits[0].named.items() <= true.items()


def verdict(o: Outcome) -> str:
    inc = o.world.incident
    alarms = len(o.false_alarms)
    clean = f"{alarms} false alarm(s) in {len(o.clean_days)} clean days"
    if inc is None:
        return clean
    if o.delay is None:
        return f"MISSED {inc.segment}; {clean}"
    late = "" if o.on_time else " (LATE)"
    named = "; ".join(
        f"{f.metric} names {_segment(f.named)} "
        + ("(right)" if f.names(inc.key, inc.value) else f"(WRONG; tested {_segment(f.segment)})")
        for f in o.first_hits
    )
    return f"found after {o.delay} window(s){late}: {named}; {clean}"


def _segment(segment: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in segment.items()) or "(whole app)"


def per_30(alarms: int, days: int) -> float:
    return 30 * alarms / days if days else float("nan")


def _alarms(group: list[Outcome], full: bool = False) -> tuple[str, float]:
    """False alarms per 30 clean days (only those with a whole baseline: ``full``), as
    text with the counts, and the rate."""
    days = sum(len(o.full_clean_days if full else o.clean_days) for o in group)
    alarms = sum(len(o.full_false_alarms if full else o.false_alarms) for o in group)
    rate = per_30(alarms, days)
    return f"{rate:.2f} ({alarms} in {days} d)", rate


def _table(header: tuple[str, ...], body: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *body, strict=True)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in body]
    return out


def revision() -> str:
    """The commit measured, and whether the detector's code has local changes."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    try:
        head = git("rev-parse", "--short", "HEAD") or "unknown"
        dirty = git("status", "--porcelain", "--", "vigil", "flows", "evaluators")
    except OSError:
        return "unknown commit"
    return f"commit {head}" + (" with local changes in vigil/flows/evaluators" if dirty else "")


def summarize(outcomes: list[Outcome], scale: str) -> tuple[str, list[Row]]:
    """The per-incident table (with the targets, met or missed, and the failed cases) and
    the rows of the benchmark table; ``scale`` says how large the run was."""
    settings = load_settings()
    lines = [
        f"detection ({revision()}): {scale}.",
        f"Targets: found in the first window whose true segment has >= "
        f"{settings.detect_min_window_n} traces; the true segment named first by the "
        "incident's primary metric; <= 1 false alarm per 30 clean days.",
        "'all its metrics': cost too; 'exactly': nothing but the true segment named; 'other "
        "metrics': regressions of other metrics opened on the incident's days. Clean days: "
        f"before the incident, from day 1; 'full baseline': from day {settings.baseline_days}.",
    ]
    header = ("incident", "detected", "in 1st window", "median windows", "true segment first",
              "all its metrics", "exactly", "other metrics", "false alarms/30 clean d",
              "full baseline", "target")  # fmt: skip
    body: list[tuple[str, ...]] = []
    rows: list[Row] = []
    failures: list[Outcome] = []
    for kind in [*KINDS, "clean"]:
        group = [o for o in outcomes if o.kind == kind]
        if not group:
            continue
        alarms, full = _alarms(group)[0], _alarms(group, full=True)[0]
        if kind == "clean":
            body.append(("clean worlds", "", "", "", "", "", "", "", alarms, full, ""))
            continue
        n = len(group)
        detected = [o.delay for o in group if o.delay is not None]
        on_time = sum(o.on_time for o in group)
        named = sum(o.named_right for o in group)
        everywhere = sum(o.named_right_everywhere for o in group)
        exactly = sum(o.named_exactly for o in group)
        median = f"{statistics.median(detected):g}" if detected else "-"
        met = "met" if on_time == n and named == n else "missed"
        others = str(sum(len(o.others) for o in group))
        body.append((kind, f"{len(detected)}/{n}", f"{on_time}/{n}", median, f"{named}/{n}",
                     f"{everywhere}/{n}", f"{exactly}/{n}", others, alarms, full, met))  # fmt: skip
        case = f"{kind}, {n} seeds"
        rows += [
            Row("detection", case, "found in 1st window %", 100 * on_time / n, "target", 100.0),
            Row("detection", case, "true segment first %", 100 * named / n, "target", 100.0),
        ]
        failures += [o for o in group if not o.on_time or not o.named_right_everywhere]
    (alarms, rate), (full, full_rate) = _alarms(outcomes), _alarms(outcomes, full=True)
    days = sum(len(o.clean_days) for o in outcomes)
    full_days = sum(len(o.full_clean_days) for o in outcomes)
    met = "met" if rate <= TARGET_FALSE_ALARMS else "missed"
    if full_days:
        met += f" ({'met' if full_rate <= TARGET_FALSE_ALARMS else 'missed'} on full baselines)"
    body.append(("all clean days", "", "", "", "", "", "", "", alarms, full, met))
    rows.append(Row("detection", f"{days} clean days", "false alarms / 30 days", rate,
                    "target", TARGET_FALSE_ALARMS, higher_is_better=False))  # fmt: skip
    if full_days:  # none in a short run: no rate to show
        rows.append(Row("detection", f"{full_days} of them with a full baseline",
                        "false alarms / 30 days", full_rate, "target", TARGET_FALSE_ALARMS,
                        higher_is_better=False))  # fmt: skip
    lines += _table(header, body)
    if failures:
        lines.append("late, missed or misnamed (in any of its metrics) incidents:")
    for o in failures:
        inc = o.world.incident
        assert inc is not None
        sizes = [f"{c.in_segment}/{c.traces}" for c in o.counts[inc.start_day :][: inc.days]]
        lines.append(
            f"  {o.world.name}: true {inc.segment}, traces in it / all on its days "
            f"{', '.join(sizes)}; {verdict(o)}"
        )
        for f in o.first_hits or [f for f in o.found if inc.on(f.day)]:
            lines.append(f"      day {f.day - inc.start_day}: {f.headline}")
    alarmed = [(o, f) for o in outcomes for f in o.false_alarms]
    if alarmed:
        lines.append("false alarms (day: the world's day, 0 = its first):")
    for o, f in alarmed:
        lines.append(f"  {o.world.name}, day {f.day}: {f.headline}")
    return "\n".join(lines), rows
