"""What a text negates: the content words in the scope of each negation cue.

A cue ("not", "n't", "never", "without", "failed", ...) negates the next two content words
(alphabetic, three letters or more, no stopword) of its clause; a comma, a semicolon, a
sentence end or a contrasting conjunction ("but", "although", "while", ...) ends the clause.
"""

from __future__ import annotations

import re

from evaluators.text import STOPWORDS

_CUE_WORDS = """not no never none nobody nothing neither nor cannot without n't unable fail fails
    failed lack lacks lacking refuse refuses refused"""
CUES = frozenset(_CUE_WORDS.split())
CLAUSE_BREAKS = frozenset({",", ";", ":", ".", "!", "?", "but", "although", "though", "while",
                           "whereas", "however"})  # fmt: skip
PERSONAL = frozenset({"i", "we", "you"})
SCOPE_WORDS = 2
_TOKEN = re.compile(r"n't|[^\W_]+|[,;:.!?]")


def negated_scopes(text: str, *, skip_personal: bool = False) -> list[frozenset[str]]:
    """The words (lower case) each cue of ``text`` negates, cue by cue, leaving out cues
    that negate no content word. With ``skip_personal``, a cue in a clause where "I", "we" or
    "you" came first ("I don't know", "you haven't seen it") speaks about the speaker, not
    the source, and is left out too."""
    scopes: list[set[str] | None] = []
    left = 0
    personal = False
    spaced = text.replace("n't", " n't").replace("N'T", " n't")
    for token in (t.lower() for t in _TOKEN.findall(spaced)):
        if token in CLAUSE_BREAKS:
            left, personal = 0, False
            continue
        personal = personal or token in PERSONAL
        if token in CUES:
            left = SCOPE_WORDS
            scopes.append(None if skip_personal and personal else set())
            continue
        if token in STOPWORDS or not token[0].isalpha() or len(token) < 3 or left == 0:
            continue
        scope = scopes[-1]
        if scope is not None:
            scope.add(token)
        left -= 1
    return [frozenset(s) for s in scopes if s]
