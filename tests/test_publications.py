"""Bibliographic questions answered from the publication records (kbqa.answer.publications): which
record a question names, which fields it asks for, and that each answer cites the line it states."""

from __future__ import annotations

import re

import pytest

from kbqa.answer.publications import match
from tests.test_text_rules import _corpus_entries

FADS = "User and community co-production of public services: Fad or fact, nuisance or necessity?"
EVIDENCE = "User and Community Co-Production of Public Services: What Does the Evidence Tell Us?"


@pytest.mark.parametrize(
    ("question", "fields", "titles"),
    [
        ("Who wrote the 2014 publication on unlocking the value of youth services through co-production?", ["authors"],
         ["Transforming Youth Services: unlocking the value of youth services through co-production"]),
        (f"Which journal published '{EVIDENCE}'?", ["venue"], [EVIDENCE]),
        ("Which journal published the article asking what the evidence tells us about user and community co-production?",
         ["venue"], [EVIDENCE]),
        ("Who published 'Co-producing Research: A Community Development Approach'?", ["publisher"],
         ["Co-producing Research: A Community Development Approach"]),
        ("In which volume and issue of the International Journal of Operations and Production Management did "
         "'Examining networked NGO services' appear?", ["volume"],  # the journal is given, not asked for
         ["Examining networked NGO services: Reconceptualising value co-creation"]),
        (f"Where and when was '{EVIDENCE}' published?", ["venue", "year"], [EVIDENCE]),
        ("what year did Policy Press bring out co-producing research: a community development approach?", ["year"],
         ["Co-producing Research: A Community Development Approach"]),  # "bring out": published
        # a year asked for without a verb of publishing
        ("which year is the briefing 'Fad or fact, nuisance or necessity?' from", ["year"],
         ["User and community co-production of public services: Fad or fact, nuisance or necessity?"]),
        (f"Who wrote '{EVIDENCE}', and the year it came out?", ["authors", "year"], [EVIDENCE]),
        # a record named by its subtitle (three titles share "User and community co-production of public services")
        ("Which book is the chapter on what influences citizens to co-produce in?", ["venue"],
         ["User and community co-production of public services: what influences citizens to co-produce?"]),
        # a title that shares its entry's name ("participatory budgeting"): those words count on neither side
        ("Who authored the 2015 overview of strategic design choices for participatory budgeting in Scotland?",
         ["authors"], ["Participatory Budgeting in Scotland: An overview of strategic design choices and principles "
                       "for effective delivery"]),
        # no title named, but the one journal it appeared in
        ("I'd like the exact title of the Journal of Social Policy article, and the year it came out.", ["year"],
         ["Activating Citizens to Participate in Collective Co-Production of Public Services"]),
        # an entry named, no record: the one record of it that has the fields asked for
        ("The Imagine project was written up in a book - who published it and in what year?", ["publisher", "year"],
         ["Co-producing Research: A Community Development Approach"]),
    ],
)  # fmt: skip
def test_field_questions_name_one_record(question, fields, titles):
    query = match(question, _corpus_entries())
    assert query is not None and not query.listing
    assert query.fields == fields and [f.record.title for f in query.found] == titles


