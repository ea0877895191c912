"""Table-driven tests of the answerer's rules, one table per rule, so that a regression in one question shape
is caught even when the aggregate quality bars still pass."""

from __future__ import annotations

import pytest

from kbqa.answer.catalog import match
from kbqa.conversation import Turn, is_follow_up, resolve
from kbqa.schema import Entry
from kbqa.text import answer_type, focus_word, has_new_fact, is_overview, sentences, split_parts


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who led the Imagine project?", "person"),
        ("Whose report was it?", "person"),
        ("Which universities are partners in Phase 2?", "person"),  # organisations answer "which universities"
        ("Which organisation did government team up with?", "person"),
        ("When did Co-production for Sustainability begin?", "date"),
        ("And when?", "date"),
        ("What year did it end?", "date"),
        ("How long did the programme run?", "duration"),
        ("For how many years did it run?", "duration"),
        ("How many local authorities took part?", "number"),
        ("What is the number of sites?", "number"),
        ("How much money was Imagine awarded?", "money"),
        ("What was the budget of the programme?", "money"),
        ("Where did the historical strand take place?", "place"),
        ("Besides the UK, in which countries did it take place?", "place"),
        ("In which countries did it take place?", "place"),
        ("Which countries took part?", "place"),
        ("Where does the idea of co-production come from?", None),  # an origin, not a place
        ("What is participatory budgeting?", None),
        ("Why do organisations struggle with social action?", None),
        ("When councils share budgets with residents, which two weaknesses need fixing?", None),  # a clause
        ("When residents vote on how council cash is spent, which weak spots need fixing?", None),  # not money
        ("Which two strands gave rise to letting citizens decide how public money is spent?", None),  # a topic
        ("How much was spent on the pilots?", "money"),
        ("How much public money was allocated through participatory budgeting?", "money"),  # a word before "money"
        ("How much was invested in the scheme?", "money"),
        ("Which town's communities did it look at?", "place"),
        ("Which university's researchers led it?", "person"),
        ("When councils share budgets, how many residents take part?", "number"),
        ("When, after the pilot, did the council decide?", "date"),
        ("Where can I see what changes the programme seeks?", None),  # where to look, not a place
        ("Where could readers find the full report?", None),
        ("Where can the jury have met?", "place"),
        # a wh-phrase after any preposition
        ("Over which months was the strategy developed?", "date"),
        ("During which year did it end?", "date"),
        ("Across which countries did it run?", "place"),
        # an age is asked as one: a number or a year of the sentence is no answer to it
        ("How old was Graham Crow when he stepped down?", "age"),
        # "how much is known about" asks what is known, not how much
        ("The article asks how much is actually known about which aspects of co-production?", None),
        ("How much was known about it?", None),
        ("How much is the grant?", "money"),  # (an amount: not a question of what is known)
        ("At what age can young people join the panel?", "age"),
        # the size of a grant is an amount; the size of a workforce a number
        ("How large was the CUPI grant for the project?", "money"),
        ("How big was its funding?", "money"),
        ("How big is the workforce it covers?", "number"),
    ],
)
def test_answer_type(question, kind):
    assert answer_type(question) == kind


