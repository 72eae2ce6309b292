"""Did you mean: known answers for the edit distance and the corrections."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shopsense.search.spelling import correct_word, edit_distance, spell_query


class Words:
    """A vocabulary of a few catalog words with their document counts."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def has_word(self, word: str) -> bool:
        return word in self.counts

    def terms(self, prefix: str, limit: int | None = None) -> list[tuple[str, int]]:
        found = sorted(((w, c) for w, c in self.counts.items() if w.startswith(prefix)),
                       key=lambda p: (-p[1], p[0]))  # fmt: skip
        return found[:limit] if limit else found


VOCABULARY = Words({"running": 40, "ruling": 2, "shoe": 30, "shoes": 12, "trail": 9,
                    "jacket": 7, "headphones": 5, "trial": 1})  # fmt: skip


def test_edit_distance_known_answers() -> None:
    assert edit_distance("runnign", "running", 2) == 1  # a swap is one edit
    assert edit_distance("kitten", "sitting", 3) == 3
    assert edit_distance("shoe", "shoe", 1) == 0
    assert edit_distance("abcdef", "uvwxyz", 2) == 3  # gave up above the limit


@given(st.text("abcd", max_size=7), st.text("abcd", max_size=7))
def test_edit_distance_is_symmetric_and_bounded(a: str, b: str) -> None:
    d = edit_distance(a, b, 10)
    assert d == edit_distance(b, a, 10) and abs(len(a) - len(b)) <= d <= max(len(a), len(b))


def test_misspelt_words_become_the_closest_frequent_catalog_word() -> None:
    assert correct_word("runnign", VOCABULARY) == "running"
    assert correct_word("rnuning", VOCABULARY) == "running"  # first two letters swapped
    assert correct_word("jackte", VOCABULARY) == "jacket"
    assert correct_word("headphnes", VOCABULARY) == "headphones"
    assert correct_word("trial", VOCABULARY) is None  # a catalog word is never corrected
    assert correct_word("shoe", VOCABULARY) is None
    assert correct_word("under", VOCABULARY) is None  # query grammar
    assert correct_word("xyzzy", VOCABULARY) is None  # nothing close


def test_a_query_is_corrected_word_by_word() -> None:
    assert spell_query("Runnign shoes under 80", VOCABULARY) == "running shoes under 80"
    assert spell_query("trail running shoes", VOCABULARY) is None
