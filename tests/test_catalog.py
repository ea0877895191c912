"""Catalogue questions (kbqa.answer.catalog): time criteria, counts, whole-catalogue lists, contributors of a
named entry, topic lists, and partial matches — each rule with cases of its own."""

from __future__ import annotations

from datetime import date

import pytest

from kbqa.answer.catalog import YearSpec, match, year_spec
from kbqa.schema import Entry
from tests.test_text_rules import _corpus_entries


@pytest.mark.parametrize(
    ("question", "spec"),
    [
        ("Which projects ran in 2016?", ("during", 2016, 2016)),
        ("Which projects ran from 2014 to 2016?", ("overlap", 2014, 2016)),
        ("Which projects ran between 2014 and 2016?", ("overlap", 2014, 2016)),
        ("Which entry is dated 2016-2017?", ("exact", 2016, 2017)),
        ("Which projects started in 2018?", ("start", 2018, 2018)),
        ("Which projects began in 2013?", ("start", 2013, 2013)),
        ("Which projects ended in 2017?", ("end", 2017, 2017)),
        ("Which projects started after 2015?", ("after", 2015, 2015)),
        ("Which projects started later than 2015?", ("after", 2015, 2015)),
        ("Which entries give an end date later than 2019?", ("ends after", 2019, 2019)),
        ("Which projects run until after 2020?", ("ends after", 2020, 2020)),
        ("Which projects finished before 2018?", ("ends before", 2018, 2018)),
        ("Which projects were still running in 2019?", ("during", 2019, 2019)),
        ("List the entries from 2018", ("during", 2018, 2018)),
        ("Which projects are about libraries?", None),
    ],
)
def test_year_criteria(question, spec):
    found = year_spec(question)
    assert (found.kind, found.first, found.last) == spec if spec else found is None


@pytest.mark.parametrize(
    ("kind", "first", "last", "years", "matches"),
    [
        ("during", 2016, 2016, (2013, 2017), True),
        ("during", 2016, 2016, (2018, 2020), False),
        ("during", 2019, 2019, (2012, None), True),  # still running
        ("overlap", 2014, 2016, (2016, 2017), True),
        ("overlap", 2014, 2016, (2017, 2019), False),
        ("exact", 2016, 2017, (2016, 2017), True),
        ("exact", 2016, 2017, (2016, 2018), False),
        ("start", 2018, 2018, (2018, 2019), True),
        ("end", 2017, 2017, (2013, 2017), True),
        ("after", 2015, 2015, (2016, None), True),
        ("after", 2015, 2015, (2015, 2016), False),
        ("ends after", 2019, 2019, (2018, 2020), True),
        ("ends after", 2019, 2019, (2018, 2019), False),
        ("ends after", 2019, 2019, (2015, None), True),  # ongoing
        ("ends before", 2018, 2018, (2013, 2017), True),
        ("ends before", 2018, 2018, (2015, None), False),
        ("ends before", 2018, 2018, (None, None), False),  # undated
    ],
)
def test_year_spec_matches_entries_by_their_span(kind, first, last, years, matches):
    entry = Entry("e#0", "e", "E", year_start=years[0], year_end=years[1])
    assert YearSpec(kind, first, last).matches(entry) is matches


def _titles(question, topic=None):
    entries = _corpus_entries()
    search = (lambda t: [e for e in entries if e.title in topic.get(t, set())]) if topic else (lambda t: [])
    meta = match(question, entries, search)
    return meta, ({e.title for e in meta.entries} if meta else None)


def test_listing_by_time_uses_title_and_text_dates():
    meta, titles = _titles("Which projects ran in 2016?")
    assert "Enabling Social Action: guidance" in titles  # dated by its text (2015 –, ongoing)
    assert "Enabling social action" in titles  # a plain document: "took place from November 2015 to August 2016"
    assert "Co-production for Sustainability" in titles and "Enabling Social Action Programme" not in titles
    _, titles = _titles("Which projects started in 2018?")
    assert {"Enabling Social Action Programme", "Developing tools for co-creation"} <= titles
    assert "Co-production for Sustainability" not in titles


