"""Loaders, boilerplate cleaning, the knowledge-base entry parser and chunking.

`extract(path)` is what ingest does to a file before parsing: load it, then clean it.
"""

from __future__ import annotations

import random
import re
import zipfile
from pathlib import Path

import pytest

from kbqa.errors import DocumentError
from kbqa.ingestion.chunking import chunk_parts
from kbqa.ingestion.clean import clean
from kbqa.ingestion.loaders import load_text
from kbqa.ingestion.parse import Part, parse, parse_contributors, parse_years
from kbqa.tokens import count_tokens
from tests.support import CORPUS, REAL_FILES, SRC_000, SRC_001

BOILERPLATE = [
    "Search the co-production knowledge base",
    "Leave a Reply",
    "Skip to content",
    "Your email address will not be published",
    "Required fields are marked",
    "Save my name, email, and website",
    "Accept all cookies",
]


def extract(path: Path) -> str:
    return clean(load_text(path))


def assert_no_boilerplate(text: str) -> None:
    for phrase in BOILERPLATE:
        assert phrase.lower() not in text.lower(), f"boilerplate {phrase!r} survived in:\n{text}"


def norm(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- loaders


def test_txt_loader_keeps_content_and_drops_web_furniture(tmp_path):
    path = tmp_path / "page.txt"
    path.write_text(
        "Search the co-production knowledge base\n\n"
        "Skip to content\n\n"
        "Participatory budgeting in Scotland\n\n"
        "Citizens decide collectively how to spend public money.\n\n"
        "Leave a Reply\n\n"
        "Your email address will not be published. Required fields are marked *\n\n"
        "Comment *\n\nName *\n\nEmail *\n\nWebsite\n\n"
        "Save my name, email, and website in this browser for the next time I comment.\n",
        encoding="utf-8",
    )
    text = extract(path)
    assert text == "Participatory budgeting in Scotland\n\nCitizens decide collectively how to spend public money."


def test_txt_loader_reads_utf8_bom_and_cp1252(tmp_path):
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffCo-production – people’s needs\n".encode())
    assert extract(bom) == "Co-production – people’s needs"
    legacy = tmp_path / "legacy.txt"
    legacy.write_bytes("Co-production – people’s needs\n".encode("cp1252"))
    assert extract(legacy) == "Co-production – people’s needs"


def test_markdown_headings_become_title_and_sections(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text(
        "# Community capacity\n\nMotivated, funded community groups made the difference.\n\n"
        "## Libraries in Cornwall\n\n26 of 29 councils and groups expressed an interest.\n\nSkip to content\n",
        encoding="utf-8",
    )
    text = extract(path)
    assert text.startswith("# Community capacity\n")
    assert "## Libraries in Cornwall" in text
    assert_no_boilerplate(text)
    parts = parse(text, "notes.md")
    assert {p.entry.title for p in parts} == {"Community capacity"}
    by_section = {p.section: p.text for p in parts}
    assert "26 of 29 councils" in by_section["Libraries in Cornwall"]
    assert "Motivated, funded community groups" in by_section[None]


HTML_PAGE = """<!DOCTYPE html><html><head><title>Participatory budgeting – Knowledge Base</title>
<style>body {{ color: red }}</style><script>var tracking = 1;</script></head>
<body{body_attrs}>
<a class="skip-link screen-reader-text" href="#content">Skip to content</a>
<header id="masthead"><nav class="main-navigation"><ul><li>Home</li><li>About us</li></ul></nav>
<form role="search"><label>Search the co-production knowledge base</label><input type="search"></form></header>
<div id="content" class="site-content"><article class="post">
<h1 class="entry-title">Mainstreaming participatory budgeting</h1>
<div class="entry-content">
<p>Participatory budgeting (PB) is a process that involves citizens in deciding collectively how to spend public money.</p>
<h2>Challenges</h2>
<p>Democratic innovators across Scotland will have to overcome a range of challenges.</p>
<ul><li>culture</li><li>capacity</li></ul>
</div></article>
<div id="comments" class="comments-area"><div id="respond" class="comment-respond">
<h3 id="reply-title" class="comment-reply-title">Leave a Reply</h3>
<form class="comment-form"><p>Your email address will not be published. Required fields are marked *</p>
<label>Comment *</label><textarea></textarea><label>Name *</label><label>Email *</label><label>Website</label>
<label>Save my name, email, and website in this browser for the next time I comment.</label></form>
</div></div>
<div class="cookie-banner">We use cookies on this site. <button>Accept all cookies</button></div>
</div>
<footer class="site-footer"><p>Footer links and credits</p></footer>
</body></html>"""


def test_html_loader_keeps_article_and_drops_nav_forms_comments_cookies(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(HTML_PAGE.format(body_attrs=""), encoding="utf-8")
    text = extract(path)
    assert text.splitlines()[0] == "# Mainstreaming participatory budgeting"
    assert "# Challenges" in text
    assert "involves citizens in deciding collectively how to spend public money." in text
    assert "• culture" in text and "• capacity" in text
    assert_no_boilerplate(text)
    for furniture in ("Home", "About us", "tracking", "color: red", "We use cookies", "Footer links"):
        assert furniture not in text
    # the page <title> is not needed when the page has its own heading
    assert "Knowledge Base" not in text
    parts = parse(text, "page.html")
    assert {p.entry.title for p in parts} == {"Mainstreaming participatory budgeting"}
    assert "Challenges" in {p.section for p in parts}


def test_html_without_headings_is_titled_by_its_title_tag(tmp_path):
    path = tmp_path / "plain.htm"
    path.write_text(
        "<html><head><title>Citizen juries</title></head><body><p>A citizens' jury met about a bonfire.</p>"
        "<div class='comment-respond'><p>Leave a Reply</p></div></body></html>",
        encoding="utf-8",
    )
    text = extract(path)
    assert text == "# Citizen juries\n\nA citizens' jury met about a bonfire."
    assert parse(text, "plain.htm")[0].entry.title == "Citizen juries"


def test_html_body_class_mentioning_sidebar_keeps_the_article(tmp_path):
    path = tmp_path / "wp.html"
    path.write_text(HTML_PAGE.format(body_attrs=' class="post-template-default single has-sidebar"'), encoding="utf-8")
    text = extract(path)
    assert "involves citizens in deciding collectively how to spend public money." in text


PDF_PARAGRAPHS = [
    "Participatory budgeting is a process that involves citizens in deciding collectively how to spend public money.",
    "What Works Scotland highlighted the need to increase the deliberative quality of PB processes.",
]


def _make_pdf(path: Path, paragraphs: list[str]) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for para in paragraphs:
        pdf.multi_cell(0, 6, para)
        pdf.ln(6)
    pdf.output(str(path))
    return path


def test_pdf_loader_extracts_the_text(tmp_path):
    text = extract(_make_pdf(tmp_path / "brief.pdf", PDF_PARAGRAPHS))
    for para in PDF_PARAGRAPHS:
        assert para in norm(text)


def _make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Local solutions to local problems", level=1)
    document.add_paragraph("What Works Scotland worked with police, fire and council services.")
    document.add_heading("Findings", level=2)
    document.add_paragraph("The citizens' jury discussed a community bonfire.")
    document.add_paragraph("police engagement", style="List Bullet")
    document.add_paragraph("Leave a Reply")
    document.save(str(path))
    return path


def test_docx_loader_marks_headings_and_lists(tmp_path):
    text = extract(_make_docx(tmp_path / "report.docx"))
    assert text.splitlines()[0] == "# Local solutions to local problems"
    assert "# Findings" in text
    assert "What Works Scotland worked with police, fire and council services." in text
    assert "• police engagement" in text
    assert_no_boilerplate(text)
    parts = parse(text, "report.docx")
    assert {p.entry.title for p in parts} == {"Local solutions to local problems"}
    assert "Findings" in {p.section for p in parts}


# ---------------------------------------------------------------- malformed files


def _pdf_without_text(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")  # a "scanned image": graphics, no text
    pdf.output(str(path))
    return path


MALFORMED = {
    "empty.txt": (lambda p: p.write_bytes(b""), "empty file"),
    "binary.txt": (lambda p: p.write_bytes(b"PK\x03\x04\x00\x00\x14\x00" * 64), "binary file"),
    "random.pdf": (lambda p: p.write_bytes(random.Random(1).randbytes(4000)), "corrupt PDF"),
    "random.docx": (lambda p: p.write_bytes(random.Random(2).randbytes(3000)), "corrupt .docx"),
    "scan.pdf": (_pdf_without_text, "no extractable text"),
    "data.xlsx": (lambda p: p.write_bytes(b"some bytes"), "unsupported file type '.xlsx'"),
    "README": (lambda p: p.write_text("hello"), "unsupported file type '(none)'"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_file_raises_a_one_line_document_error(tmp_path, name):
    make, reason = MALFORMED[name]
    path = tmp_path / name
    make(path)
    with pytest.raises(DocumentError) as info:
        load_text(path)
    message = str(info.value)
    assert reason in message
    assert "\n" not in message and len(message) < 300


def _docx_with_broken_xml(path: Path) -> Path:
    good = _make_docx(path.with_name("good.docx"))
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(path, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "word/document.xml":
                data = data[: len(data) // 2]  # truncated XML inside an intact zip
            zout.writestr(item, data)
    return path


def _pdf_with_damaged_stream_filter(path: Path) -> Path:
    _make_pdf(path.with_name("good.pdf"), PDF_PARAGRAPHS)
    data = path.with_name("good.pdf").read_bytes()
    assert b"/FlateDecode" in data
    path.write_bytes(data.replace(b"/FlateDecode", b"/FlateDecope"))  # same length, unknown filter name
    return path


def test_docx_with_damaged_xml_is_a_document_error(tmp_path):
    with pytest.raises(DocumentError, match="corrupt .docx"):
        load_text(_docx_with_broken_xml(tmp_path / "broken.docx"))


def test_pdf_with_damaged_stream_is_a_document_error(tmp_path):
    with pytest.raises(DocumentError):
        load_text(_pdf_with_damaged_stream_filter(tmp_path / "damaged.pdf"))


# ---------------------------------------------------------------- the entry parser on the real corpus


@pytest.fixture(scope="module")
def corpus_parts() -> dict[str, list[Part]]:
    return {name: parse(extract(CORPUS / name), name) for name in REAL_FILES}


def entries_of(parts: list[Part]) -> dict[str, object]:
    return {p.entry.entry_id: p.entry for p in parts}


def find_entry(parts: list[Part], title_start: str):
    found = [e for e in entries_of(parts).values() if e.title.startswith(title_start)]
    assert len(found) == 1, [e.title for e in entries_of(parts).values()]
    return found[0]


def test_file_000_has_four_entries_and_the_book_chapters_as_sub_entries(corpus_parts):
    entries = list(entries_of(corpus_parts[SRC_000]).values())
    top = [e for e in entries if e.parent is None]
    assert [e.title for e in top] == [
        "Enabling Social Action Programme",
        "Enabling Social Action: guidance",
        "Imagine: the social, historical, cultural and democratic context of civic engagement. "
        "Imagining different communities and making them happen",
        "Improving Public Services in East and West European Countries",
    ]
    chapters = [e for e in entries if e.parent is not None]
    assert [e.title for e in chapters] == [
        "Improving Public Services Through E-Government and Citizen Engagement: "
        "Comparing Emerging Lessons in East and West European Countries",
        "Citizen and User Participation in the UK: Experiences and Trends",
    ]
    assert {e.parent for e in chapters} == {"Improving Public Services in East and West European Countries"}
    assert chapters[1].contributors == ["Tony Bovaird", "Steve Martin"]
    assert chapters[1].keywords == [
        "citizen participation",
        "user participation",
        "co-production",
        "citizen involvement",
    ]
    book = top[3]
    assert "Elke Loeffler" in book.contributors
    assert "citizen participation" not in book.keywords  # chapter keywords stay with the chapters


def test_file_001_has_six_entries(corpus_parts):
    entries = list(entries_of(corpus_parts[SRC_001]).values())
    assert len(entries) == 6
    assert all(e.parent is None for e in entries)
    assert entries[0].title == "Co-production for Sustainability"
    assert entries[-1].title == "Developing tools for co-creation"


def test_enabling_social_action_programme_metadata(corpus_parts):
    entry = find_entry(corpus_parts[SRC_000], "Enabling Social Action Programme")
    assert (entry.year_start, entry.year_end) == (2018, 2020)
    assert entry.keywords == ["co-commission", "co-design", "co-deliver", "social action", "culture change"]
    assert entry.contributors == ["Jon Burchell", "Joe Cook", "Fiona Walkley", "Jenny McNeill"]
    assert set(entry.affiliations) == {"University of Sheffield", "University of Hull"}


def test_ongoing_entry_is_dated_by_its_text_and_still_running(corpus_parts):
    """'Enabling Social Action: guidance (ongoing)' opens "From November 2015 to August 2016 government
    collaborated…": it started in 2015 and, its title says, is still running."""
    entry = find_entry(corpus_parts[SRC_000], "Enabling Social Action: guidance")
    assert (entry.year_start, entry.year_end, entry.dated_by) == (2015, None, "text")


def test_two_digit_end_year(corpus_parts):
    entry = find_entry(corpus_parts[SRC_001], "Developing tools for co-creation")
    assert (entry.year_start, entry.year_end) == (2018, 2019)


@pytest.mark.parametrize(
    "when, years",
    [
        ("March 2018 – March 2020", (2018, 2020)),
        ("2018-19", (2018, 2019)),
        ("2012 – 2032", (2012, 2032)),
        ("2013", (2013, 2013)),
        ("ongoing", (None, None)),
    ],
)
def test_parse_years(when, years):
    assert parse_years(when) == years


def test_two_digit_end_year_across_a_century():
    assert parse_years("1999-01") == (1999, 2001)


def test_comma_separated_people_sharing_one_affiliation_are_all_people(corpus_parts):
    entry = find_entry(corpus_parts[SRC_001], "Local solutions to local problems")
    assert entry.contributors == ["Nick Bland", "Oliver Escobar"]
    assert entry.affiliations == ["What Works Scotland", "University of Edinburgh"]
    people, orgs = parse_contributors("Nick Bland, Oliver Escobar – What Works Scotland, University of Edinburgh")
    assert people == ["Nick Bland", "Oliver Escobar"]
    assert orgs == ["What Works Scotland", "University of Edinburgh"]


def test_person_then_bare_organisation(corpus_parts):
    entry = find_entry(corpus_parts[SRC_001], "Co-production for Sustainability")
    assert entry.contributors == ["Diana Reynolds"]
    assert entry.affiliations == ["Welsh Government"]


# ---------------------------------------------------------------- chunks of the real corpus


@pytest.fixture(scope="module")
def corpus_chunks(corpus_parts):
    return {name: chunk_parts(parts, name, "testversion", 192, 32) for name, parts in corpus_parts.items()}


TITLE_LINE = re.compile(r"^.{3,300}\((?:[A-Z][a-z]+ )?(?:19|20)\d{2}.*\)$|^.{3,300}\(ongoing\)$", re.M)


def test_no_chunk_mixes_two_entries(corpus_parts, corpus_chunks):
    for name, chunks in corpus_chunks.items():
        parts = corpus_parts[name]
        entry_ids = {p.entry.entry_id for p in parts}
        for chunk in chunks:
            eid = chunk.metadata["entry_id"]
            assert eid in entry_ids
            own = [p for p in parts if p.entry.entry_id == eid]
            assert any(chunk.text in p.text for p in own), f"{chunk.id} text is not from entry {eid}"
            me = own[0].entry
            related = {me.title, me.parent} | {p.entry.title for p in parts if p.entry.parent == me.title}
            others = {p.entry.title for p in parts if p.entry.title not in related and len(p.entry.title) > 25}
            for title in others:
                assert title not in chunk.text, f"{chunk.id} ({eid}) also contains entry {title!r}"
            # at most one "Title (years)" line, and only at the start of the chunk's own entry
            title_lines = TITLE_LINE.findall(chunk.text)
            assert len(title_lines) <= 1, title_lines


def test_every_entry_is_chunked_and_chunks_respect_the_size(corpus_parts, corpus_chunks):
    for name, chunks in corpus_chunks.items():
        assert {c.metadata["entry_id"] for c in chunks} == {p.entry.entry_id for p in corpus_parts[name]}
        for chunk in chunks:
            assert count_tokens(chunk.embed_text) <= 192, chunk.id


def test_chunks_of_a_long_entry_carry_its_title(corpus_chunks):
    imagine = [c for c in corpus_chunks[SRC_000] if c.title.startswith("Imagine: the social")]
    assert len(imagine) >= 2, "the Imagine entry should need several chunks"
    later = [c for c in imagine if c.metadata["chunk_index"] != imagine[0].metadata["chunk_index"]]
    for chunk in later:
        assert not chunk.text.startswith("Imagine: the social")
        assert chunk.embed_text.startswith(chunk.title + "\n")
        assert chunk.metadata["keywords"] == [
            "communities",
            "society",
            "history",
            "culture",
            "democracy",
            "hope",
            "futures",
        ]
        assert chunk.metadata["year_start"] == 2013 and chunk.metadata["year_end"] == 2017


def test_long_entry_title_is_stored_with_each_chunk_in_the_index(corpus_kb):
    got = corpus_kb.store.collection.get(where={"source": SRC_000}, include=["metadatas"])
    titles = [m["title"] for m in got["metadatas"] if m["entry_id"] == f"{SRC_000}#2"]
    assert len(titles) >= 2
    assert set(titles) == {
        "Imagine: the social, historical, cultural and democratic context of civic engagement. "
        "Imagining different communities and making them happen"
    }


def test_real_corpus_boilerplate_is_in_no_chunk(corpus_kb):
    raw = "\n".join((CORPUS / n).read_text(encoding="utf-8") for n in REAL_FILES)
    for phrase in ("Search the co-production knowledge base", "Leave a Reply", "Skip to content", "10 25 50"):
        assert phrase in raw  # the test would prove nothing otherwise
    got = corpus_kb.store.collection.get(include=["documents"])
    assert len(got["ids"]) > 40
    for text in got["documents"]:
        assert_no_boilerplate(text)
        assert "(original)" not in text and "(raw)" not in text
        assert "10 25 50" not in text
