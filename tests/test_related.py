"""Words close in meaning (kbqa.answer.related): a paraphrase's words find the passage's own words for them,
by the embedder's vectors of single words, and count for part of a match in the sentence score only."""

from __future__ import annotations

import pytest

from kbqa.answer.related import related_stems, surface_words
from kbqa.text import tokenize


@pytest.fixture(scope="module")
def embedder(model_cache):
    from kbqa.index.embed import Embedder

    return Embedder(model_cache)


def test_surface_words_keep_the_first_word_for_each_stem_and_drop_stop_words():
    words = surface_words(["The councils ran libraries; the council's library ran well.", "co-design at 2015"])
    assert words[tokenize(["councils"])[0][0]] == "councils"
    assert words[tokenize(["libraries"])[0][0]] == "libraries"
    assert "the" not in words.values() and "2015" not in words.values()
    assert "co-design" in words.values()


@pytest.mark.parametrize(
    ("asked", "offered", "related"),
    [
        ("strongest", "powerful", True),
        ("customers", "users", True),
        ("questioned", "interviewed", True),
        ("constabulary", "police", True),
        ("older", "age", True),
        # unrelated words stay apart, and a word does not stand in for itself
        ("strongest", "libraries", False),
        ("constabulary", "evaluation", False),
        ("customers", "volunteers", False),
    ],
)
def test_words_close_in_meaning_are_related(embedder, asked, offered, related):
    asked_words, offered_words = surface_words([asked]), surface_words([offered])
    found = related_stems(embedder, asked_words, offered_words)
    assert bool(found) is related
    if related:
        assert found == {next(iter(asked_words)): set(offered_words)}


def test_listed_synonyms_and_asked_stems_are_not_offered_again(embedder):
    asked = surface_words(["strongest users"])
    offered = surface_words(["powerful users"])
    powerful = tokenize(["powerful"])[0][0]
    assert related_stems(embedder, asked, offered) == {tokenize(["strongest"])[0][0]: {powerful}}
    assert related_stems(embedder, asked, offered, exclude={powerful}) == {}


def test_related_words_count_part_of_a_match_only_when_asked_for():
    from kbqa.answer.extractive import RELATED_WEIGHT, Terms

    terms = Terms({"strongest": 1.0, "model": 1.0}, {}, {"strongest": {"power"}})
    tokens = {"power", "model"}
    assert terms.coverage(tokens) == pytest.approx(0.5)
    assert terms.coverage(tokens, related=True) == pytest.approx((1.0 + RELATED_WEIGHT) / 2)


def test_a_paraphrase_ranks_the_sentence_that_says_it_in_other_words_first(corpus_kb):
    """No content word of "the strongest template for involving service customers … commercial discipline" is in
    "the most powerful model of user participation comes from market research"; before related words counted,
    the chapter's other sentences outscored it."""
    from kbqa.answer.extractive import Extractive

    question = (
        "Bovaird and Martin trace the strongest template for involving service customers back to which "
        "commercial discipline?"
    )
    hits = corpus_kb.retrieve(question, k=5)
    extractive = Extractive(corpus_kb.settings, corpus_kb.embedder, corpus_kb.keyword_index)
    assert "market research" in extractive.ranked(question, hits)[0].text


def test_names_are_matched_exactly_or_not_at_all(embedder):
    """ "Scotland" and "Wales" are as close as 0.68, but a question about one is not answered by the other."""
    assert surface_words(["What Works Scotland worked in Scotland."]) == {tokenize(["worked"])[0][0]: "worked"}
    asked = surface_words(["which projects in wales"])  # lower-cased by the user: still a word of the question
    assert related_stems(embedder, asked, surface_words(["Projects in Scotland were funded."])) == {}