@pytest.mark.parametrize(
    ("question", "titles"),
    [
        ("Which Bovaird and Loeffler publications are from 2008?",
         {FADS, "Innovation in public engagement and co-production of services"}),
        ("Which 2017 policy papers are listed under the Enabling Social Action guidance?",
         {"A description of social action", "Making the case for social action in the public sector",
          "Leadership and culture change to enable social action", "Commissioning for social action",
          "Creating the conditions for social action", "Enabling social action methodology"}),
        ("Which chapter did Tony Bovaird co-write with Steve Martin?",
         {"Citizen and User Participation in the UK: Experiences and Trends"}),
        ("Which related publications of the NEF guidance entry have Julia Slay as an author?",  # "related" is no verb
         {"Commissioning for Outcomes and Co-production: a new model for commissioning public services",
          "Transforming Youth Services: unlocking the value of youth services through co-production"}),
        ("How many policy papers are listed under the Enabling Social Action guidance?",  # a count lists them too
         {"A description of social action", "Making the case for social action in the public sector",
          "Leadership and culture change to enable social action", "Commissioning for social action",
          "Creating the conditions for social action", "Enabling social action methodology"}),
        # a lead-in before the wh-word; "items" of a named page
        ("In the publication list headed 'From engagement to co-production', which items are dated 2008?",
         {FADS, "Innovation in public engagement and co-production of services"}),
        ("Which two workshops did the Enabling Social Action Programme publish findings from?",
         {"Findings from Workshop 1: Building the space for social action",
          "Findings from Workshop 2: Changing roles and relationships"}),
    ],
)  # fmt: skip
def test_listing_questions_gather_the_records_they_name(question, titles):
    query = match(question, _corpus_entries())
    assert query is not None and query.listing
    assert {f.record.title for f in query.found} == titles


def test_which_is_older_compares_two_named_records():
    query = match(
        "Which is older, 'Fad or fact, nuisance or necessity?' or 'What Does the Evidence Tell Us?'", _corpus_entries()
    )
    assert query is not None and query.compare == "older"
    assert {f.record.title for f in query.found} == {FADS, EVIDENCE}


@pytest.mark.parametrize(
    "question",
    [
        "What did the briefing recommend?",
        "What were the main sources the New Economics Foundation used to gather insights on enabling social action?",
        "Which government office's Social Action Team collaborated with NEF on the Enabling Social Action project?",
        "Which universities are partners in Phase 2 of the Enabling Social Action programme?",
        "Who wrote the report on the moon landings?",
        "Which papers?",  # nothing to narrow the list by
        # the journal is named, not asked for; nor does a generic subtitle ("…of public outcomes") name a record
        "What sparked the interest in users and communities producing public services, according to the Journal "
        "of Social Policy article?",
        # "the authors of X", "the volume X" name a record without asking for a field it lacks
        "What research gap did the authors of 'Activating Citizens to Participate in Collective Co-Production of "
        "Public Services' set out to fill?",
        "How many countries are covered by the case studies in the volume Improving Public Services in East and West "
        "European Countries?",
    ],
)
def test_questions_about_other_things_are_left_to_the_other_answerers(question):
    assert match(question, _corpus_entries()) is None


def test_a_follow_up_asks_for_a_field_of_the_record_in_focus():
    entries = _corpus_entries()
    book = next(e for e in entries if e.title == "Improving Public Services in East and West European Countries")
    query = match("Which publisher?", entries, focus=(book.entry_id,))
    assert query is not None and query.found[0].record.publisher == "Routledge"
    doc = next(e for e in entries if e.title.startswith("From engagement to co-production"))
    recent = f"Which journal published '{EVIDENCE}'? “{EVIDENCE}” appeared in International Journal of Public Administration."
    query = match("And in what year was it published?", entries, focus=(doc.entry_id,), recent=[recent])
    assert query is not None and query.found[0].record.title == EVIDENCE
    # "which entry lists it?": the page of the record in focus
    query = match("Which entry lists it?", entries, focus=(doc.entry_id,), recent=[recent])
    assert query is not None and query.fields == ["list"] and query.found[0].record.title == EVIDENCE
    # (but "which other entry in the knowledge base did she contribute to?" asks for entries, not a page)
    query = match("which other entry in the knowledge base did she contribute to?", entries, focus=(doc.entry_id,))
    assert query is None or query.fields != ["list"]
    # …or by an earlier turn, when the latest one named no record (it was declined)
    declined = "Where does it say practice needs to be cautious? The knowledge base does not answer this question."
    query = match(
        "Which journal was it in?",
        entries,
        focus=(doc.entry_id,),
        recent=[declined, f"What does '{EVIDENCE}' look at?"],
    )
    assert query is not None and query.found[0].record.title == EVIDENCE
    # "which book" names a kind, but "is it part of" asks about the one in focus, not for a list of books
    chapter = next(e for e in entries if e.title.startswith("Improving Public Services Through E-Government"))
    query = match("which book is it part of?", entries, focus=(chapter.entry_id,))
    assert query is not None and query.fields == ["venue"]
    assert query.found[0].record.venue == "Improving Public Services in East and West European Countries"


