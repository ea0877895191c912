"""What the loaders keep: DOCX tables in document order, PDF text re-joined into paragraphs (hyphenated
line breaks repaired, real hyphens kept, any length of text), and the knowledge-base pages unchanged.

`python -m tests.test_loaders` prints the digests of the corpus chunks (for `data/corpus_chunk_digests.json`).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import pytest

from kbqa.config import Settings
from kbqa.ingestion.chunking import chunk_parts
from kbqa.ingestion.clean import clean
from kbqa.ingestion.parse import parse
from kbqa.ingestion.pipeline import read_text
from tests.support import CORPUS

DIGESTS = Path(__file__).parent / "data" / "corpus_chunk_digests.json"


def norm(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- DOCX tables


def _docx_with_table(path: Path, rows: list[list[str]], bold_header: bool = False, repeat_header: bool = False) -> Path:
    import docx
    from docx.oxml import OxmlElement

    document = docx.Document()
    document.add_heading("Greyhope Allotments", level=1)
    document.add_paragraph("The three sites differ in size and age, as the table below shows.")
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    for r, values in enumerate(rows):
        for cell, value in zip(table.rows[r].cells, values):
            cell.text = value
            if r == 0 and bold_header:
                cell.paragraphs[0].runs[0].bold = True
    if repeat_header:
        table.rows[0]._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))
    document.add_paragraph("A community orchard was planted at Eastfield in 2020.")
    document.save(str(path))
    return path


SITES = [["Site", "Plots", "Opened"], ["Brook Lane", "32", "1987"], ["Eastfield", "40", "2019"]]


def test_docx_table_rows_are_read_as_sentences_in_document_order(tmp_path):
    text = read_text(_docx_with_table(tmp_path / "sites.docx", SITES))
    lines = [line for line in text.splitlines() if line]
    assert lines == [
        "# Greyhope Allotments",
        "The three sites differ in size and age, as the table below shows.",
        "Site: Brook Lane; Plots: 32; Opened: 1987.",
        "Site: Eastfield; Plots: 40; Opened: 2019.",
        "A community orchard was planted at Eastfield in 2020.",
    ]
    # the rows reach the chunks, so a fact only in the table can be retrieved and quoted
    chunks = chunk_parts(parse(text, "sites.docx"), "sites.docx", "v", 192, 32)
    assert any("Site: Eastfield; Plots: 40; Opened: 2019." in c.text for c in chunks)


@pytest.mark.parametrize(
    "rows, options, expected",
    [
        # a header row of words, not over figures, is a header when bold or marked to repeat on each page
        (
            [["Name", "Role"], ["Dilys Amadi", "Chair"]],
            {"bold_header": True},
            ["Name: Dilys Amadi; Role: Chair."],
        ),
        (
            [["Name", "Role"], ["Dilys Amadi", "Chair"]],
            {"repeat_header": True},
            ["Name: Dilys Amadi; Role: Chair."],
        ),
        # no header: a two-column table reads as "key: value", a wider one as its cells in order
        ([["Founded", "2014"], ["Members", "58"]], {}, ["Founded: 2014.", "Members: 58."]),
        (
            [["Dilys Amadi", "Chair", "Eastfield"], ["Sam Odell", "Treasurer", "Millrace"]],
            {},
            ["Dilys Amadi; Chair; Eastfield.", "Sam Odell; Treasurer; Millrace."],
        ),
    ],
    ids=["bold-header", "repeat-header", "key-value", "no-header"],
)
def test_docx_table_header_detection(tmp_path, rows, options, expected):
    text = read_text(_docx_with_table(tmp_path / "t.docx", rows, **options))
    lines = [line for line in text.splitlines() if line]
    assert lines[2:-1] == expected


def test_docx_merged_cells_and_empty_cells(tmp_path):
    import docx

    path = tmp_path / "merged.docx"
    document = docx.Document()
    table = document.add_table(rows=3, cols=3)
    for r, values in enumerate([["Site", "Plots", "Opened"], ["Brook Lane", "32", ""], ["Closed in 2020", "", ""]]):
        for cell, value in zip(table.rows[r].cells, values):
            cell.text = value
    table.cell(2, 0).merge(table.cell(2, 2))  # one cell across the row
    document.save(str(path))
    lines = [line for line in read_text(path).splitlines() if line]
    assert lines == ["Site: Brook Lane; Plots: 32.", "Closed in 2020."]


# ---------------------------------------------------------------- PDF lines → paragraphs


def _pdf(path: Path, blocks: list[tuple[int, str]], footer: bool = False) -> Path:
    """A PDF whose lines are exactly the `\\n`-separated lines given, as a word processor broke them."""
    from fpdf import FPDF

    class Doc(FPDF):
        def footer(self) -> None:
            if footer:
                self.set_y(-15)
                self.set_font("Helvetica", size=9)
                self.cell(0, 10, str(self.page_no()), align="C")

    pdf = Doc()
    pdf.add_page()
    for size, text in blocks:
        pdf.set_font("Helvetica", style="B" if size > 11 else "", size=size)
        pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


SHORT_PDF = [
    (16, "Quay Steps play area"),
    (
        11,
        "The play area was de-\n"
        "signed with children from Kelsby Primary School, who drew the plans in collect-\n"
        "ive workshops. It is a co-\n"
        "production of parents and the council, and the work was community-\n"
        "led from the start.",
    ),
]


def test_short_pdf_is_unwrapped_and_hyphenated_breaks_are_repaired(tmp_path):
    text = read_text(_pdf(tmp_path / "short.pdf", SHORT_PDF))
    assert text.splitlines() == [
        "# Quay Steps play area",
        "",
        "The play area was designed with children from Kelsby Primary School, who drew the plans in collective "
        "workshops. It is a co-production of parents and the council, and the work was community-led from the start.",
    ]
    parts = parse(text, "short.pdf")
    assert parts[0].entry.title == "Quay Steps play area"


def test_pdf_paragraph_running_onto_the_next_page_is_rejoined_without_page_numbers(tmp_path):
    filler = "\n".join("This line of the first section ends a sentence." for _ in range(45))
    last = "The forum met six times in public in 2019, and every\nmeet-\ning was open to anyone who lives near the harbour."
    path = _pdf(tmp_path / "long.pdf", [(16, "Harbour report"), (11, filler), (11, last)], footer=True)
    import pypdf

    pages = [p.extract_text() for p in pypdf.PdfReader(str(path)).pages]
    assert pages[0].endswith("meet-\n1") and pages[1].startswith("ing was open")  # a word broken across pages
    text = read_text(path)
    assert "The forum met six times in public in 2019, and every meeting was open to anyone who lives near" in text
    assert not re.search(r"^\d+$", text, re.M)  # the page numbers are gone


@pytest.mark.parametrize(
    "lines, expected",
    [
        # split by the renderer: no whole word of either half, or the whole word used elsewhere
        (["It was de-", "signed by residents."], "It was designed by residents."),
        (["a series of collect-", "ive workshops."], "a series of collective workshops."),
        (["They met in the neigh-", "bourhood hall. The neighbourhood grew."], "They met in the neighbourhood hall."),
        # real hyphens: a prefix or suffix English hyphenates, or the document's own spelling
        (["a co-", "production of residents."], "a co-production of residents."),
        (["the work was community-", "led from the start."], "the work was community-led from the start."),
        (["the well-", "being of members. Their well-being improved."], "the well-being of members."),
        (["the wellbe-", "ing of members. Their wellbeing improved."], "the wellbeing of members."),
        (
            ["before the pre-", "COVID plan of mid-", "2019 was agreed."],
            "before the pre-COVID plan of mid-2019 was agreed.",
        ),
        # a dash with a space before it is punctuation, not a hyphenated word
        (["residents -", "and traders - met."], "residents - and traders - met."),
        # a word in capitals broken in two (found by the index state machine, long profile, seed 3: a PDF
        # heading printed "IN-TERVIEWS"), and a real hyphen in capitals
        (["DESK RESEARCH AND EXPERT IN-", "TERVIEWS Desk research and interviews"], "EXPERT INTERVIEWS Desk"),
        (["A heading", "THE CO-", "PRODUCTION OF SERVICES and more."], "THE CO-PRODUCTION OF SERVICES and more."),
    ],
)
def test_hyphen_at_a_line_end(lines, expected):
    assert expected in clean("\n".join(lines), hard_wrapped=True)


def test_wrapped_sentence_is_not_taken_for_a_heading():
    # Narrow columns: a short line that starts a sentence after a full stop, continued in lower case or
    # stopping on "of", is a wrapped line, not a heading (which would cut the sentence in two).
    lines = [
        "# Annual report",
        "The forum was set up in 2016.",
        "The forum has 14 members, all of",
        "them unpaid. It met six times in",
        "public in 2019.",
    ]
    text = clean("\n".join(lines), hard_wrapped=True)
    assert "The forum has 14 members, all of them unpaid. It met six times in public in 2019." in text


# ---------------------------------------------------------------- the knowledge-base pages are untouched


def corpus_chunk_digests(corpus: Path = CORPUS) -> dict[str, str]:
    """Per file of the corpus: sha256 of its chunks (id, text, title, metadata) at the default settings."""
    size = Settings.model_fields["chunk_size"].default
    overlap = Settings.model_fields["chunk_overlap"].default
    out = {}
    for path in sorted(corpus.glob("*.txt")):
        chunks = chunk_parts(parse(read_text(path), path.name), path.name, "v", size, overlap)
        rows = [[c.id, c.text, c.title, c.metadata] for c in chunks]
        out[path.name] = hashlib.sha256(json.dumps(rows, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return out


def test_corpus_chunks_are_byte_identical_to_the_recorded_ones():
    """The knowledge-base pages (one of them hard-wrapped) must parse exactly as they did before the PDF
    unwrapping and hyphen repair were added. If a change to them is intended, re-record the digests with
    `python -m tests.test_loaders > tests/data/corpus_chunk_digests.json` and say why in the commit."""
    assert corpus_chunk_digests() == json.loads(DIGESTS.read_text())


if __name__ == "__main__":
    json.dump(corpus_chunk_digests(), sys.stdout, indent=1)
    print()
