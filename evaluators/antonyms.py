"""Opposite words, as data: the lexicon of the ``antonym`` contradiction check.

General English, written by hand, not fitted to any data set: direction, quantity, time,
polarity and finance ("increase"/"decrease", "rose"/"fell", "bullish"/"bearish"). Irregular
forms need their own pair ("won"/"lost"), since words are matched by
:func:`evaluators.text.loose_key`, which only cuts a regular suffix.
"""

from __future__ import annotations

from collections.abc import Mapping

from evaluators.text import loose_key

# Comma-separated pairs of opposites, matched both ways.
PAIRS = """
increase decrease, increase reduce, increase cut, increase drop, increase decline,
increase fall, rise fall, rise drop, rise decline, grow shrink, grow decline, gain loss,
gain lose, growth decline, higher lower, high low, more less, more fewer, most least, up down,
above below, over under, upper lower, maximum minimum, max min, largest smallest, large small,
big small, larger smaller, bigger smaller, long short, longer shorter, many few, greater less,
strong weak, stronger weaker, strongest weakest, positive negative, profit loss, earn lose,
earned lost, win lose, won lost, winner loser, victory defeat, success failure, succeed fail,
pass fail, accept reject, approve reject, approve deny, allow prohibit, allow forbid, allow ban,
permit prohibit, include exclude, including excluding, inclusive exclusive, add remove,
keep remove, keep delete, open close, opened closed, open shut, start end, start stop,
begin end, begin finish, first last, earliest latest, early late, earlier later, before after,
past future, previous next, last next, old new, older newer, oldest newest, young old,
ancient modern, buy sell, bought sold, buyer seller, import export, lend borrow, give take,
send receive, push pull, arrive depart, enter exit, enter leave, join leave, hire fire,
attack defend, offense defense, support oppose, agree disagree, like dislike, love hate,
praise criticize, friend enemy, friend foe, colleague foe, ally enemy, always never,
everyone nobody, everything nothing, all none, all some, true false, correct incorrect,
right wrong, good bad, better worse, best worst, easy difficult, easy hard, simple complex,
simple complicated, cheap expensive, inexpensive expensive, rich poor, wealthy poor,
safe dangerous, safe unsafe, healthy sick, healthy ill, alive dead, live die, born died,
male female, man woman, men women, boy girl, husband wife, father mother, son daughter,
brother sister, king queen, north south, east west, left right, inside outside,
internal external, domestic foreign, domestic international, public private, local national,
local global, urban rural, majority minority, possible impossible, likely unlikely,
legal illegal, formal informal, official unofficial, explicit implicit, active passive,
active inactive, online offline, on off, wet dry, hot cold, warm cool, light dark, light heavy,
fast slow, faster slower, quick slow, heavy light, hard soft, full empty, deep shallow,
wide narrow, thick thin, present absent, presence absence, visible invisible, known unknown,
certain uncertain, certainty uncertainty, clear unclear, sure unsure, happy sad, happy unhappy,
calm angry, optimistic pessimistic, bullish bearish, surplus deficit, asset liability,
credit debit, income expense, revenue cost, export import, input output, success fail,
efficient inefficient, effective ineffective, limited unlimited, finite infinite,
accurate inaccurate, complete incomplete, consistent inconsistent, relevant irrelevant,
important unimportant, necessary unnecessary, significant insignificant, significant negligible,
major minor, primary secondary, temporary permanent, short-term long-term, day night,
morning evening, today tomorrow, today yesterday, yesterday tomorrow, week month, summer winter,
spring autumn, question answer, ask answer, cause effect, same different, similar different,
common rare, frequent rare, often rarely, usually rarely, raise lower, raised lowered,
tighten loosen, strengthen weaken, improve worsen, improve impair, improve deteriorate,
boost lower, boost reduce, boost hurt, help hurt, benefit harm, advantage disadvantage, pro con,
for against, with without, upgrade downgrade, outperform underperform,
overestimate underestimate, overweight underweight, beat miss, exceed miss, surge plunge,
surge tumble, surge drop, soar plunge, rally slump, expand contract, expansion contraction,
inflation deflation, appreciate depreciate, profitable unprofitable, accelerate slow,
accelerate decelerate, hasten delay, on-time late, ahead behind, win loss, lead trail,
release arrest, guilty innocent, convict acquit, ally rival, partner rival, supporter opponent,
support against, rose fell, risen fallen, rose dropped, rose declined, grew shrank, grew fell,
gained lost, won lost, began ended, opened closed, bought sold, sold bought
"""

# Prefixes that turn a word into its opposite ("efficient" -> "inefficient").
NEGATING_PREFIXES = ("un", "in", "im", "il", "ir", "non-", "non", "dis", "mis", "anti-", "counter")
PREFIX_STEM = 4  # letters a word keeps without its prefix: "inner" is not "in" + "ner"


def _opposites(pairs: str) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for pair in pairs.split(","):
        a, b = (loose_key(w) for w in pair.split())
        out.setdefault(a, set()).add(b)
        out.setdefault(b, set()).add(a)
    return {k: frozenset(v) for k, v in out.items()}


# loose key -> the loose keys of its opposites
OPPOSITES: Mapping[str, frozenset[str]] = _opposites(PAIRS)


def prefix_forms(key: str) -> set[str]:
    """The loose keys that differ from ``key`` by a negating prefix, either way
    ("inefficient" -> {"efficient", ...}; "efficient" -> {"inefficient", "unefficient", ...})."""
    out = {key[len(p) :] for p in NEGATING_PREFIXES if key.startswith(p)}
    out = {stem for stem in out if len(stem) >= PREFIX_STEM}
    if len(key) >= PREFIX_STEM:
        out.update(p + key for p in NEGATING_PREFIXES)
    return out