def test_whole_catalogue_lists_and_counts():
    meta, titles = _titles("How many entries are in the knowledge base?")
    assert meta.field == "all" and meta.count and len(meta.entries) == 13  # top-level entries: chapters are in one
    meta, _ = _titles("List all projects in the knowledge base.")
    assert meta.field == "all" and not meta.count


def test_contributors_of_a_named_entry():
    meta, titles = _titles("Who contributed the Co-production for Sustainability entry?")
    assert meta.field == "contributors" and titles == {"Co-production for Sustainability"}
    meta, titles = _titles("Who contributed the entry on developing tools for co-creation?")
    assert titles == {"Developing tools for co-creation"}
    # a follow-up (or a later part of a question) that refers back with "its"
    for question in ("who contributed its entry?", "Who contributed it?", "who sent in that entry?"):
        meta = match(question, _corpus_entries(), focus=("001_e46ca3b02064783c.txt#0",))
        assert meta is not None and meta.field == "contributors", question
        assert [e.title for e in meta.entries] == ["Co-production for Sustainability"]


def test_topic_lists_come_from_the_passages_that_mention_the_topic():
    topic = {"Scotland": {"Local solutions to local problems: innovation in public participation"}}
    meta, titles = _titles("List all projects in Scotland", topic)
    assert meta.field == "topic" and titles == topic["Scotland"]
    meta, titles = _titles(
        "Which entries are about participatory budgeting, and who contributed them?", {"participatory budgeting": set()}
    )
    assert meta.with_contributors and "Mainstreaming participatory budgeting" in " ".join(titles)  # its keyword


def test_a_question_matching_only_in_part_says_what_each_part_matched():
    meta, titles = _titles("Which projects did Angie Hart contribute to in 2019?")
    assert titles == set() and meta.partial and "Angie Hart" in meta.partial and "2019" in meta.partial


@pytest.mark.parametrize(
    "question",
    [
        "How many work packages was the Imagine research organised into?",  # about an entry's text
        "How many comparative and conceptual studies does the volume include?",
        "Which universities are partners in Phase 2 of the Enabling Social Action programme?",
        "Which projects are about underwater basket weaving?",  # a topic nothing mentions
    ],
)
def test_questions_about_the_text_are_not_catalogue_questions(question):
    meta, _ = _titles(question)
    assert meta is None


@pytest.mark.parametrize(
    ("question", "focus", "titles", "verb"),
    [
        ("When did the Enabling Social Action Programme end?", (), ["Enabling Social Action Programme"], "end"),
        ("When did the Enabling Social Action Programme start?", (), ["Enabling Social Action Programme"], "start"),
        ("In what years did Local Solutions run?", (), ["Local solutions to local problems"], "run"),
        ("When did it end?", ("000_525025c0dd7eef87.txt#2",), ["Imagine: the social, historical"], "end"),
        ("When did Imagine start?", (), ["Imagine: the social, historical", "Imagine: bringing together"], "start"),
        # one of the two is dated by one year ("… (2013)"), which says when it began, not when it ended: its
        # text says that ("finished in December 2017"), so the other answerers quote it
        ("When did Imagine end?", (), None, None),
        ("When did the Imagine project bringing universities and communities together finish?", (), None, None),
        ("When did it end?", (), None, None),  # nothing named, nothing in focus
        ("When did the lunar colony end?", (), None, None),  # names no entry
        ("When was participatory budgeting invented?", (), None, None),  # not a dates-of-an-entry question
        # something the entry's text describes, named in words of its own: its text says when that began
        ("When did the Welsh Government's Sustainable Development Change Programme begin?", (), None, None),
        ("When did the Co-production for Sustainability project start?", (), ["Co-production for Sustainab"], "start"),
        # "until when" asks when it ends
        ("Until what year is the Co-production for Sustainability work meant to run?", (), ["Co-production for Sustainability"],
         "end"),
        ("and until when does it last?", ("000_525025c0dd7eef87.txt#2",), ["Imagine: the social, historical"], "end"),
    ],
)  # fmt: skip
def test_dates_of_a_named_entry(question, focus, titles, verb):
    """'When did X end/start/run?' is answered from the dated title line of every entry X could mean; a
    question that names none (or means an entry dated only by its text) is left to the other answerers."""
    meta = match(question, _corpus_entries(), focus=focus)
    if titles is None:
        assert meta is None or meta.field != "dates"
        return
    assert meta is not None and meta.field == "dates" and meta.value == verb
    assert sorted(e.title[:25] for e in meta.entries) == sorted(t[:25] for t in titles)


