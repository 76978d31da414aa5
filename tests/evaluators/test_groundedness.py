"""Local groundedness (minilm-3): term support with locality (minilm-2) and contradiction
checks with learned weights, on the real MiniLM model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from evaluators import Resources
from evaluators.context_relevance import ContextRelevance
from evaluators.contradiction import KINDS
from evaluators.groundedness import WEIGHTS_FILE, Groundedness, Weights, load_weights
from evaluators.label_agreement import length_matched, roc_auc, word_overlap
from evaluators.providers import MiniLMProvider
from evaluators.support import support
from evaluators.text import stem, terms
from vigil.models import Retrieval, Trace

MAGAZINES = (
    "Cooking Light is an American monthly food and lifestyle magazine founded in 1987. "
    "Its recipes focus on healthy eating, and its test kitchen develops every dish it prints. "
    "Hot Rod is a monthly American car magazine devoted to hot rodding, drag racing, and "
    "muscle cars."
)


def trace(
    answer: str, context: str = MAGAZINES, question: str = "Which was founded in 1987?"
) -> Trace:
    return Trace(
        id=str(abs(hash(answer))),
        app="a",
        start_time="2026-01-01T00:00:00Z",  # type: ignore[arg-type]
        input=question,
        output=answer,
        retrievals=[Retrieval(document_id="d1", content=context)],
    )


def test_terms_skip_function_words_and_normalise_numbers() -> None:
    found = terms("The 2nd edition sold 1,500 copies in Paris.")
    assert [t.key for t in found] == ["2", "edition", "sold", "1500", "copi", "paris"]
    assert [t.strict for t in found] == [True, False, False, True, False, True]
    assert stem("founded") == stem("founds") == "found"


def test_words_from_unrelated_passages_do_not_support_a_claim(provider: MiniLMProvider) -> None:
    context, similar = terms(MAGAZINES), provider.word_similarity
    right = support(terms("Cooking Light was founded in 1987."), context, MAGAZINES, similar)
    recombined = support(terms("Hot Rod was founded in 1987."), context, MAGAZINES, similar)
    assert right.unsupported == recombined.unsupported == []  # every word is in the context
    assert right.score > 0.95
    assert recombined.score < 0.6  # but not together
    assert "Cooking Light" in right.evidence


def test_names_and_numbers_must_appear_literally(provider: MiniLMProvider) -> None:
    context = terms(MAGAZINES)
    claim = terms("Cooking Light was founded in 1988 by Condé Nast.")
    made_up = support(claim, context, MAGAZINES, provider.word_similarity)
    assert made_up.unsupported == ["1988", "Condé", "Nast"]
    assert made_up.score < 0.5


def test_a_near_synonym_counts_more_than_an_unrelated_word(provider: MiniLMProvider) -> None:
    text = "The film was shot in black and white."
    context, similar = terms(text), provider.word_similarity
    synonym = support(terms("the movie was shot in black and white"), context, text, similar)
    unrelated = support(terms("the banana was shot in black and white"), context, text, similar)
    assert synonym.score > unrelated.score + 0.1
    assert "banana" in unrelated.unsupported and "movie" not in synonym.unsupported


def test_the_evaluator_skips_answers_with_nothing_to_check(provider: MiniLMProvider) -> None:
    ev = Groundedness(Resources(provider))
    yes, grounded, made_up = ev.evaluate([
        trace("Yes."),
        trace("Cooking Light, a monthly food magazine, was founded in 1987."),
        trace("Hot Rod was founded in 1987 by Robert Petersen."),
    ])  # fmt: skip
    assert yes.status == "skipped" and "nothing to check" in (yes.explanation or "")
    assert grounded.value is not None and made_up.value is not None
    assert grounded.value > 0.9 > 0.5 > made_up.value
    assert "Petersen" in (made_up.explanation or "")
    assert made_up.metadata["sentences"][0]["unsupported"] == ["Robert", "Petersen"]


def test_with_nothing_fired_the_score_is_minilm_2s_support(provider: MiniLMProvider) -> None:
    answer = (
        "Cooking Light, a monthly food magazine, was founded in 1987. Hot Rod covers drag racing."
    )
    (score,) = Groundedness(Resources(provider)).evaluate([trace(answer)])
    minilm_2, _ = provider.groundedness_measure_with_cot_reasons([MAGAZINES], answer)
    assert score.metadata["contradictions"] == {}
    assert score.value == score.metadata["support"] == minilm_2


def test_a_contradiction_lowers_the_odds_and_is_explained(provider: MiniLMProvider) -> None:
    weights = load_weights()
    answer = "Cooking Light is an American monthly food magazine founded in 1988."
    (score,) = Groundedness(Resources(provider), weights).evaluate([trace(answer)])
    support = score.metadata["support"]
    assert score.metadata["contradictions"] == {"num_absent": "1988"}
    assert score.metadata["sentences"][0]["contradictions"] == {"num_absent": "1988"}
    odds = support / (1 - support) * math.exp(weights.kinds["num_absent"])
    assert score.value == pytest.approx(odds / (1 + odds))
    assert "weakest sentence" in (score.explanation or "")
    assert "contradicts the context: num_absent '1988'" in (score.explanation or "")


def test_weights_multiply_the_odds() -> None:
    weights = Weights({"num_absent": math.log(0.25), "antonym": math.log(0.5)})
    assert weights.apply(0.5, []) == 0.5
    assert weights.apply(0.5, ["num_absent"]) == pytest.approx(0.2)  # odds 1 -> 1/4
    assert weights.apply(0.8, ["num_absent", "antonym"]) == pytest.approx(1 / 3)  # 4 -> 1/2
    assert weights.apply(0.0, ["num_absent"]) == 0.0
    assert weights.apply(1.0, ["num_absent"]) == 1.0


def test_the_shipped_weights_load_with_how_they_were_learned() -> None:
    weights = load_weights()
    assert set(weights.kinds) == set(KINDS)
    assert all(w < 0 for w in weights.kinds.values())  # each kind is evidence of an error
    stored = json.loads(
        (Path(__file__).parents[2] / "evaluators" / "data" / WEIGHTS_FILE).read_text()
    )
    assert stored["version"] == Groundedness.version
    assert stored["C"] in stored["C_grid"] and stored["date"]
    assert "SummEdits" in stored["trained_on"]
    assert {"summedits_lodo", "halueval_holdout"} <= set(stored)


def test_weights_without_a_kind_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({"weights": {"num_absent": -1.0}}))
    with pytest.raises(ValueError, match="no weight for name_absent"):
        load_weights(path)


def test_context_relevance_scores_each_chunk(provider: MiniLMProvider) -> None:
    t = trace("", question="When was the food magazine Cooking Light founded?").model_copy(
        update={"retrievals": [
            Retrieval(document_id="on", content=MAGAZINES, rank=0),
            Retrieval(document_id="off", content="Bananas are rich in potassium.", rank=1),
        ]}
    )  # fmt: skip
    (score,) = ContextRelevance(Resources(provider)).evaluate([t])
    on, off = score.metadata["chunks"]
    assert on["document_id"] == "on" and on["score"] > off["score"] + 0.3
    assert score.value == pytest.approx((on["score"] + off["score"]) / 2, abs=1e-3)


@pytest.mark.shared_data
def test_beats_the_trivial_baselines_on_halueval(
    shared_data: Path, provider: MiniLMProvider
) -> None:
    """HaluEval QA, overall and length-matched. The contradiction weights were fitted on
    SummEdits, never on this set; minilm-2's support was designed on it."""
    records = [json.loads(line) for line in (shared_data / "groundedness-dev.jsonl").open()]
    traces = [trace(r["answer"], " ".join(r["contexts"]), r["question"]) for r in records]
    scores = Groundedness(Resources(provider)).evaluate(traces)
    kept = [i for i, s in enumerate(scores) if s.value is not None]
    assert len(kept) >= 0.95 * len(records)
    labels = [int(r["label"] == "grounded") for r in records]
    shortness = [-float(len(r["answer"])) for r in records]
    overlap = [word_overlap(r["answer"], " ".join(r["contexts"])) for r in records]
    matched = set(length_matched(records))
    for subset in (kept, [i for i in kept if i in matched]):
        y = [labels[i] for i in subset]
        ours = roc_auc(y, [scores[i].value or 0.0 for i in subset])
        assert ours > roc_auc(y, [shortness[i] for i in subset])
        assert ours > roc_auc(y, [overlap[i] for i in subset])


@pytest.mark.shared_data
@pytest.mark.slow
def test_beats_word_overlap_on_summedits(shared_data: Path, provider: MiniLMProvider) -> None:
    """SummEdits overall. In-sample: the shipped weights were fitted on all of SummEdits, so
    this checks that the fit is wired in, not that it generalises. The held-out figure
    (each domain scored with weights fitted on the others) is bench.quality's."""
    records = [json.loads(line) for line in (shared_data / "summedits-dev.jsonl").open()]
    traces = [
        trace(r["answer"], question=r["question"]).model_copy(
            update={"retrievals": [Retrieval(content=c) for c in r["contexts"]]}
        )
        for r in records
    ]  # each chunk retrieved on its own, as bench.quality sends them
    scores = Groundedness(Resources(provider)).evaluate(traces)
    labels = [int(r["label"] == "grounded") for r in records]
    ours = [0.5 if s.value is None else s.value for s in scores]
    overlap = [word_overlap(r["answer"], " ".join(r["contexts"])) for r in records]
    assert roc_auc(labels, ours) > max(0.6, roc_auc(labels, overlap))
