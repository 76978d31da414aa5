"""Reference metrics on hand-computed values: exact match, token F1, ROUGE-L, BLEU, similarity."""

from __future__ import annotations

import math

import pytest
import sacrebleu

from evaluators import Evaluator, Resources
from evaluators.bleu import Bleu
from evaluators.exact_match import ExactMatch
from evaluators.providers import MiniLMProvider
from evaluators.reference_text import normalize, tokens
from evaluators.rouge_l import RougeL, lcs_length
from evaluators.semantic_similarity import SemanticSimilarity
from evaluators.token_f1 import TokenF1
from vigil.models import Score, Trace

TEXT_METRICS: list[type[Evaluator]] = [ExactMatch, TokenF1, RougeL, Bleu]


def trace(answer: str | None, reference: str | None, tid: str = "t") -> Trace:
    attributes = {"reference": reference} if reference is not None else {}
    return Trace(
        id=tid,
        app="a",
        start_time="2026-01-01T00:00:00Z",
        input="a question",
        output=answer,
        attributes=attributes,
    )


def value(evaluator: type[Evaluator], answer: str, reference: str) -> float:
    [result] = evaluator(Resources(provider=None)).evaluate([trace(answer, reference)])
    assert result.status == "scored" and result.value is not None, result
    return result.value


def test_normalisation_drops_case_punctuation_articles_and_spacing() -> None:
    assert normalize("  The Eiffel   Tower! ") == "eiffel tower"
    assert normalize("An “apple”, a pear—and THE plum.") == "apple pear and plum"
    assert normalize("theatre anthem") == "theatre anthem"  # articles only as whole words
    assert tokens("It's a three-year plan.") == ["its", "three", "year", "plan"]
    assert normalize("It’s a three–year plan") == normalize("its three year plan")


def test_exact_match_compares_normalised_answers() -> None:
    assert value(ExactMatch, "The Eiffel Tower.", "eiffel tower") == 1.0
    assert value(ExactMatch, "Eiffel", "the Eiffel Tower") == 0.0


def test_token_f1_on_squad_style_examples() -> None:
    # [quick, brown, fox] vs [quick, red, fox, jumps]: 2 shared, P = 2/3, R = 1/2, F1 = 4/7
    assert value(TokenF1, "The quick brown fox", "a quick red fox jumps") == pytest.approx(4 / 7)
    # shared words count once per occurrence in both: P = 1/3, R = 1, F1 = 1/2
    assert value(TokenF1, "fox fox fox", "fox") == pytest.approx(0.5)
    assert value(TokenF1, "Paris", "London") == 0.0
    [result] = TokenF1(Resources(provider=None)).evaluate([trace("quick fox", "quick red fox")])
    assert result.metadata == {"precision": 1.0, "recall": pytest.approx(2 / 3)}


def test_rouge_l_is_the_f_measure_of_the_longest_common_subsequence() -> None:
    assert lcs_length(["a", "b", "c", "d", "e"], ["a", "c", "e", "x"]) == 3
    assert lcs_length([], ["a"]) == 0
    # [police, kill, gunman] vs [police, killed, gunman]: LCS 2 of 3 each way, F = 2/3
    assert value(RougeL, "police kill the gunman", "police killed the gunman") == pytest.approx(
        2 / 3
    )
    # same words, other order: token F1 sees no difference, ROUGE-L does (LCS = 2)
    reordered = ("the gunman police killed", "police killed the gunman")
    assert value(TokenF1, *reordered) == 1.0
    assert value(RougeL, *reordered) == pytest.approx(2 / 3)
    assert value(RougeL, "Police killed the gunman.", "police killed the gunman") == 1.0


def test_bleu_matches_sacrebleu_and_uses_effective_order() -> None:
    same = "The warranty covers defects for three years."
    assert value(Bleu, same, same) == 1.0
    assert sacrebleu.corpus_bleu([same], [[same]]).score == pytest.approx(100.0)
    assert value(Bleu, "completely unrelated words", "the warranty lasts three years") == 0.0
    # 1-, 2- and 3-gram precisions are 1, the answer has no 4-gram: BLEU = BP = e^(1 - 6/3).
    # Corpus BLEU (no effective order) gives such a short correct answer 0.
    assert value(Bleu, "the cat sat", "the cat sat on the mat") == pytest.approx(math.exp(-1))
    assert sacrebleu.corpus_bleu(["the cat sat"], [["the cat sat on the mat"]]).score == 0.0


def test_semantic_similarity_ranks_a_paraphrase_above_an_unrelated_answer(
    provider: MiniLMProvider,
) -> None:
    reference = "The thermostat is covered by a three-year warranty."
    batch = [
        trace("The warranty on the thermostat lasts 3 years.", reference, "paraphrase"),
        trace("Bananas are rich in potassium.", reference, "unrelated"),
        trace(reference, reference, "identical"),
    ]
    paraphrase, unrelated, identical = SemanticSimilarity(Resources(provider)).evaluate(batch)
    assert all(0.0 <= (s.value or 0.0) <= 1.0 for s in (paraphrase, unrelated, identical))
    assert identical.value == pytest.approx(1.0, abs=1e-5)
    assert paraphrase.value is not None and unrelated.value is not None
    assert paraphrase.value > 0.7 > 0.3 > unrelated.value
    assert unrelated.value == 0.0 and unrelated.metadata["cosine"] < 0  # clipped, not hidden
    assert "cosine(answer, reference)" in (paraphrase.explanation or "")


@pytest.mark.parametrize("evaluator", [*TEXT_METRICS, SemanticSimilarity])
def test_traces_without_a_reference_or_answer_are_skipped(
    evaluator: type[Evaluator], provider: MiniLMProvider
) -> None:
    assert evaluator.needs == frozenset({"answer", "reference"})
    batch = [trace("Paris", None, "t1"), trace(None, "Paris", "t2"), trace("Paris", "Paris", "t3")]
    no_reference, no_answer, scored = evaluator(Resources(provider)).evaluate(batch)
    assert no_reference == Score.skipped("trace has no reference")
    assert no_answer == Score.skipped("trace has no answer")
    assert scored.status == "scored" and scored.value == pytest.approx(1.0, abs=1e-5)