@pytest.mark.parametrize(
    ("question", "focus"),
    [
        ("Which council priorities did the study address?", "priorities"),
        ("Which universities are partners in Phase 2?", "universities"),
        ("How many singers did the choir have?", "singers"),
        ("Name the partners", "partners"),
        ("Besides the UK, in which countries did the work take place?", "countries"),
        ("What Works Scotland is a programme: what did it find?", None),  # a name, not a wh-word
        # a verb right after "what" makes it the subject: no noun is asked for
        ("What goes wrong when talk turns to involving the public?", None),
        ("What drives citizen participation?", None),
        ("What lies behind the gulf?", None),
        ("What is the oldest, and who ran it?", None),  # a superlative names no noun
        ("Who led it?", None),
        ("How many local authorities took part?", "authorities"),
        # the head is the last of the first run of plurals, not the verb after it
        ("Which six local authorities took part in the partnerships?", "authorities"),
        ("Which sports clubs joined the scheme?", "clubs"),
        ("Which sectors is it listed under?", "sectors"),
        ("What is Diana Reynolds' job title in the Welsh Government?", "title"),  # the noun after a possessive
        ("What was the project's budget?", "budget"),
        # "what's the X of Y's Z" asks for X; "what's the X" reads as "what is the X"
        ("what's the web address of the Imagine project's website?", "address"),
        ("what's the name of the partner?", "name"),
        # an irregular past tense after the noun ends the phrase, as an -ed verb does
        ("and which option came out on top?", "option"),
        ("Which team won the award?", "team"),
        ("How large was the grant?", "grant"),  # "how large/big/much was the X": X
        ("How big was the sample?", "sample"),
        ("How long was the project?", None),  # a duration: any span answers it
        ("What's Kate Pahl's role?", "role"),
        ("What is the main policy recommendation of the 'Activating the Big Society' study?", "recommendation"),
    ],
)
def test_focus_word(question, focus):
    assert focus_word(question) == focus


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Smith led it. The work began in 2010.", ["Dr. Smith led it.", "The work began in 2010."]),
        ("Prof. Jones et al. wrote it in 2012. It was good.", ["Prof. Jones et al. wrote it in 2012.", "It was good."]),
        ("e.g. this one. Next sentence here.", ["e.g. this one.", "Next sentence here."]),
        ("The U.K. team met. They agreed.", ["The U.K. team met.", "They agreed."]),
        ("Keywords: a, b\nContributed by: X – Univ", ["Keywords: a, b", "Contributed by: X – Univ"]),  # lines are units
        ("• first item\n• second item", ["• first item", "• second item"]),
        ("It cost £2.2m. Work started in March 2018.", ["It cost £2.2m.", "Work started in March 2018."]),
        ("What happened? Nobody knows! See below.", ["What happened?", "Nobody knows!", "See below."]),
    ],
)
def test_sentence_splitting(text, expected):
    assert sentences(text) == expected


@pytest.mark.parametrize(
    ("sentence", "question", "holds"),
    [
        ("It was led by Professor Kate Pahl.", "Who led the cultural strand?", True),
        ("The cultural strand was important.", "Who led the cultural strand?", False),
        ("Imagine ran from 2013 to 2017.", "When did Imagine run?", True),
        ("Imagine was a large project.", "When did Imagine run?", False),
        ("The project was awarded just over £2.2m.", "How much was the project awarded?", True),
        (
            "It worked with five European countries.",
            "Which countries did it work with?",
            False,
        ),  # describes, names none
        ("In 2014 the team met twice.", "How many times did the team meet?", False),  # a year is not a count
        ("Six national events were held.", "How many national events were held?", True),
        # a place named after the question's own place does not answer "which town"
        (
            "What Works Scotland worked with police services in the North East of Scotland.",
            "In which town in the North East of Scotland was the bonfire held?",
            False,
        ),
        ("The jury met in Fraserburgh, in the North East of Scotland.", "In which town in Scotland did it meet?", True),
        # … nor the question's place named by its people's adjective, nor a part of a country for "which town"
        ("With Cornwall Council, we looked at devolving libraries.", "Which Cornish towns run their library?", False),
        ("The work took place in Wales.", "Which Welsh cities took part?", False),
        ("The jury met in the North East of Scotland.", "In which town was the Scottish jury held?", False),
        ("The jury met in the North East of Scotland.", "Which part of Scotland was the jury in?", True),
        ("The jury met in Peterhead.", "In which town was the Scottish jury held?", True),
        ("It appeared in the SIPR Annual Report.", "Where was the report on Local solutions published?", True),
        # "which five X" wants them named: "five local authorities in England and Wales" names none
        (
            "It surveyed five local authorities in England and Wales.",
            "Which five local authorities were surveyed?",
            False,
        ),
        ("They were Kirklees, Leeds, Newport, Cardiff and York.", "Which five local authorities were surveyed?", True),
        ("The panel met in Leeds.", "Which local authority hosted the panel?", True),
        # people named by their role answer "who/whom" when the sentence says the question's verb
        ("We interviewed stakeholders, including the head of the library service.", "Whom did it interview?", True),
        ("Evaluation is carried out by academics from universities.", "Who carries out the evaluation?", True),
        ("We brought together commissioners and national experts.", "Who chaired the advisory group?", False),
        ("Commissioner Champions will share their learning.", "Who are the Commissioner Champions?", False),
        # "who else" asks for more parties: roles answer it without a shared verb
        ("It is aimed at research funders and community members.", "Besides academics, who else is it for?", True),
        ("It is aimed at research funders and community members.", "Who is it for?", False),
        # "who … with?" asks for the parties something is done with
        (
            "It co-designs services with local people and service users.",
            "Tell me who it co-designs services with",
            True,
        ),
        # "which month" wants a month, not a year
        ("Mainstreaming participatory budgeting (2018)", "In which month did the briefing come out?", False),
        ("December 2018", "In which month did the briefing come out?", True),
        # "which bodies": bodies named by what they are answer it; "what kind of organisation" asks what it is
        (
            "It can be disseminated across local government and local strategic partnerships.",
            "Across which bodies could it be spread?",
            True,
        ),
        ("Six national events will build on the findings of the partnerships.", "Which bodies applied?", False),
        ("It worked with local authorities.", "What kinds of organisations applied?", False),
        ("It worked with local authorities.", "Which local authorities applied?", False),  # the question's own words
        # "how old": an age, not the year a role ended
        ("Democratic: co-ordinated by Professor Graham Crow until 2014.", "How old was Graham Crow then?", False),
        ("The panel is open to young people aged 16 to 25.", "How old are the panel's members?", True),
        ("A 40-year-old volunteer chaired it.", "How old was the chair?", True),
    ],
)
def test_a_sentence_holds_the_kind_of_fact_asked_for(sentence, question, holds):
    assert has_new_fact(sentence, question, answer_type(question)) is holds


