"""The contradiction checks of groundedness minilm-3, on hand-written sentences."""

from __future__ import annotations

import pytest

from evaluators.contradiction import ContextFacts, contradictions
from evaluators.names import names
from evaluators.negation import negated_scopes
from evaluators.numbers import NumberSet, numbers
from evaluators.providers import MiniLMProvider
from evaluators.support import support
from evaluators.text import loose_key, sentence_spans, terms

FILM = (
    "The Shining is a 1980 horror film directed by Stanley Kubrick. It stars Jack Nicholson. "
    "Revenue rose 12% to $1,234 million in the third quarter, and margins reached 34.6%. "
    "The elevator was not working during the shoot. The process was efficient."
)


def fired(claim: str, provider: MiniLMProvider, context: str = FILM) -> dict[str, str]:
    """The kinds that fire on ``claim``, aligned as the evaluator aligns it."""
    aligned = support(terms(claim), terms(context), context, provider.word_similarity)
    return contradictions(claim, ContextFacts(context), aligned.sentence, provider.word_similarity)


def test_the_aligned_sentence_is_the_one_holding_the_best_window(
    provider: MiniLMProvider,
) -> None:
    found = support(terms("Revenue rose 12%."), terms(FILM), FILM, provider.word_similarity)
    assert found.sentence is not None
    start, end = sentence_spans(FILM)[found.sentence]
    assert FILM[start:end].strip().startswith("Revenue rose 12%")
    assert support(terms("Revenue rose."), [], "", provider.word_similarity).sentence is None


def test_a_changed_number_fires_a_rounded_or_rescaled_one_does_not(
    provider: MiniLMProvider,
) -> None:
    assert fired("Revenue rose 15% in the third quarter.", provider) == {"num_absent": "15"}
    assert fired("Margins reached 35%.", provider) == {}  # 34.6% rounded
    assert fired("Revenue rose 12% to $1.2 billion.", provider) == {}  # $1,234 million
    assert fired("Revenue rose 12% in the fourth quarter.", provider) == {"num_absent": "4"}


def test_numbers_read_words_scales_and_leave_names_alone() -> None:
    assert [n.text for n in numbers("twenty - five fifty-five, twice a dozen")] == [
        "25", "55", "2", "12",
    ]  # fmt: skip
    assert numbers("$1.2 billion")[0].value == pytest.approx(1.2e9)
    assert numbers("$1.2 billion")[0].tolerance == pytest.approx(0.05e9)
    assert [n.text for n in numbers("one COVID-19 case in the third quarter")] == ["3"]
    context = NumberSet.of("one COVID-19 case")
    assert context.texts == {"1", "19"}
    assert not context.holds(numbers("20 cases")[0])


def test_a_new_name_fires_an_opening_capital_does_not(provider: MiniLMProvider) -> None:
    assert fired("It was directed by Steven Spielberg.", provider) == {"name_absent": "steven"}
    assert fired("Later, Stanley Kubrick directed it.", provider) == {}
    assert names("However, it rained. Shares fell. Hot Rod is AI-assisted.") == [
        "hot", "rod", "ai",
    ]  # fmt: skip
    assert names("Lisbon") == ["lisbon"]


def test_a_new_negation_fires_a_paraphrased_one_the_context_makes_does_not(
    provider: MiniLMProvider,
) -> None:
    assert fired("The film was not directed by Kubrick.", provider) == {
        "neg_new": "not directed kubrick"
    }
    # the context negates "working"; MiniLM puts "functioning" near it
    assert fired("The elevator was not functioning during the shoot.", provider) == {}
    assert negated_scopes("It did not rise, but fell; it never returned") == [
        frozenset({"rise"}), frozenset({"returned"}),
    ]  # fmt: skip


def test_personal_negations_and_questions_are_not_checked(provider: MiniLMProvider) -> None:
    assert fired("I haven't seen it, but it stars Jack Nicholson.", provider) == {}
    assert fired("Did Steven Spielberg direct it?", provider) == {}


def test_an_antonym_swap_fires(provider: MiniLMProvider) -> None:
    assert fired("Revenue fell 12% in the third quarter.", provider) == {"antonym": "fell/ros"}
    assert fired("The process was inefficient.", provider) == {"antonym": "inefficient/efficient"}
    assert fired("The process was efficient.", provider) == {}
    assert loose_key("increases") == loose_key("increased") == loose_key("increase") == "increas"


def test_nothing_is_checked_without_context_terms(provider: MiniLMProvider) -> None:
    assert fired("It was directed by Steven Spielberg in 1999.", provider, context="...") == {}
