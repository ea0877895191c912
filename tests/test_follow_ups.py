"""Follow-ups (kbqa.conversation): the standalone question is one plain sentence about the entry in focus,
elliptical and 'which one' follow-ups are recognised, a pick from a listed answer keeps its citation, and a
follow-up asking for a field of the entry in focus is answered from that entry."""

from __future__ import annotations

import pytest

from kbqa.conversation import Turn, from_previous_list, is_definite_short, is_elliptical, resolve
from kbqa.schema import Citation

IMAGINE = Turn(
    "Tell me about the Imagine project.",
    "Imagine was a five-year research project … [1]",
    "Tell me about the Imagine project.",
    "Imagine: the social, historical, cultural and democratic context of civic engagement",
    ("000#2",),
)


@pytest.mark.parametrize(
    ("question", "standalone"),
    [
        ("Who ran it?", "Who ran Imagine?"),
        ("When did it end?", "When did Imagine end?"),
        ("Who coordinated its cultural strand?", "Who coordinated Imagine’s cultural strand?"),
        ("When did the project end?", "When did Imagine end?"),
        ("Which publisher?", "Which publisher (Imagine)?"),
        ("Who held the post before her?", "Who held the post before her (Imagine)?"),
    ],
)
def test_the_standalone_question_is_one_plain_sentence_about_the_topic(question, standalone):
    assert resolve(question, [IMAGINE]).standalone == standalone


@pytest.mark.parametrize(
    ("answer", "question", "standalone"),
    [
        ("Cultural: co-ordinated by Professor Kate Pahl. [1]", "Which university is she from?",
         "Which university is Kate Pahl from?"),
        ("It is led by Angie Hart. [1]", "What is her affiliation?", "What is Angie Hart’s affiliation?"),
        ("Democratic: co-ordinated by Dr Paul Ward. [1]", "Where is he based, and what did he write?",
         "Where is Paul Ward based, and what did Paul Ward write?"),
    ],
)  # fmt: skip
def test_she_and_he_are_the_person_the_last_answer_named(answer, question, standalone):
    """A question about the person the last answer named stands on its own (no topic carried over)."""
    last = Turn("Who co-ordinated it?", answer, "Who co-ordinated it?", IMAGINE.topic, IMAGINE.entry_ids)
    follow = resolve(question, [last])
    assert (follow.standalone, follow.context, follow.entry_ids) == (standalone, None, ())


def test_she_without_a_person_named_keeps_the_topic():
    assert resolve("Who held the post before her?", [IMAGINE]).context is not None


def test_standalone_questions_never_nest_earlier_turns():
    turns = [IMAGINE]
    for question in ["Who ran it?", "When did it end?", "And who funded it?"]:
        follow = resolve(question, turns)
        turns.append(Turn(question, "…", follow.standalone, IMAGINE.topic, IMAGINE.entry_ids))
    assert turns[-1].standalone == "And who funded Imagine?"
    assert all(t.standalone.count("(") <= 1 for t in turns)


@pytest.mark.parametrize(
    ("question", "elliptical"),
    [
        ("Which publisher?", True),
        ("Across how many projects?", True),
        ("What year?", True),
        ("Which projects started in 2018?", False),
        ("What is participatory budgeting?", False),
        ("Which Imagine strand?", False),  # names something of its own
    ],
)
def test_elliptical_questions(question, elliptical):
    assert is_elliptical(question) is elliptical


@pytest.mark.parametrize(
    ("question", "follows"),
    [
        ("who were the authors?", True),
        ("Where was the event held?", True),
        ("What did the evaluation find?", True),
        ("What is participatory budgeting?", False),  # no "the"
        ("Who funded the Imagine project?", False),  # names something of its own
        ("Which entries are about co-production in the public sector?", False),  # a question in its own right
    ],
)
def test_a_short_question_about_the_something_follows_on(question, follows):
    assert is_definite_short(question) is follows


