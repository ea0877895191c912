"""Render the trial documents (evals/trial_docs/) into real files of the formats their names give.

    python evals/render_trial_docs.py SRC DEST

`NAME.pdf.txt` (one paragraph per line) becomes `NAME.pdf`, typeset by fpdf2 in a narrow column with long
words hyphenated at line ends (en_GB patterns, by pyphen) as a word processor would, so the PDF loader
has to re-join wrapped lines and hyphenated words. `NAME.docx.json` ({"title", "blocks": heading /
paragraph / table}) becomes `NAME.docx` with python-docx; its "notes" are for people and ignored. Any
other file (.md, .html, .txt) is copied as it is.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

BODY_WIDTH_MM = 75  # a narrow column, as in a two-column newsletter: many lines end in a hyphenated word
HYPHENATE_FROM = 8  # letters: shorter words are never split
SOFT_HYPHEN = "\u00ad"  # fpdf2 may break a line there, and then prints a hyphen


def render(src: Path, dest: Path) -> list[Path]:
    """Render every trial document in `src` into `dest`; return the files written, by name."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(p for p in Path(src).iterdir() if p.is_file()):
        if path.name.endswith(".pdf.txt"):
            written.append(render_pdf(path, dest / path.name.removesuffix(".txt")))
        elif path.name.endswith(".docx.json"):
            written.append(render_docx(path, dest / path.name.removesuffix(".json")))
        else:
            written.append(Path(shutil.copyfile(path, dest / path.name)))
    return written


def render_pdf(src: Path, dest: Path) -> Path:
    """Paragraphs (one per line of `src`) → a PDF: short lines without final punctuation as bold headings
    sized to fit the page's width, others as hyphenated body text in a narrow column, and a page number in
    each page's footer."""
    import pyphen
    from fpdf import FPDF

    class _Report(FPDF):
        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("Helvetica", size=9)
            self.cell(0, 10, f"Page {self.page_no()}", align="C")

    pdf = _Report(format="A4")
    pdf.core_fonts_encoding = "windows-1252"  # dashes, curly quotes, £ and the soft hyphen
    pdf.set_margins(left=20, top=20, right=20)
    pdf.add_page()
    hyphenator = pyphen.Pyphen(lang="en_GB")
    for para in (line.strip() for line in src.read_text(encoding="utf-8").splitlines()):
        if not para:
            continue
        if _is_heading(para):
            pdf.set_font("Helvetica", style="B", size=_fitting_size(pdf, para))
            pdf.multi_cell(0, 8, para, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_font("Helvetica", size=11)
            text = " ".join(_hyphenable(word, hyphenator) for word in para.split(" "))
            pdf.multi_cell(BODY_WIDTH_MM, 5.5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.output(str(dest))
    return dest


def _is_heading(para: str) -> bool:
    return len(para) < 60 and not para.rstrip().endswith((".", ":", "?", "!"))


def _fitting_size(pdf, text: str) -> int:
    """The largest heading size (16 pt down to 11 pt) at which `text` fits the page's width on one line."""
    for size in range(16, 11, -1):
        pdf.set_font("Helvetica", style="B", size=size)
        if pdf.get_string_width(text) <= pdf.epw:
            return size
    return 11


def _hyphenable(word: str, hyphenator) -> str:
    """`word` with soft hyphens at its hyphenation points, if it is long enough to be split. The parts of a
    hyphenated word are hyphenated one by one: pyphen puts a soft hyphen right after a hard one
    ("co-\xadproduction"), which printed "co--" at a line break (found by the index state machine's long run)."""
    letters = sum(ch.isalpha() for ch in word)
    if letters < HYPHENATE_FROM:
        return word
    return "-".join(hyphenator.inserted(part, hyphen=SOFT_HYPHEN) if part else part for part in word.split("-"))


def render_docx(src: Path, dest: Path) -> Path:
    """{"title", "blocks"} → a .docx: the first heading as Heading 1, later ones as Heading 2, paragraphs,
    and tables (style "Table Grid", first row bold as a header, as Word users lay them out)."""
    import docx

    spec = json.loads(src.read_text(encoding="utf-8"))
    document = docx.Document()
    document.core_properties.title = spec.get("title", "")
    headings = 0
    for block in spec["blocks"]:
        if block["type"] == "heading":
            headings += 1
            document.add_heading(block["text"], level=1 if headings == 1 else 2)
        elif block["type"] == "paragraph":
            document.add_paragraph(block["text"])
        elif block["type"] == "table":
            _add_table(document, block["rows"])
        else:
            raise ValueError(f"{src}: unknown block type {block['type']!r}")
    document.save(str(dest))
    return dest


def _add_table(document, rows: list[list[str]]) -> None:
    table = document.add_table(rows=len(rows), cols=max(len(r) for r in rows))
    table.style = "Table Grid"
    for r, values in enumerate(rows):
        for cell, value in zip(table.rows[r].cells, values):
            cell.text = value
            if r == 0:
                for run in cell.paragraphs[0].runs:
                    run.bold = True


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python evals/render_trial_docs.py SRC DEST", file=sys.stderr)
        return 2
    for path in render(Path(argv[0]), Path(argv[1])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