@pytest.mark.parametrize(
    ("question", "overview"),
    [
        ("Tell me about the Imagine project", True),
        ("What is participatory budgeting?", True),
        ("What was the Enabling Social Action Programme about?", True),
        ("Give me an overview of co-production", True),
        ("What is the capital of the project?", False),
        ("Who is Angie Hart?", False),
    ],
)
def test_overview_questions(question, overview):
    assert is_overview(question) is overview


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        ("Who led it, and when did it start?", ["Who led it", "when did it start?"]),
        ("How many took part? Who was interviewed?", ["How many took part", "Who was interviewed?"]),
        ("What did the briefing recommend?", ["What did the briefing recommend?"]),
        ("Which councils and which charities took part?", ["Which councils", "which charities took part?"]),
        (
            "Who co-ordinated the strand, and from which decade were the projects it went back to?",
            ["Who co-ordinated the strand", "from which decade were the projects it went back to?"],
        ),
        ("Who led it and in what year did it end?", ["Who led it", "in what year did it end?"]),
        ("Where and when was the article published?", ["Where and when was the article published?"]),
        # a part that names only the field it asks for
        (
            "Tell me who it works with, and the dates it runs.",
            ["Tell me who it works with", "what are the dates it runs."],
        ),
        ("What did it find, and its funders?", ["What did it find", "what are its funders?"]),
        ("Who led the study and the years?", ["Who led the study and the years?"]),  # no comma: one phrase
        # "Also," and "as well as" join parts; a comma before a wh-word ends one
        (
            "Who took part? Also, which start-up did they work with?",
            ["Who took part", "which start-up did they work with?"],
        ),
        ("Who led it; also, over which months did it run?", ["Who led it", "over which months did it run?"]),
        ("Where did it start, as well as what did it find?", ["Where did it start", "what did it find?"]),
        ("Where was it trialled, what did the jury look at?", ["Where was it trialled", "what did the jury look at?"]),
        # a lead-in without a question is not a part; nor is a short tail ("from when?")
        ("Apart from Islington, who took part?", ["Apart from Islington, who took part?"]),
        ("It was written up in a book - who published it?", ["It was written up in a book", "who published it?"]),
        ("How much did it get, and who took over, from when?", ["How much did it get", "who took over, from when?"]),
        # an adverb may come between "and" and the wh-word
        ("Over what period has it grown, and roughly how many are there?",
         ["Over what period has it grown", "roughly how many are there?"]),
        # "X, where/when <subject> …" is a relative clause about X, not a second question
        ("What's the population of Rotherham, where the project's cultural strand worked?",
         ["What's the population of Rotherham, where the project's cultural strand worked?"]),
        ("Who led it in 2014, when the funding ran out?", ["Who led it in 2014, when the funding ran out?"]),
        ("When did it start, where did it take place?", ["When did it start", "where did it take place?"]),
        # …whatever its subject (a name too); with an auxiliary first it asks
        ("What is the population of Cornwall, where NEF studied the library service?",
         ["What is the population of Cornwall, where NEF studied the library service?"]),
        ("Who led it, when did Cornwall join?", ["Who led it", "when did Cornwall join?"]),
        # "the publication list" is a noun: a lead-in, not a part
        ("In the publication list headed 'From engagement', which items are dated 2008?",
         ["In the publication list headed 'From engagement', which items are dated 2008?"]),
        ("List the entries, and which of them ran in 2016?", ["List the entries", "which of them ran in 2016?"]),
        # wh-phrases after a preposition share the last part's predicate: one question
        ("In which book, from which publisher and in what year did the chapter appear?",
         ["In which book, from which publisher and in what year did the chapter appear?"]),
        ("In which book did it appear, and who published it?", ["In which book did it appear", "who published it?"]),
        # an imperative part after ", and" asks for what it names; a second sentence in the imperative says how
        # to answer the first
        ("Name the four levels, and give the dates of the entry.", ["Name the four levels", "what are the dates of the entry."]),
        ("Who led it, and tell me its funder.", ["Who led it", "what are its funder."]),
        ("Which report does it complement? Give me its title.", ["Which report does it complement? Give me its title."]),
        ("Tell me about Imagine and give its dates", ["Tell me about Imagine and give its dates"]),
        # a field with a clause of its own is a part even without a comma; a field alone is not
        ("Name the lead organisation behind it and the year it started.",
         ["Name the lead organisation behind it", "what are the year it started."]),
        ("Who funded the project and the place it was held?", ["Who funded the project", "what are the place it was held?"]),
        ("What were the dates and places of the workshops?", ["What were the dates and places of the workshops?"]),
        ("Who chose the titles and authors of the chapters?", ["Who chose the titles and authors of the chapters?"]),
    ],
)  # fmt: skip
def test_multi_part_splitting(question, parts):
    assert split_parts(question) == parts


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        # two wh-words sharing one predicate: one question for each, the predicate repeated
        ("When and where did the jury meet?", ["When did the jury meet?", "where did the jury meet?"]),
        ("Who and why set up the forum?", ["Who set up the forum?", "why set up the forum?"]),
        # anything else is not a pair
        ("When did the jury meet?", []),
        ("When and when did it meet?", []),
        ("Bread and butter?", []),
        ("In which book and from which publisher?", []),
    ],
)
def test_a_wh_pair_is_asked_as_two_questions(question, parts):
    from kbqa.text import wh_pair_parts

    assert wh_pair_parts(question) == parts


