"""SLO files: validation errors name the file, the SLO and the field; budget and burn math."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from vigil.errors import VigilError
from vigil.slo import DEFAULT_BURNS, SLO, Burn, MeasureSLI, budget_left, burn_rate, duration, load

EXAMPLE = Path(__file__).resolve().parents[1] / "infra" / "slo.example.yaml"
EVALUATORS = {"groundedness", "semantic_similarity"}


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "slo.yaml"
    path.write_text(body)
    return path


ONE = """slos:
  - name: grounded
    app: shop
    sli: {evaluator: %s, threshold: 0.8}
    target: %s
    window: %s
"""


def test_the_example_file_is_valid() -> None:
    parsed = load(EXAMPLE, evaluators=EVALUATORS, apps={"support-bot"})
    names = ["grounded-answers", "p95-latency-under-4s", "cost-per-request",
             "matches-the-reference"]  # fmt: skip
    assert [s.name for s in parsed.slos] == names
    assert parsed.slos[1].sli == MeasureSLI(measure="latency_ms", bound=4000)
    assert [b.factor for b in parsed.burn_alerts] == [14.4, 6.0]


@pytest.mark.parametrize(
    ("evaluator", "target", "window", "apps", "message"),
    [
        ("groundednes", "0.99", "7d", None,
         "SLO 'grounded': sli.evaluator: unknown evaluator 'groundednes'"),
        ("groundedness", "1.2", "7d", None, "SLO 'grounded': target: Input should be less than 1"),
        ("groundedness", "0", "7d", None, "SLO 'grounded': target: Input should be greater than 0"),
        ("groundedness", "0.99", "7 weeks", None,
         "SLO 'grounded': window: Value error, '7 weeks' is not a duration"),
        ("groundedness", "0.99", "7d", {"other"}, "SLO 'grounded': app: no traces of app 'shop'"),
    ],
)  # fmt: skip
def test_a_mistake_is_one_line_naming_the_file_the_slo_and_the_field(
    tmp_path: Path, evaluator: str, target: str, window: str, apps: set[str] | None, message: str
) -> None:
    path = write(tmp_path, ONE % (evaluator, target, window))
    with pytest.raises(VigilError) as err:
        load(path, evaluators=EVALUATORS, apps=apps)
    assert str(err.value).startswith(f"{path}: {message}")
    assert "\n" not in str(err.value)


def test_unreadable_and_repeated(tmp_path: Path) -> None:
    with pytest.raises(VigilError, match="cannot read the SLO file"):
        load(tmp_path / "absent.yaml")
    entry = ONE % ("groundedness", "0.9", "1d")
    twice = write(tmp_path, entry + entry.split("\n", 1)[1])
    with pytest.raises(VigilError, match="repeated: grounded"):
        load(twice)


def test_budget_and_burn() -> None:
    slo = SLO(name="s", app="a", sli=MeasureSLI(measure="latency_ms", bound=4000), target=0.99)
    assert duration("30m") == timedelta(minutes=30) and duration("7d") == timedelta(days=7)
    assert burn_rate(slo, good=990, total=1000) == pytest.approx(1.0)  # spending at the target
    assert budget_left(slo, good=995, total=1000) == pytest.approx(0.5)
    assert burn_rate(slo, 0, 0) is None
    fast = DEFAULT_BURNS[0]
    assert Burn(fast, long_rate=15.0, short_rate=20.0).firing
    assert not Burn(fast, long_rate=15.0, short_rate=2.0).firing  # already recovering
    assert not Burn(fast, long_rate=None, short_rate=20.0).firing