@pytest.mark.parametrize(
    ("question", "must"),
    [
        ("Who are the authors of 'Commissioning for Outcomes and Co-production: a new model for commissioning public services'?",
         ["Joe Penny", "Julia Slay"]),
        (f"Which journal published '{EVIDENCE}'?", ["International Journal of Public Administration"]),
        ("In which book does 'User and community co-production of public services: what influences citizens to co-produce?' "
         "appear, and who published it?", ["Modern State", "Palgrave Macmillan"]),
        ("Which is older, 'Fad or fact, nuisance or necessity?' or 'What Does the Evidence Tell Us?'", ["2008", "2016", "older"]),
        ("In which city was 'Co-producing Research: A Community Development Approach' published?", ["Bristol"]),
    ],
)  # fmt: skip
def test_answers_state_the_fields_and_cite_the_line_they_come_from(corpus_kb, question, must):
    answer = corpus_kb.ask(question)
    assert answer.answerer == "publications" and not answer.abstained
    for key in must:
        assert key in answer.answer
    assert answer.citations and all(c.highlights for c in answer.citations)
    highlighted = " ".join(c.text[s:e] for c in answer.citations for s, e in c.highlights)
    for key in must:
        if key != "older":
            assert key in highlighted  # the stated value is on a highlighted line of a cited passage
    assert re.search(r"\[\d\]", answer.answer)


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("Which publisher brought out the 2017 Theory of Change Guide?", "its publisher"),
        ("Who published 'Theory of Change Guide'?", "its publisher"),
    ],
)
def test_a_named_record_without_the_field_asked_for_is_declined_citing_where_it_is_listed(corpus_kb, question, missing):
    answer = corpus_kb.ask(question)
    assert answer.answerer == "publications" and answer.abstained
    assert f"does not give {missing}" in answer.answer and "Theory of Change Guide" in answer.answer
    assert answer.citations and all(c.highlights for c in answer.citations)


def test_the_page_a_record_is_listed_on_is_always_known(corpus_kb):
    page = corpus_kb.ask(
        "What is the title of the page of publications that includes 'Fad or fact, nuisance or necessity?'?"
    )
    assert not page.abstained and "From engagement to co-production" in page.answer


ENGAGEMENT = "From engagement to co-production: The contribution of users and communities to outcomes and public value"
MAINSTREAMING = (
    "Mainstreaming participatory budgeting: What works in building foundations for a more participatory democracy?"
)


@pytest.mark.parametrize(
    ("question", "pages", "first_record"),
    [
        # a record named by title: the page it is listed on, stood for by that record
        ("What is the overall title of the page of publications that includes 'Fad or fact, nuisance or necessity?'?",
         [ENGAGEMENT], FADS),
        ("Which list is 'Participatory Budgeting in Scotland: an overview of strategic design choices' on?",
         [MAINSTREAMING], None),
        # records gathered by author: one sentence per page
        ("What's the heading of the publications list that collects the Bovaird and Loeffler co-production papers?",
         [ENGAGEMENT], None),
    ],
)  # fmt: skip
def test_the_page_a_record_is_listed_on_is_its_entrys_title(question, pages, first_record):
    query = match(question, _corpus_entries())
    assert query is not None and query.fields == ["list"] and not query.listing
    assert [f.entry.title for f in query.found] == pages
    if first_record:
        assert query.found[0].record.title == first_record


@pytest.mark.parametrize(
    "question",
    [
        "What is the title of the page about participatory budgeting?",  # no record named: the other answerers'
        "Which item on the 'From engagement to co-production' publication list is a research briefing?",  # asks an item
    ],
)
def test_a_page_question_naming_no_record_is_not_a_page_question(question):
    query = match(question, _corpus_entries())
    assert query is None or query.fields != ["list"]
