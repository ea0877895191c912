"""Overviews, broad questions and comparisons (kbqa.answer.overview): which plan a question gets, and that the
answers quote the right sentences, each labelled with its entry and cited."""

from __future__ import annotations

import pytest

from kbqa.answer.overview import plan
from tests.test_text_rules import _corpus_entries


@pytest.mark.parametrize(
    ("question", "kind", "detail"),
    [
        ("Tell me about the Co-production for Sustainability entry.", "entries", {"Co-production for Sustainability"}),
        ("What is the Imagine project?", "entries", 2),  # two entries are called Imagine
        ("Compare the two Imagine entries in the knowledge base.", "entries", 2),
        ("What does the knowledge base say about health?", "topic", "health"),
        ("What are the main barriers to co-production?", "topic", "barriers co-production"),
        ("Tell me about What Works Scotland.", "topic", "What Works Scotland"),
        ("Compare the Imagine project and the Enabling Social Action Programme.", "compare", None),
        ("How does the role of citizens differ between the jury and participatory budgeting?", None, None),
        ("Which started earlier, the Welsh programme or the Imagine project?", "compare", "When did it start?"),
        ("Which has the longer time span: Co-production for Sustainability or the Enabling Social Action Programme?",
         "compare", "How long did it run?"),
    ],
)  # fmt: skip
def test_plans(question, kind, detail):
    found = plan(question, _corpus_entries())
    if kind is None:
        assert found is None or found.kind == "compare"
        return
    assert found is not None and found.kind == kind
    if kind == "entries":
        assert (len(found.entries) if isinstance(detail, int) else {e.title for e in found.entries}) == detail
    elif kind == "topic":
        assert found.topic == detail
    elif detail:
        assert found.aspect == detail


@pytest.mark.parametrize(
    "question",
    [
        "What is the web address of the Imagine project website?",  # asks for more than a description
        "What is the population of Rotherham?",
        "Who led the Imagine project?",
    ],
)
def test_questions_for_a_fact_are_not_overviews(question):
    assert plan(question, _corpus_entries()) is None


def test_an_entry_overview_is_its_opening_not_its_best_scoring_line(corpus_kb):
    answer = corpus_kb.ask("Tell me about the Co-production for Sustainability entry.")
    assert answer.answerer == "overview"
    assert answer.answer.startswith(
        "The Welsh Government’s Sustainable Development Change Programme began in May 2012. [1]"
    )
    assert "Contributed by" not in answer.answer and "Keywords" not in answer.answer


def test_a_qualified_overview_starts_where_the_qualifier_is_spoken_of(corpus_kb):
    answer = corpus_kb.ask("Describe the What Works Scotland policy briefing on mainstreaming participatory budgeting.")
    assert answer.answer.startswith("This policy briefing reviews how participatory budgeting (PB) has become central")


def test_a_broad_question_gives_one_labelled_cited_point_per_entry(corpus_kb):
    answer = corpus_kb.ask("What are the main barriers to co-production?")
    lines = answer.answer.split("\n")
    assert answer.answerer == "overview" and len(lines) >= 2 and all(line.startswith("• ") for line in lines)
    assert len({c.entry_id for c in answer.citations}) == len(lines)  # one entry per point
    assert all("barrier" in line.lower() for line in lines)  # each point speaks of the topic


def test_a_topic_of_one_entry_is_answered_from_its_best_sentences(corpus_kb):
    answer = corpus_kb.ask("What does the knowledge base say about libraries?")
    assert answer.answerer == "overview" and "Cornwall" in answer.answer and "29 libraries" in answer.answer
    assert len({c.entry_id for c in answer.citations}) == 1


def test_a_comparison_answers_both_sides(corpus_kb):
    answer = corpus_kb.ask("Compare the Imagine project and the Enabling Social Action Programme.")
    lines = answer.answer.split("\n")
    assert len(lines) == 2 and "civic engagement" in lines[0] and "commissioners" in lines[1]
    assert len(answer.citations) == 2
    answer = corpus_kb.ask(
        "Which has the longer time span: Co-production for Sustainability or the Enabling Social Action Programme?"
    )
    assert "2032" in answer.answer and "2020" in answer.answer


def test_a_topic_nothing_speaks_of_is_declined(corpus_kb):
    answer = corpus_kb.ask("What does the knowledge base say about underwater basket weaving?")
    assert answer.abstained


@pytest.mark.parametrize(
    ("question", "aspect", "sides"),
    [
        (
            "Which study covered more partners: the Imagine community-university partnership research or the "
            "Greater Manchester value co-creation study?",
            "How many partners did it involve?",
            ["Imagine community-university partnership research", "Greater Manchester value co-creation study"],
        ),
        ("Which had more partners, X or Y?", "How many partners did it involve?", ["X", "Y"]),
        ("Which started earlier, Imagine or Local Solutions?", "When did it start?", ["Imagine", "Local Solutions"]),
        ("Which involved more people, the jury or the panel?", "How many people did it involve?", ["jury", "panel"]),
    ],
)
def test_which_of_two_asks_each_side_about_the_noun_compared(question, aspect, sides):
    """'Which covered more partners: A or B?' asks each side how many partners (the noun before the colon
    belongs to the question, not to the first side)."""
    from kbqa.answer.overview import plan

    found = plan(question, [])
    assert found is not None and found.kind == "compare"
    assert found.aspect == aspect and found.sides == sides
