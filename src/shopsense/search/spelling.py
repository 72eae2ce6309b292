""" "Did you mean": the query with its misspelt words replaced by the catalog's own words.

A word is misspelt when the catalog does not know it (no title, brand or category has it)
and a catalog word lies within a small edit distance (optimal string alignment: a swap of
two neighbouring letters counts as one edit): 1 for words of up to 5 letters, 2 above.
Of the closest words the most frequent wins. Candidates are the catalog words that begin
with the typed word's first or second letter (so a slip in the first letter, or two first
letters swapped, is still found) rather than the whole vocabulary: one term-dictionary
walk each, fast on large catalogs.

Example::

    >>> spell_query("trial runnign shoes", index)   # doctest: +SKIP
    'trail running shoes'
"""

from __future__ import annotations

import re
from typing import Protocol

from shopsense.search.query import NEGATIONS

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
#: Words of query grammar ("under 80", "without mugs") that no catalog needs to contain.
GRAMMAR = frozenset(
    (
        *NEGATIONS,
        *("under", "below", "less", "than", "cheaper", "over", "above", "more", "least"),
        *("most", "maximum", "minimum", "within", "between", "from", "with", "dollars"),
        *("euros", "cheap", "best", "good", "great", "for", "and"),
    )
)
MIN_LENGTH = 4


class Vocabulary(Protocol):
    """What spelling needs of an index (:class:`~shopsense.index.lexical.LexicalIndex`)."""

    def has_word(self, word: str) -> bool: ...

    def terms(self, prefix: str, limit: int | None = None) -> list[tuple[str, int]]: ...


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance of ``a`` and ``b``, or ``limit + 1`` once it is
    known to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def correct_word(word: str, vocabulary: Vocabulary) -> str | None:
    """The catalog word ``word`` was probably meant to be, or ``None`` when it is known,
    too short, a number, query grammar, or nothing in the catalog is close enough."""
    word = word.lower()
    if len(word) < MIN_LENGTH or word.isdigit() or word in GRAMMAR or vocabulary.has_word(word):
        return None
    limit = 1 if len(word) <= 5 else 2
    best: tuple[int, int, str] | None = None  # (distance, -count, word)
    for prefix in dict.fromkeys(word[:2]):
        for term, count in vocabulary.terms(prefix):
            if term.isdigit() or len(term) < MIN_LENGTH - 1:
                continue
            distance = edit_distance(word, term, limit)
            if distance <= limit and (best is None or (distance, -count, term) < best):
                best = (distance, -count, term)
    return best[2] if best else None


def spell_query(query: str, vocabulary: Vocabulary) -> str | None:
    """``query`` with each misspelt word corrected (case and punctuation kept as typed),
    or ``None`` when no word needs correcting."""
    changed = False

    def fix(found: re.Match[str]) -> str:
        nonlocal changed
        better = correct_word(found.group(), vocabulary)
        if better is None:
            return found.group()
        changed = True
        return better

    corrected = _WORD.sub(fix, query)
    return corrected if changed else None