ENTRIES = [
    Entry(
        "a#0",
        "a.txt",
        "Imagine",
        2013,
        2017,
        ["civic engagement"],
        ["Angie Hart", "Kate Pahl"],
        ["University of Brighton"],
    ),
    Entry(
        "a#1",
        "a.txt",
        "Enabling Social Action",
        2018,
        2020,
        ["social action"],
        ["Jon Burchell"],
        ["University of Sheffield"],
    ),
    Entry(
        "b#0",
        "b.txt",
        "Participatory budgeting",
        2015,
        None,
        ["participatory budgeting"],
        ["Oliver Escobar"],
        ["What Works Scotland"],
    ),
]


@pytest.mark.parametrize(
    ("question", "field", "titles"),
    [
        ("Which projects did Angie Hart contribute to?", "contributor", ["Imagine"]),
        ("Which entries were contributed by Oliver Escobar?", "contributor", ["Participatory budgeting"]),
        ("List the projects involving the University of Sheffield", "contributor", ["Enabling Social Action"]),
        ("Which projects are tagged social action?", "keyword", ["Enabling Social Action"]),
        ("Which projects were running in 2019?", "year", ["Enabling Social Action", "Participatory budgeting"]),
        ("Which projects were active in 2014?", "year", ["Imagine"]),
    ],
)
def test_catalogue_recognises_listing_questions(question, field, titles):
    meta = match(question, ENTRIES)
    assert meta is not None and meta.field == field
    assert [e.title for e in meta.entries] == titles