def test_a_dates_answer_quotes_the_dated_title_line_and_cites_it():
    from kbqa.answer.catalog import answer_from
    from kbqa.schema import Chunk

    entry = Entry(entry_id="a.txt#0", title="Marsh Choir", source="a.txt", year_start=2015, year_end=2017)
    entry.dated_by, entry.chunk_ids = "title", ["c1"]
    chunk = Chunk(id="c1", text="Marsh Choir (April 2015 – September 2017)\n\nA choir.", source="a.txt", title="x")
    meta = match("When did the Marsh Choir end?", [entry])
    assert meta is not None
    answer = answer_from(meta, "When did the Marsh Choir end?", {"c1": chunk}, {"c1": 0.5})
    assert (
        answer.answer == "“Marsh Choir” ended in 2017 (it ran from 2015): Marsh Choir (April 2015 – September 2017) [1]"
    )
    assert answer.citations[0].highlights == [(0, 41)]
    # an end still to come is not said to be past
    entry.year_end = date.today().year + 5
    chunk.text = f"Marsh Choir (April 2015 – September {entry.year_end})\n\nA choir."
    answer = answer_from(meta, "When did the Marsh Choir end?", {"c1": chunk}, {"c1": 0.5})
    assert answer.answer.startswith(f"“Marsh Choir” runs until {entry.year_end} (it started in 2015)")
    meta = match("When did the Marsh Choir start?", [entry])
    assert meta is not None
    answer = answer_from(meta, "When did the Marsh Choir start?", {"c1": chunk}, {"c1": 0.5})
    assert answer.answer.startswith(f"“Marsh Choir” started in 2015 and runs until {entry.year_end}")


@pytest.mark.parametrize(
    ("question", "text", "finer"),
    [
        # the entry's text dates the asked event to a month of the title's year: quoted after the title line
        ("When did the Marsh Choir start?", "The choir began rehearsing in April 2015 in the old hall.", True),
        ("When did the Marsh Choir end?", "It finished its last season in September 2017.", True),
        ("When did the Marsh Choir start?", "It finished its last season in September 2017.", False),  # not the start
        ("When did the Marsh Choir end?", "It finished a tour in September 2016.", False),  # not the end year
        ("When did the Marsh Choir start?", "A choir that sang in 2015.", False),  # no month, no verb
        # a line that is only a month and the asked year ("December 2018" under a briefing's title)
        ("When did the Marsh Choir end?", "September 2017", True),
        ("When did the Marsh Choir start?", "April 2015", True),
        ("When did the Marsh Choir start?", "September 2017", False),  # the end year, not the start
    ],
)
def test_a_dates_answer_adds_the_entrys_own_finer_date(question, text, finer):
    from kbqa.answer.catalog import answer_from
    from kbqa.schema import Chunk

    entry = Entry(entry_id="a.txt#0", title="Marsh Choir", source="a.txt", year_start=2015, year_end=2017)
    entry.dated_by, entry.chunk_ids = "title", ["c1"]
    chunk = Chunk(id="c1", text=f"Marsh Choir (2015 – 2017)\n\n{text}", source="a.txt", title="x")
    meta = match(question, [entry])
    assert meta is not None
    answer = answer_from(meta, question, {"c1": chunk}, {"c1": 0.5})
    assert (text in answer.answer) is finer
    assert len(answer.citations) == 1  # one passage, cited once, with each quoted line highlighted
    quoted = [chunk.text[s:e] for s, e in answer.citations[0].highlights]
    assert quoted == (["Marsh Choir (2015 – 2017)", text] if finer else ["Marsh Choir (2015 – 2017)"])