def _turn(question: str, answer: str, source: str, title: str) -> Turn:
    """A past turn whose answer cites passages 1 and 2 of one entry."""
    entry = f"{source.split('.')[0]}#0"
    cites = tuple(Citation(n, source, title, f"passage {n}", 0.5, entry_id=entry) for n in (1, 2))
    return Turn(question, answer, "…", title, (entry,), cites)


def _listed() -> Turn:
    answer = (
        "3 records match:\n"
        "• “Fad or fact” (2008) [1]\n"
        "• “What Does the Evidence Tell Us?” (2016) — International Journal of Public Administration [1]\n"
        "• “Activating Citizens” (2014) — Journal of Social Policy [2]"
    )
    return _turn("Which publications appeared in journals?", answer, "003.txt", "From engagement")


@pytest.mark.parametrize(
    ("question", "expected", "cited"),
    [
        ("and the second one?", "The second one is “What Does the Evidence Tell Us?” (2016)", "passage 1"),
        ("And the last one?", "The last one is “Activating Citizens” (2014)", "passage 2"),
        ("Which one came out in 2016?", "“What Does the Evidence Tell Us?” (2016)", "passage 1"),
        ("Which one came out in 1999?", None, None),  # no item matches
        ("Which one was most popular?", None, None),  # nothing in the list says
    ],
)
def test_a_pick_from_a_listed_answer_keeps_the_items_citation(question, expected, cited):
    answer = from_previous_list(question, _listed())
    if expected is None:
        assert answer is None
        return
    assert answer.answer.startswith(expected) and answer.answer.endswith("[1]")
    assert [c.text for c in answer.citations] == [cited] and answer.citations[0].n == 1


def _numbered() -> Turn:
    answer = (
        "NEF gathered insights from four main sources: 1) desk research and expert interviews, 2) dialogue with "
        "our advisory group, 3) a network of ‘learning partners’, and 4) pilots with three implementation sites. [1] "
        "The consultation asked whether libraries should be: (1) devolved; (2) outsourced to a trust; or (3) closed. [2]"
    )
    return _turn("Where did NEF gather its insights from?", answer, "002.txt", "Enabling")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What was the last of those sources?", "The last one is pilots with three implementation sites. [1]"),
        ("and the second one?", "The second one is dialogue with our advisory group. [1]"),
        ("Tell me about the third of them", "The third one is a network of ‘learning partners’. [1]"),
        ("and the fifth one?", None),  # the list has four
        ("What was the most useful source?", None),  # picks no item
    ],
)
def test_a_pick_from_items_numbered_inline_keeps_their_citation(question, expected):
    """The first sentence numbering its items inline ("1) …, 2) … and 4) …") is the list picked from."""
    answer = from_previous_list(question, _numbered())
    if expected is None:
        assert answer is None
        return
    assert answer.answer == expected and [c.text for c in answer.citations] == ["passage 1"]


@pytest.mark.parametrize(
    ("history", "question", "must"),
    [
        (["What was the 'Local solutions to local problems' project about?"], "When did it run?", "2016"),
        (["Tell me about the Imagine project that ran from 2013 to 2017."], "Who coordinated its cultural strand?", "Kate Pahl"),
        (["Which book collects chapters on public service reform in Eastern and Western Europe?"], "Which publisher?", "Routledge"),
        (["What policy papers are listed under the Enabling Social Action guidance entry?"], "and the second one?",
         "Making the case"),
        # "it" is what the last answer opened with: the strand, whose description follows its line
        (["Who co-ordinated the historical strand of Imagine?"], "What did it focus on?", "Tyneside"),
        # "she" is the person the last answer named
        (["Who co-ordinated the social work package of Imagine?"], "Which university is she from?", "Brighton"),
    ],
)  # fmt: skip
def test_follow_ups_are_answered_from_the_entry_in_focus(corpus_kb, history, question, must):
    chat = corpus_kb.conversation()
    for earlier in history:
        chat.ask(earlier)
    answer = chat.ask(question)
    assert not answer.abstained and must in answer.answer, answer.answer
    assert answer.standalone_question and "(" not in answer.standalone_question.split("(", 1)[-1]  # no nesting


