"""The gate file: the example loads, and each mistake is one line naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.errors import VigilError
from vigil.gate.config import (
    DEFAULT_EVALUATORS,
    GateConfig,
    NoiseConfig,
    Rule,
    config_hash,
    load_gate_config,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "infra" / "gate.example.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gate.yaml"
    path.write_text(text)
    return path


def test_the_example_file_loads() -> None:
    config = load_gate_config(EXAMPLE)
    assert config.pinned == {
        "groundedness": "minilm-3",
        "answer_relevance": None,
        "judge_groundedness": None,
    }
    drop, named, judge = config.rules
    assert (
        drop.title == "groundedness must not drop by more than 0.02 and must stay at or above 0.6"
    )
    assert named.title == "answers stay on topic"
    assert judge.not_below_baseline and judge.item_threshold == 0.7
    assert judge.title == "judge_groundedness must not pass fewer items than the baseline"
    assert config.noise == NoiseConfig(margin=0.1, rejudge=2)
    assert (config.confidence, config.resamples, config.samples) == (0.95, 2000, 1)


def test_without_a_file_each_default_evaluator_must_not_drop() -> None:
    config = load_gate_config(None)
    assert config.evaluators == list(DEFAULT_EVALUATORS)
    assert [(r.metric, r.max_drop) for r in config.rules] == [
        (name, 0.02) for name in DEFAULT_EVALUATORS
    ]
    code = load_gate_config(None, default_evaluators=["exact_match@2"])
    assert code.pinned == {"exact_match": "2"}
    assert [r.metric for r in code.rules] == ["exact_match"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "evaluators: [groundedness]\nrules:\n  - {metric: groundedness, max_drop: 0.02, "
            "maxdrop: 1}\n",
            "rule #1 ('groundedness'): maxdrop: Extra inputs are not permitted",
        ),
        (
            "evaluators: [groundedness]\nrules:\n  - {name: g, metric: groundedness, "
            "max_drop: -0.1}\n",
            "rule #1 ('g'): max_drop: Input should be greater than or equal",
        ),
        (
            "evaluators: [groundedness]\nrules:\n  - {metric: groundedness}\n",
            "rule #1 ('groundedness'): a rule needs a check: set max_drop, min or "
            "not_below_baseline",
        ),
        (
            "evaluators: [groundedness]\nrules:\n  - {metric: groundedness, min: 0.5, "
            "strict: true}\n",
            "strict applies to not_below_baseline",
        ),
        (
            "evaluators: [groundedness]\nrules:\n  - {metric: groundedness, min: 0.5}\n"
            "confidence: 1.5\n",
            "gate.yaml: confidence: Input should be less than 1",
        ),
        (
            "evaluators: [groundedness]\nrules:\n  - {metric: groundedness, min: 0.5}\n"
            "noise: {margin: 0.1, rejudge: many}\n",
            "gate.yaml: noise.rejudge: Input should be",
        ),
        ("evaluators: [groundedness]\nrules: []\n", "rules: List should have at least 1 item"),
        (
            "evaluators: [groundedness, groundedness@2]\nrules:\n  - {metric: groundedness, "
            "min: 0.5}\n",
            "evaluators: evaluator names must be unique; repeated: groundedness",
        ),
        (
            "evaluators: ['groundedness@']\nrules:\n  - {metric: groundedness, min: 0.5}\n",
            "evaluators: 'groundedness@': write a name, or name@version to pin one",
        ),
        (
            "evaluators: [groundedness]\nrules:\n  - {metric: groundedness, min: 0.5}\n"
            "  - {metric: groundedness, min: 0.5}\n",
            "rule names must be unique",
        ),
        ("rules: [\n", "not valid YAML"),
    ],
)
def test_a_mistake_is_one_line_naming_the_file_and_the_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(VigilError) as err:
        load_gate_config(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_rule_on_a_metric_no_evaluator_scores_is_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "evaluators: [groundedness@1]\nrules:\n"
        "  - {metric: groundedness, max_drop: 0.02}\n"
        "  - {name: relevant, metric: answer_relevance, max_drop: 0.02}\n",
    )
    with pytest.raises(VigilError) as err:
        load_gate_config(path)
    assert str(err.value) == (
        f"{path}: rule #2 ('relevant'): metric: no listed evaluator scores 'answer_relevance'; "
        "add it to evaluators (groundedness)"
    )


def test_pass_at_k_needs_code_tests_and_enough_samples(tmp_path: Path) -> None:
    rule = "rules:\n  - {metric: pass@5, not_below_baseline: true}\n"
    with pytest.raises(
        VigilError,
        match=r"rule #1 \('pass@5'\): metric: pass@5 counts "
        "code_tests verdicts; add code_tests",
    ):
        load_gate_config(write(tmp_path, "evaluators: [exact_match]\n" + rule))
    with pytest.raises(VigilError, match="needs 5 samples per item; set samples: 5 or more"):
        load_gate_config(write(tmp_path, "evaluators: [code_tests]\n" + rule))
    config = load_gate_config(write(tmp_path, "evaluators: [code_tests]\nsamples: 5\n" + rule))
    assert config.rules[0].k == 5 and Rule(metric="code_tests", min=0.5).k is None


def test_a_missing_file_names_the_option() -> None:
    with pytest.raises(VigilError, match=r"cannot read the gate config .*--config"):
        load_gate_config("/nonexistent/gate.yaml")


def test_the_noise_margin_decides_what_is_judged_again() -> None:
    noise = NoiseConfig(margin=0.1, rejudge=2)
    assert noise.near(0.55, 0.5) and noise.near(0.4, 0.5) and not noise.near(0.65, 0.5)
    assert not NoiseConfig(margin=0.1, rejudge=0).near(0.5, 0.5)


def test_the_config_hash_is_stable_and_changes_with_the_config() -> None:
    config = load_gate_config(EXAMPLE)
    again = GateConfig.model_validate(config.model_dump())
    assert config_hash(config) == config_hash(again)
    assert len(config_hash(config)) == 64
    assert config_hash(config) != config_hash(config.model_copy(update={"seed": 1}))
    assert config_hash(load_gate_config(None)) != config_hash(config)