@pytest.mark.parametrize(
    ("question", "focus", "titles"),
    [
        ("What keywords is the Imagine civic engagement entry (2013-2017) tagged with?", (), ["Imagine: the social"]),
        ("list the keywords on the Welsh Government co-production for sustainability entry", (), ["Co-production for"]),
        ("What are the tags of the Enabling Social Action Programme?", (), ["Enabling Social Action Programme"]),
        ("What is Local Solutions tagged with?", (), ["Local solutions to local problems"]),
        ("And which keywords does it have?", ("000_525025c0dd7eef87.txt#2",), ["Imagine: the social"]),
        ("Which entries have the keyword social action?", (), None),  # a listing of entries
        ("Which projects are tagged with e-government?", (), None),  # a listing of entries
        ("What keywords does the lunar colony have?", (), None),  # names no entry
        # an entry without a Keywords line: "tagged with" is left to its passages (a "Sectors …" line), but a
        # question asking for keywords is told it has none
        ("Which sectors is it tagged with?", ("004_cf0edb2536c3445c.txt#0",), None),
        ("What keywords does it have?", ("004_cf0edb2536c3445c.txt#0",), ["Activating the 'Big Society'"]),
    ],
)
def test_keywords_of_a_named_entry(question, focus, titles):
    """'What keywords is X tagged with?' lists the keywords of the entry (or entries) it names, or of the entry
    a follow-up is about; 'Which entries have keyword Y?' stays a listing."""
    meta = match(question, _corpus_entries(), focus=focus)
    if titles is None:
        assert meta is None or meta.field != "keywords of"
        return
    assert meta is not None and meta.field == "keywords of", meta
    assert all(any(e.title.startswith(t) for e in meta.entries) for t in titles) and len(meta.entries) == len(titles)


def test_a_keywords_answer_lists_every_keyword_and_cites_the_keywords_line():
    from kbqa.answer.catalog import answer_from
    from kbqa.schema import Chunk

    entry = Entry(entry_id="a.txt#0", title="Marsh Choir", source="a.txt", keywords=["singing", "wellbeing"])
    entry.chunk_ids = ["c1", "c2"]
    chunks = {
        "c1": Chunk(id="c1", text="Marsh Choir\n\nA choir that met weekly.", source="a.txt", title="x"),
        "c2": Chunk(id="c2", text="More about it.\nKeywords: singing, wellbeing", source="a.txt", title="x"),
    }
    meta = match("What keywords is the Marsh Choir tagged with?", [entry])
    assert meta is not None
    answer = answer_from(meta, "What keywords is the Marsh Choir tagged with?", chunks, {})
    assert answer.answer == "“Marsh Choir” is tagged with: singing, wellbeing. [1]"
    assert answer.citations[0].text == chunks["c2"].text and answer.citations[0].highlights == [(15, 43)]


@pytest.mark.parametrize(
    ("question", "who"),
    [
        ("Which university is Steve Martin at?", "Steve Martin"),
        ("Which university is Martin at?", "Steve Martin"),  # a surname only one contributor has
        ("Where is Paul Ward based?", "Paul Ward"),
        ("What is Elke Loeffler's affiliation?", "Elke Loeffler"),
        ("and which organisation is Tony Bovaird with?", "Tony Bovaird"),
        ("And Paul Ward's university?", "Paul Ward"),  # a follow-up after a list of contributors
        ("What's Kate Pahl's institution?", "Kate Pahl"),
        ("What about the entry's university?", None),
        ("Where is the ward based?", None),  # a surname alone must be capitalised
        ("Where is the Kalahari based?", None),  # no contributor
        ("Which university is the Imagine project based at?", None),
        # several people: each one's affiliation
        ("Which universities are Jon Burchell and Joe Cook from?", "Jon Burchell and Joe Cook"),
    ],
)
def test_affiliation_of_a_named_contributor(question, who):
    """'Which university is X at?' / 'Where is X based?' is about a contributor of the catalogue (by full
    name, or by a surname only one contributor has); anything else is left to the other answerers."""
    meta = match(question, _corpus_entries())
    if who is None:
        assert meta is None or meta.field != "affiliation"
        return
    assert meta is not None and meta.field == "affiliation" and meta.value == who
    people = who.split(" and ")
    assert meta.entries and all(any(p in e.contributors for p in people) for e in meta.entries)


