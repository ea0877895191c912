"""Publication records and other structured lines read from the entries (kbqa.ingestion.records), and
entries dated by their text (kbqa.ingestion.parse). Every record below was checked by hand against the
corpus line it comes from."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from kbqa.ingestion.clean import clean
from kbqa.ingestion.parse import parse
from kbqa.ingestion.records import entry_records, is_person, parse_reference, parse_venue_line, section_record
from kbqa.schema import Entry, Record
from tests.support import CORPUS, SRC_000, SRC_001, SRC_003


def _fields(record: Record | None) -> dict:
    assert record is not None
    return {k: v for k, v in asdict(record).items() if v and k != "line"}


# reference lines of the corpus (labels removed) → the record read from them
REFERENCES = [
    (
        "Commissioning for Outcomes and Co-production: a new model for commissioning public services, 2014, "
        "Joe Penny, Julia Slay",
        {
            "title": "Commissioning for Outcomes and Co-production: a new model for commissioning public services",
            "authors": ["Joe Penny", "Julia Slay"],
            "year": 2014,
        },
    ),
    (
        "Transforming Youth Services: unlocking the value of youth services through co-production, 2014, Julia Slay",
        {
            "title": "Transforming Youth Services: unlocking the value of youth services through co-production",
            "authors": ["Julia Slay"],
            "year": 2014,
        },
    ),
    (
        "Examining networked NGO services: Reconceptualising value co-creation (2018) International Journal of "
        "Operations and Production Management, 38:7. 2018, Bernadette Best, Sandra Moffett, Claire Hannibal, "
        "Rodney McAdam",
        {
            "title": "Examining networked NGO services: Reconceptualising value co-creation",
            "authors": ["Bernadette Best", "Sandra Moffett", "Claire Hannibal", "Rodney McAdam"],
            "year": 2018,
            "venue": "International Journal of Operations and Production Management",
            "volume": "38:7",
        },
    ),
    (
        "Participatory Budgeting in Scotland: An overview of strategic design choices and principles for effective "
        "delivery. (2015), Chris Harkins, Oliver Escobar, Glasgow Centre for Population Health, What Works Scotland 2015",
        {
            "title": "Participatory Budgeting in Scotland: An overview of strategic design choices and principles for "
            "effective delivery",
            "authors": ["Chris Harkins", "Oliver Escobar"],
            "organisations": ["Glasgow Centre for Population Health", "What Works Scotland"],
            "year": 2015,
        },
    ),
    (
        "Making Connections: Theory and Practice of using Visual Methods to aid Participation in Research 2017",
        {
            "title": "Making Connections: Theory and Practice of using Visual Methods to aid Participation in Research",
            "year": 2017,
        },
    ),
    ("Theory of Change Guide 2017", {"title": "Theory of Change Guide", "year": 2017}),
    (
        "Co-producing Research: A Community Development Approach. Bristol: Policy Press. 2019, Sarah Banks, Angie Hart, "
        "Kate Pahl, Paul Ward",
        {
            "title": "Co-producing Research: A Community Development Approach",
            "authors": ["Sarah Banks", "Angie Hart", "Kate Pahl", "Paul Ward"],
            "year": 2019,
            "publisher": "Policy Press",
            "place": "Bristol",
        },
    ),
    ("What Works Scotland Policy Briefing 2018", {"title": "What Works Scotland Policy Briefing", "year": 2018}),
    (
        "Local solutions to local problems: SIPR Annual Report 2016",
        {"title": "Local solutions to local problems: SIPR Annual Report", "year": 2016},
    ),
    (
        "Transforming Capitalism – Sustainable Futures event, November 2018",
        {"title": "Transforming Capitalism – Sustainable Futures event", "year": 2018, "date": "November 2018"},
    ),
    (
        "Scoping Findings Report March & April 2018",
        {"title": "Scoping Findings Report", "year": 2018, "date": "March & April 2018"},
    ),
    (
        "Findings from Workshop 1: Building the space for social action July 2018",
        {"title": "Findings from Workshop 1: Building the space for social action", "year": 2018, "date": "July 2018"},
    ),
    (
        "Findings from Workshop 2: Changing roles and relationships September 2018",
        {"title": "Findings from Workshop 2: Changing roles and relationships", "year": 2018, "date": "September 2018"},
    ),
    ("A description of social action", {"title": "A description of social action"}),
    (
        "Making the case for social action in the public sector",
        {"title": "Making the case for social action in the public sector"},
    ),
    (
        "Leadership and culture change to enable social action https://example.org/leadership.pdf",
        {"title": "Leadership and culture change to enable social action", "url": "https://example.org/leadership.pdf"},
    ),
]


@pytest.mark.parametrize(("line", "expected"), REFERENCES, ids=[r[0][:40] for r in REFERENCES])
def test_reference_lines_become_records(line, expected):
    assert _fields(parse_reference(line)) == expected


# the line under a publication's title that says where and when it appeared
VENUE_LINES = [
    ("Routledge, 2017", {"publisher": "Routledge", "year": 2017}),
    (
        "International Journal of Public Administration, 2016",
        {"venue": "International Journal of Public Administration", "year": 2016},
    ),
    ("Journal of Social Policy, 2014", {"venue": "Journal of Social Policy", "year": 2014}),
    (
        "Public Administration and the Modern State: Assessing Trends, and Impact (Palgrave Macmillan), 2014",
        {
            "venue": "Public Administration and the Modern State: Assessing Trends, and Impact",
            "publisher": "Palgrave Macmillan",
            "year": 2014,
        },
    ),
    ("2008", {"year": 2008}),
    ("December 2018", {"year": 2018, "date": "December 2018"}),
]


@pytest.mark.parametrize(("line", "expected"), VENUE_LINES)
def test_venue_lines_say_where_and_when_a_titled_publication_appeared(line, expected):
    assert _fields(parse_venue_line(line, "T")) == {"title": "T", **expected}


@pytest.mark.parametrize(
    "line",
    [
        "This chapter provides an outline of the evolution of the concept of citizen participation in 2014.",
        "Imagine was a five-year project which finished in December 2017 and brought partners together.",
    ],
)
def test_sentences_are_not_venue_lines(line):
    assert parse_venue_line(line, "T") is None


@pytest.mark.parametrize(
    ("name", "person"),
    [
        ("Julia Slay", True),
        ("Rodney McAdam", True),
        ("What Works Scotland", False),
        ("Glasgow Centre for Population Health", False),
        ("NEF", False),
    ],
)
def test_people_are_told_from_organisations(name, person):
    assert is_person(name) is person


def test_entry_records_follow_list_labels_and_stop_at_fields():
    lines = [
        "Some project (2017)",
        "Policy Papers: 2017",
        "First paper title",
        "Second paper title",
        "",
        "A long paragraph of prose about the project that ends a list of records, as prose does.",
        "Stray line without a list",
        "Related publications:",
        "A report on things, 2015, Ann Smith",
        "Keywords: a, b",
        "Not a record after the keywords",
    ]
    records = entry_records(lines, "Some project")
    assert [(r.label, r.title, r.year, r.authors) for r in records] == [
        ("Policy Papers", "First paper title", 2017, []),
        ("Policy Papers", "Second paper title", 2017, []),
        ("Related publications", "A report on things", 2015, ["Ann Smith"]),
    ]


def test_a_publisher_line_under_a_title_describes_the_entry_itself():
    records = entry_records(["A Book (2017)", "Routledge, 2017", "This volume provides an overview."], "A Book")
    assert [(r.title, r.publisher, r.year) for r in records] == [("A Book", "Routledge", 2017)]


def test_a_publication_list_section_with_the_full_reference_under_its_heading():
    heading = "We’re all in this together: User and community co-production of public outcomes"
    para = (
        "We're all in this together: User and community co-production of public outcomes Tony Bovaird (INLOGOV and "
        "TSRC, University of Birmingham) and Elke Loeffler (Governance International) Department of Health (2010), "
        '"Practical approaches to co-production: Building effective partnerships", London.'
    )
    record = section_record(heading, [para])
    assert _fields(record) == {
        "title": heading,
        "authors": ["Tony Bovaird", "Elke Loeffler"],
        "organisations": ["INLOGOV and TSRC, University of Birmingham", "Governance International"],
        "year": 2010,
        "venue": "Practical approaches to co-production: Building effective partnerships",
        "publisher": "Department of Health",
        "place": "London",
    }


def _entries(source: str) -> dict[str, Entry]:
    text = clean((CORPUS / source).read_text(encoding="utf-8"))
    return {p.entry.title: p.entry for p in parse(text, source)}


def test_every_related_publication_line_of_the_corpus_is_a_record():
    """Every line listed under "Related publications" (or inline after it) in the corpus is read as a record
    with a title and a year, and is kept with the entry it belongs to."""
    lines = []
    for source in (SRC_000, SRC_001):
        text = (CORPUS / source).read_text(encoding="utf-8").split("\n")
        for i, line in enumerate(text):
            if line.startswith("Related publications:"):
                inline = line.split(":", 1)[1].strip()
                block = [inline] if inline else [x for x in text[i + 1 : i + 6] if x.strip()]
                lines += [x.strip() for x in block if not x.startswith(("Keywords", "Contributed"))]
    assert len(lines) == 6
    records = {r.line.strip(): r for s in (SRC_000, SRC_001) for e in _entries(s).values() for r in e.records}
    for line in lines:
        found = next((r for key, r in records.items() if line in key), None)
        assert found is not None and found.title and found.year, line


def test_corpus_entries_keep_their_records():
    e000 = _entries(SRC_000)
    guidance = e000["Enabling Social Action: guidance"]
    assert [r.title for r in guidance.records if r.label == "Policy Papers"][:2] == [
        "A description of social action",
        "Making the case for social action in the public sector",
    ]
    book = e000["Improving Public Services in East and West European Countries"]
    assert (book.records[0].publisher, book.records[0].year) == ("Routledge", 2017)
    chapter = e000["Citizen and User Participation in the UK: Experiences and Trends"]
    assert chapter.records[0].authors == ["Tony Bovaird", "Steve Martin"]
    assert chapter.records[0].publisher == "Routledge"
    doc = _entries(SRC_003)[
        "From engagement to co-production: The contribution of users and communities to outcomes and public value"
    ]
    by_title = {r.title: r for r in doc.records}
    assert by_title["Activating Citizens to Participate in Collective Co-Production of Public Services"].venue == (
        "Journal of Social Policy"
    )
    assert (
        by_title["User and community co-production of public services: Fad or fact, nuisance or necessity?"].year
        == 2008
    )


def test_records_survive_the_manifest_round_trip():
    entry = Entry(
        "s#0", "s", "T", records=[Record(line="x, 2014, Ann Smith", title="x", authors=["Ann Smith"], year=2014)]
    )
    again = Entry(**asdict(entry))
    assert again.records == entry.records and isinstance(again.records[0], Record)


@pytest.mark.parametrize(
    ("text", "years", "by"),
    [
        (
            "X was a project in a village. It ran from April 2015 to September 2017. It was led by Dr A.",
            (2015, 2017),
            "text",
        ),
        (
            "From November 2015 to August 2016 government collaborated with the New Economics Foundation.",
            (2015, 2016),
            "text",
        ),
        ("The choir is a singing group. It was founded in March 2016 as part of a scheme.", (2016, None), "text"),
        (
            "The forum is a group of residents. It was set up in 2016 after the fish market closed.",
            (2016, None),
            "text",
        ),
        ("The programme began in May 2012. It supports civil servants.", (2012, None), "text"),
        ("A group of residents who meet on Thursdays; the hall was built in 1990 by the council.", (None, None), None),
    ],
)
def test_documents_without_dated_titles_are_dated_by_their_opening(text, years, by):
    parts = parse(f"Title of the document\n\n{text}\n\nKeywords: a, b", "doc.md")
    entry = parts[0].entry
    assert (entry.year_start, entry.year_end, entry.dated_by) == (*years, by)


def test_plain_documents_read_their_keyword_and_contributor_lines():
    text = "Marlow Fen Water Voices\n\nA project.\n\nKeywords: flood resilience, co-design\n\nContributed by: Imogen Tarrant – Fenland Institute"
    entry = parse(text, "marlow.md")[0].entry
    assert entry.keywords == ["flood resilience", "co-design"]
    assert entry.contributors == ["Imogen Tarrant"] and entry.affiliations == ["Fenland Institute"]


def test_an_entry_dated_in_its_title_keeps_those_years():
    e001 = _entries(SRC_001)
    assert (e001["Co-production for Sustainability"].year_start, e001["Co-production for Sustainability"].dated_by) == (
        2012,
        "title",
    )
