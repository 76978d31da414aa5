"""Cheap contradiction checks of one answer sentence (a claim) against its context.

Support (:mod:`evaluators.support`) sees what is missing; these four checks see what is
changed. Each names what triggered it:

- ``num_absent``: a number the context does not hold, after rounding and scale words
  ("35%" matches 34.6%, "$1.2 billion" matches $1,234 million);
- ``name_absent``: a name the context does not hold;
- ``neg_new``: a negation the context never makes, neither of the same words nor of a
  near-synonym ("not functioning" is supported by "not working");
- ``antonym``: a claim word swapped for the opposite of a word of the claim's aligned
  context sentence (the one holding its best support window) or of the sentences beside it:
  a lexicon pair ("rose"/"fell") or a negating prefix ("efficient"/"inefficient").

A question claims nothing, so it is never checked. Context-side work is done on first use:
most claims have no number, name or negation to look up.
"""

from __future__ import annotations

import re
from functools import cached_property

from evaluators.antonyms import OPPOSITES, prefix_forms
from evaluators.names import context_words, holds_name, names
from evaluators.negation import negated_scopes
from evaluators.numbers import NumberSet, numbers
from evaluators.support import SOFT_FLOOR, WordSimilarity
from evaluators.text import STOPWORDS, loose_key, sentence_spans

KINDS = ("num_absent", "name_absent", "neg_new", "antonym")
PREFIX_MIN_KEY = 5  # letters of a word's key before a negating prefix is looked for
_LETTERS = re.compile(r"[^\W\d_]+")


class ContextFacts:
    """What the checks read from one context (the retrieved chunks joined by a blank line,
    as support reads them), each part computed when a claim first needs it."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def numbers(self) -> NumberSet:
        return NumberSet.of(self.text)

    @cached_property
    def words(self) -> frozenset[str]:
        return context_words(self.text)

    @cached_property
    def negated(self) -> tuple[frozenset[str], list[str]]:
        """Every word the context negates: as loose keys, and as words (sorted)."""
        words = {w for scope in negated_scopes(self.text) for w in scope}
        return frozenset(loose_key(w) for w in words), sorted(words)

    @cached_property
    def content_keys(self) -> frozenset[str]:
        """Loose keys of the context's words that are content terms (not stopwords)."""
        words = _LETTERS.findall(self.text)
        return frozenset(loose_key(w) for w in words if w.lower() not in STOPWORDS)

    @cached_property
    def _spans(self) -> list[tuple[int, int]]:
        return sentence_spans(self.text)

    def neighbourhood_keys(self, sentence: int) -> frozenset[str]:
        """Loose keys of the words of a context sentence and of one sentence either side."""
        spans = self._spans
        start, end = spans[max(sentence - 1, 0)][0], spans[min(sentence + 1, len(spans) - 1)][1]
        return frozenset(loose_key(w) for w in _LETTERS.findall(self.text[start:end].lower()))


def contradictions(
    claim: str, facts: ContextFacts, sentence: int | None, similar: WordSimilarity
) -> dict[str, str]:
    """The kinds that fire on ``claim``, each with what triggered it. ``sentence`` is the
    aligned context sentence (:attr:`evaluators.support.Support.sentence`); None when the
    context has no terms, and then nothing is checked."""
    if sentence is None or claim.rstrip().endswith("?"):
        return {}
    triggers = {
        "num_absent": absent_number(claim, facts),
        "name_absent": absent_name(claim, facts),
        "neg_new": new_negation(claim, facts, similar),
        "antonym": antonym(claim, facts, sentence),
    }
    return {kind: trigger for kind, trigger in triggers.items() if trigger is not None}


def absent_number(claim: str, facts: ContextFacts) -> str | None:
    return next((n.text for n in numbers(claim) if not facts.numbers.holds(n)), None)


def absent_name(claim: str, facts: ContextFacts) -> str | None:
    return next((n for n in names(claim) if not holds_name(facts.words, n)), None)


def new_negation(claim: str, facts: ContextFacts, similar: WordSimilarity) -> str | None:
    """A cue's scope with no word the context negates, literally (by loose key) or as a
    near-synonym (word cosine at least ``SOFT_FLOOR``, as support counts one)."""
    for scope in negated_scopes(claim, skip_personal=True):
        keys, words = facts.negated
        if keys.intersection(loose_key(w) for w in scope):
            continue
        if words and float(similar(sorted(scope), words).max()) >= SOFT_FLOOR:
            continue
        return "not " + " ".join(sorted(scope))
    return None


def antonym(claim: str, facts: ContextFacts, sentence: int) -> str | None:
    """A claim word missing near the aligned sentence whose opposite is there (and not in
    the claim): from the lexicon, or by a negating prefix when the word is long enough and
    found nowhere in the context."""
    near = facts.neighbourhood_keys(sentence)
    keys = [loose_key(w) for w in _LETTERS.findall(claim.lower())]
    in_claim = set(keys)
    for key in keys:
        if key in near:
            continue
        hits = sorted(o for o in OPPOSITES.get(key, ()) if o in near and o not in in_claim)
        if not hits and len(key) >= PREFIX_MIN_KEY and key not in facts.content_keys:
            hits = sorted((prefix_forms(key) & near) - in_claim)
        if hits:
            return f"{key}/{hits[0]}"
    return None


def words_to_embed(answer: str, facts: ContextFacts) -> list[str]:
    """The words :func:`new_negation` may compare, to embed with the rest of a batch."""
    claimed = [w for scope in negated_scopes(answer, skip_personal=True) for w in sorted(scope)]
    return claimed + facts.negated[1] if claimed else []