@pytest.mark.parametrize(
    ("line", "who", "expected"),
    [
        ("Contributed by: Ann Lee – Marsh University.", "Ann Lee", "Ann Lee: Marsh University, as"),
        ("Contributed by: Ann Lee – Marsh University (Fen campus), Bo Day – Hull", "Ann Lee", "(Fen campus), as"),
        ("Contributed by: Bo Day – Uni of Hull, INLOGOV (Institute); Ann Lee – X", "Bo Day", "Hull, INLOGOV (Institute), as"),
        # an affiliation after several names is shared, and the answer says so
        ("Contributed by: Cy Ng, Ann Lee – Marsh University", "Cy Ng", "Marsh University, the affiliation that"),
        ("Contributed by: Cy Ng", "Cy Ng", "gives no affiliation"),  # none given
        # several people: a sentence each, one citation for the line they share
        ("Contributed by: Ann Lee – Marsh University, Bo Day – Hull", "Ann Lee and Bo Day",
         "Ann Lee: Marsh University, as the contributors of “Marsh Choir” list them. [1] Bo Day: Hull, as"),
    ],
)  # fmt: skip
def test_an_affiliation_is_quoted_from_the_contributed_by_line(line, who, expected):
    from kbqa.answer.catalog import answer_from
    from kbqa.schema import Chunk

    entry = Entry(entry_id="a.txt#0", title="Marsh Choir", source="a.txt", contributors=["Ann Lee", "Bo Day", "Cy Ng"])
    entry.chunk_ids = ["c1"]
    chunks = {"c1": Chunk(id="c1", text=f"Marsh Choir\n\nA choir.\n{line}", source="a.txt", title="x")}
    question = f"Where is {who} based?"
    meta = match(question, [entry])
    assert meta is not None and meta.field == "affiliation"
    answer = answer_from(meta, question, chunks, {})
    assert expected in answer.answer
    assert answer.abstained is ("no affiliation" in expected)
    assert len(answer.citations) == (0 if answer.abstained else 1)


def test_a_keyword_matches_its_other_inflections():
    """'Which entries carry the keyword public service reform?' finds an entry tagged 'public service reforms'."""
    entries = [
        Entry("a#0", "a", "Briefing", keywords=["public service reform", "social justice"]),
        Entry("b#0", "b", "Book", keywords=["public services", "public service reforms"]),
        Entry("c#0", "c", "Report", keywords=["public services"]),
    ]
    meta = match("Which entries carry a 'public service reform' keyword?", entries)
    assert meta is not None and {e.title for e in meta.entries} == {"Briefing", "Book"}


@pytest.mark.parametrize(
    ("line", "people", "expected"),
    [
        ("Contributed by: Nick Bland, Oliver Escobar – What Works Scotland", ["Nick Bland", "Oliver Escobar"],
         {"Nick Bland": "What Works Scotland", "Oliver Escobar": "What Works Scotland"}),  # a shared affiliation
        ("Contributed by: Elke Loeffler – Governance International; Tony Bovaird – University of Birmingham.",
         ["Elke Loeffler", "Tony Bovaird"],
         {"Elke Loeffler": "Governance International", "Tony Bovaird": "University of Birmingham."}),
        ("Contributed by: Diana Reynolds, Welsh Government", ["Diana Reynolds"], {"Diana Reynolds": "Welsh Government"}),
        ("Contributed by: Jo Bloggs", ["Jo Bloggs"], {}),  # no affiliation given
    ],
)  # fmt: skip
def test_each_contributor_gets_the_affiliation_their_line_gives(line, people, expected):
    from kbqa.answer.catalog import affiliations

    assert affiliations(Entry("e#0", "e", "E", contributors=people), line) == expected


@pytest.mark.parametrize(
    ("question", "org"),
    [
        ("Which contributors are based at the University of Edinburgh?", "University of Edinburgh"),
        ("Who is from Newcastle University?", "Newcastle University"),
        ("Which researchers work for Governance International?", "Governance International"),
        ("Who contributed the Imagine entry?", None),  # contributors of an entry, not people at a place
        ("Which entries are from Newcastle University?", None),  # entries, not people
    ],
)
def test_people_at_an_organisation(question, org):
    meta = match(question, _corpus_entries())
    assert (meta.value if meta is not None and meta.field == "people at" else None) == org


