"""One "did you mean" for every message that names something unknown.

Policy names, tenant fields, licence names, rate-card columns, day names and number
types all go through :func:`did_you_mean`: the same matching and the same words,
``did you mean 'x'?``. Compared case-blind, a candidate is suggested when it is alike
(difflib's similarity ratio at least 0.6) and within a few typing mistakes of the word (an
edit distance — insertions, deletions, substitutions, swaps of two neighbours — of at
most a third of the word's length, and at least one); the closest first, the earlier
candidate on a tie. ``biling_admin`` finds ``billing_admin`` and ``fry`` finds ``fri``;
``colour`` does not find ``country``, nor ``XX`` a country code ``AX``.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["RATIO", "closest", "did_you_mean", "distance", "in_parentheses"]

#: difflib's similarity ratio a candidate needs, besides being a few edits away.
RATIO = 0.6


def distance(a: str, b: str, limit: int) -> int:
    """The optimal-string-alignment distance of ``a`` and ``b``, or ``limit + 1`` as soon
    as it is certain to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                best = min(best, before[j - 2] + 1)
            current[j] = best
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return previous[-1]


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``word`` was probably meant to be, or None."""
    from difflib import SequenceMatcher  # only when there is a bad name to match

    limit = max(1, len(word) // 3)
    lowered = word.lower()
    best: tuple[int, str] | None = None
    matcher = SequenceMatcher(b=lowered)
    for candidate in candidates:
        folded = candidate.lower()
        d = distance(lowered, folded, limit)
        if d > limit or (best is not None and d >= best[0]):
            continue
        matcher.set_seq1(folded)
        if matcher.ratio() >= RATIO:
            best = (d, candidate)
    return None if best is None else best[1]


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """``did you mean 'x'?``, or None when nothing is close."""
    near = closest(word, candidates)
    return None if near is None else f"did you mean '{near}'?"


def in_parentheses(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` to append to a message, or ``""``."""
    hint = did_you_mean(word, candidates)
    return "" if hint is None else f" ({hint})"