@pytest.mark.parametrize(
    "question",
    [
        "Who led the Imagine project?",  # a fact, not a listing
        "What did Angie Hart find?",
        "Which projects ran in 1850?",  # no entry: falls through to the answerer that can decline
        "Tell me about participatory budgeting",
    ],
)
def test_catalogue_leaves_other_questions_alone(question):
    assert match(question, ENTRIES) is None


@pytest.mark.parametrize(
    ("question", "follow"),
    [
        ("Who coordinated its cultural strand?", True),
        ("Who ran it?", True),
        ("and the second one?", True),
        ("What about Scotland?", True),
        ("When did they finish?", True),
        ("When did the Imagine project end?", False),
        ("What is participatory budgeting?", False),
        ("Which projects started in 2018?", False),  # a verb: a question of its own
        ("Across how many projects?", True),  # elliptical
        ("Which one came out in 2016?", True),
        ("Which one was most popular?", True),
        ("Which publisher?", True),
    ],
)
def test_follow_up_detection(question, follow):
    assert is_follow_up(question) is follow


def test_a_follow_up_carries_the_topic_and_its_entries_and_a_new_question_does_not():
    turns = [Turn("Tell me about Imagine.", "Imagine was … [1]", "Tell me about Imagine.", "Imagine", ("a#0",))]
    follow = resolve("Who ran it?", turns)
    assert follow.context == "Tell me about Imagine." and follow.entry_ids == ("a#0",)
    assert "Imagine" in follow.standalone
    assert resolve("What is participatory budgeting?", turns).entry_ids == ()
    assert resolve("Who ran it?", []).standalone == "Who ran it?"


def test_how_many_is_answered_by_the_number_before_the_counted_noun():
    """Found by the index state machine (the same fix is on the answer-quality branch): "how many hawthorn
    saplings" was never answered by "planted 417 hawthorn saplings", the number being taken for a description."""
    question = "How many hawthorn saplings did the Iskhalhal tenants forum plant?"
    assert has_new_fact("The Iskhalhal tenants forum planted 417 hawthorn saplings.", question, "number")


def test_how_many_times_is_answered_by_a_count_of_occasions():
    from kbqa.answer.extractive import _other_words_for

    question = "How many times were the learning partners asked?"
    counted = _other_words_for(focus_word(question))
    assert has_new_fact("They were asked on three occasions.", question, answer_type(question), counted)
    assert not has_new_fact("Three partners were asked.", question, answer_type(question), counted)


@pytest.mark.parametrize(
    ("question", "instance"),
    [
        ("What was the second workshop about?", ("workshop", 2)),
        ("Who led the third strand?", ("strand", 3)),
        ("When did the first phase start?", ("phase", 1)),
        ("What was the second process?", ("process", 2)),  # a word ending in -ss is no plural
        ("and the second one?", None),  # a pick from the last answer's list, not a numbered instance
        ("Who came first?", None),
    ],
)
def test_an_ordinal_asks_for_a_numbered_instance(question, instance):
    from kbqa.text import ordinal_instance

    assert ordinal_instance(question) == instance


@pytest.mark.parametrize(
    ("sentences", "first", "left_out"),
    [
        # "the second workshop" is "Workshop 2": another workshop is left out, Workshop 2 goes first
        (
            [("Findings from Workshop 1: Building the space", 0.8), ("Findings from Workshop 2: Changing roles", 0.6)],
            "Findings from Workshop 2: Changing roles",
            {"Findings from Workshop 1: Building the space"},
        ),
        # a sentence naming no workshop number stays
        (
            [("The programme ran six workshops.", 0.8), ("Workshop 3 was in Hull.", 0.7)],
            "The programme ran six workshops.",
            {"Workshop 3 was in Hull."},
        ),
    ],
)
def test_the_numbered_instance_asked_for_is_answered(sentences, first, left_out):
    from kbqa.answer.extractive import Candidate, _the_instance_asked
    from kbqa.schema import Chunk, Hit

    hit = Hit(chunk=Chunk("c1", "text", "s.txt", "Entry", {}), score=1.0)
    cands = [Candidate(text, hit, n, 0, score=score) for n, (text, score) in enumerate(sentences)]
    ranked = _the_instance_asked("What was the second workshop about?", cands)
    assert ranked[0].text == first and not left_out & {c.text for c in ranked}