@pytest.mark.parametrize(
    ("question", "titles"),
    [
        ("Which entries are listed under the 'Research – co-production practice' heading?",
         {"Co-production for Sustainability", "Imagine: bringing together universities and communities",
          "Developing tools for co-creation", "Local solutions to local problems: innovation in public participation",
          "Developing exemplars of Value Co-creation in the Greater Manchester Voluntary Community and Social "
          "Enterprise sector",
          "Mainstreaming participatory budgeting: What works in building foundations for a more participatory "
          "democracy?"}),
        # any dash; with another criterion
        ("Which projects under Research - social action and civic engagement started in 2018?",
         {"Enabling Social Action Programme"}),
    ],
)  # fmt: skip
def test_entries_listed_under_a_page_heading(question, titles):
    meta = match(question, _corpus_entries())
    assert meta is not None and "section" in meta.field
    assert {e.title for e in meta.entries} == titles


def test_a_page_named_as_a_topic_is_the_heading_not_a_mention():
    """ "What entries are on the 'Research – …' page?": the heading lists them; no passage has to mention
    "'Research – …' page" as well (which none does)."""
    meta = match("What entries are on the 'Research – co-production practice' page?", _corpus_entries(), lambda t: [])
    assert meta is not None and meta.field == "section" and len(meta.entries) == 6


@pytest.mark.parametrize(
    "question",
    [
        "Which projects ran in 2016?",
        "Can you list the projects that ran in 2016?",
        "I'm looking for every project that ran in 2016",
        "Could you please show me all the projects that ran in 2016?",
    ],
)
def test_a_listing_may_open_with_a_polite_or_conversational_lead_in(question):
    meta, titles = _titles(question)
    assert meta is not None and titles == _titles("Which projects ran in 2016?")[1]


@pytest.mark.parametrize(
    ("question", "found", "titles"),
    [
        # "the entry on <topic>": the entries about it, when they are few
        ("Who contributed the entry on the citizens' jury?", {"citizens' jury": {"Local solutions to local problems: "
         "innovation in public participation"}}, {"Local solutions to local problems: innovation in public participation"}),
        ("Who wrote the study about library devolution?", {"library devolution": {"Enabling social action"}},
         {"Enabling social action"}),
        # a topic many entries are about does not say which one
        ("Who contributed the entry on co-production?", {"co-production": {"A", "B", "C", "D"}}, None),
    ],
)  # fmt: skip
def test_the_contributors_of_an_entry_named_by_its_topic(question, found, titles):
    entries = _corpus_entries()
    fakes = {t: [e for e in entries if e.title in names] for t, names in found.items()}
    if any(len(v) < len(found[t]) for t, v in fakes.items()):  # titles not in the corpus: stand-in entries
        fakes = {t: [entries[0]] * len(names) for t, names in found.items()}
    meta = match(question, entries, lambda topic: fakes.get(topic, []))
    if titles is None:
        assert meta is None
        return
    assert meta is not None and meta.field == "contributors" and {e.title for e in meta.entries} == titles


@pytest.mark.parametrize(
    "question",
    ["Which projects ran in 2018 and who contributed them?", "List the entries from 2018 with their contributors"],
)
def test_a_listing_with_its_contributors_is_one_answer(corpus_kb, question):
    """Not a listing plus a second part answered from some passage: each listed entry carries its contributors."""
    answer = corpus_kb.ask(question)
    assert answer.answerer == "catalog"
    assert "Diana Reynolds" in answer.answer and "Susanne Martikke" in answer.answer


def test_a_count_of_one_agrees_with_its_verbs(corpus_kb):
    answer = corpus_kb.ask("How many entries started after 2015 and are about social action?")
    assert answer.answer.startswith("1 entry started after 2015 and mentions social action:")


def test_when_an_entry_dated_by_one_year_ended_is_read_from_its_text(corpus_kb):
    """ "Imagine: bringing together universities and communities (2013)" began in 2013; its text says it
    finished in December 2017, and that sentence answers (cited), not "is dated 2013"."""
    answer = corpus_kb.ask("When did the Imagine project bringing universities and communities together finish?")
    assert "December 2017" in answer.answer and "is dated 2013" not in answer.answer
    assert any("finished in December 2017" in c.text for c in answer.citations)