def test_refusals_name_only_a_real_noun(corpus_kb):
    chat = corpus_kb.conversation()
    chat.ask("Who funded the Local solutions to local problems trial?")
    answer = chat.ask("What else?")
    assert "the else" not in answer.answer


GUIDANCE = "000_525025c0dd7eef87.txt#1"  # the entry "Enabling Social Action: guidance"


@pytest.mark.parametrize(
    "question",
    [
        # the entry is named, and its title holds the noun asked about ("guidance"): its dates sentence
        # answers, not a neighbouring "Enabling social action" entry's sentence that mentions guidance
        "What was the Enabling Social Action guidance work that government did with the New Economics Foundation?",
        "When was the Enabling Social Action guidance developed?",
    ],
)
def test_a_question_naming_an_entry_is_answered_from_that_entry(corpus_kb, question):
    answer = corpus_kb.ask(question)
    assert not answer.abstained and "November 2015" in answer.answer, answer.answer
    assert {c.entry_id for c in answer.citations} == {GUIDANCE}


def test_a_follow_up_about_the_named_entry_keeps_it_in_focus(corpus_kb):
    chat = corpus_kb.conversation()
    chat.ask("What was the Enabling Social Action guidance work that government did with the New Economics Foundation?")
    answer = chat.ask("When did that run?")
    assert "November 2015" in answer.answer and "August 2016" in answer.answer, answer.answer


_STRAND_PASSAGE = "Historical: co-ordinated by Professor Sarah Banks. This focused on Tyneside and Coventry."


@pytest.mark.parametrize(
    ("answerer", "shown", "anchor"),
    [
        # an extractive answer quotes: its first sentence is the one it relied on
        ("extractive", "Historical: co-ordinated by Professor Sarah Banks. [1]",
         "Historical: co-ordinated by Professor Sarah Banks."),
        # an LLM's rewrite is not in the passage: the passage sentence it rewords stands in for it
        ("llm", "Professor Sarah Banks co-ordinated the historical strand. [1]",
         "Historical: co-ordinated by Professor Sarah Banks."),
        ("llm", "It looked at Tyneside and Coventry [1].", "This focused on Tyneside and Coventry."),
    ],
)  # fmt: skip
def test_a_follow_up_points_back_at_the_sentence_the_last_answer_relied_on(answerer, shown, anchor):
    from kbqa.conversation import next_turn
    from kbqa.schema import Answer

    cited = Citation(1, "imagine.txt", "Imagine", _STRAND_PASSAGE, 0.8, highlights=[(0, 50), (51, 90)])
    last = next_turn(Answer("Who co-ordinated the historical strand?", shown, [cited], answerer=answerer), None)
    assert resolve("What did it focus on?", [last]).anchor == anchor


def test_a_follow_up_reads_what_the_answer_quoted_however_an_llm_worded_it():
    """The conversation's state comes from the extractive answer an LLM answer rewords: 'she' is the person it
    quoted first, and the sentence it opened with is the anchor, whichever path answered."""
    quoted = "Cultural: co-ordinated by Professor Kate Pahl. [1] Social: co-ordinated by Professor Angie Hart. [1]"
    worded = "Professor Angie Hart led the social strand, and Professor Kate Pahl the cultural one. [1]"
    turn = Turn("Who led the cultural strand?", worded, "Who led the cultural strand?", quoted=quoted)
    assert "Kate Pahl" in resolve("Where is she based?", [turn]).standalone
    follow = resolve("And when did it end?", [turn])
    assert follow.anchor == "Cultural: co-ordinated by Professor Kate Pahl."
