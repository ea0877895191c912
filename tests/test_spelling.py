"""Misspelt question words put right from the index's own words (kbqa.spelling), and only those."""

from __future__ import annotations

import pytest

from kbqa.spelling import Speller, edits
from kbqa.text import tokenize

INDEXED = {s: 3 for s in tokenize(["advisory group libraries Staffordshire capacity building partner surveyed"])[0]}
COMMON = frozenset({"entire", "tulip", "marathon", "advisor"})


def speller() -> Speller:
    return Speller(lambda stem: INDEXED.get(stem, 0), COMMON)


@pytest.mark.parametrize(
    ("question", "corrected"),
    [
        ("nef advisery group - what questions did it discuss", "nef advisory group - what questions did it discuss"),
        ("staffordshre capacity bulding partner role?", "staffordshire capacity building partner role?"),  # several
        ("which libaries were handed over?", "which libraries were handed over?"),  # a letter dropped
        # a word the answerers understand, though the corpus never says it: "entries", not the common "entire"
        ("which entires are about Scotland?", "which entries are about Scotland?"),
        # left alone: known words, common English words, names (capitalised), short words, words nothing is near
        ("Who surveyed the advisory group?", "Who surveyed the advisory group?"),
        ("When do I plant tulip bulbs?", "When do I plant tulip bulbs?"),
        ("What did Bovard write?", "What did Bovard write?"),
        ("grop of advisors", "grop of advisors"),  # an inflection of a common word ("advisor"), not "advisory"
        ("how long should sourdough proof?", "how long should sourdough proof?"),
    ],
)
def test_only_unknown_words_one_edit_from_an_indexed_word_are_corrected(question, corrected):
    assert speller().correct(question) == corrected


def test_edits_are_one_letter_dropped_added_changed_or_two_swapped():
    found = edits("advisery")
    assert {"advisory", "adviser", "advisoery", "advsiery"} <= found  # change, drop, add, swap
    assert "advisery" not in found and "advisorry" not in found  # itself, or two edits away


def test_a_misspelt_question_is_asked_corrected_and_shown_as_asked(corpus_kb):
    answer = corpus_kb.ask("what did the nef advisery group do?")
    assert answer.question == "what did the nef advisery group do?"
    assert answer.standalone_question == "what did the nef advisory group do?"
    assert not answer.abstained and "peer reviewed" in answer.answer
