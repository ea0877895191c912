"""Word .docx, with python-docx: paragraphs and tables in document order; headings become `# ` lines,
list paragraphs bullets, and each table row one sentence.

A row is written with its column headers as labels, "Site: Eastfield; Plots: 40; Opened: 2019.", one row
per line: the figures then sit in the same sentence as the words a question uses for them ("plots",
"opened") and the row's own name, so BM25 finds the row and an extractive answer that quotes one
sentence quotes a row a reader can understand without the table around it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from kbqa.errors import DocumentError
from kbqa.ingestion.loaders import first_line

if TYPE_CHECKING:
    from docx.table import Table, _Cell, _Row
    from docx.text.paragraph import Paragraph


def load(path: Path) -> str:
    import docx
    from docx.table import Table

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # zip errors, missing parts, lxml syntax errors in damaged XML
        raise DocumentError(f"corrupt .docx ({type(exc).__name__}: {first_line(exc)})") from None
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.extend(["", *table_rows(block), ""])
        else:
            lines.extend(_paragraph_lines(block))
    return "\n".join(lines)


def _paragraph_lines(para: Paragraph) -> list[str]:
    style = (para.style.name or "") if para.style is not None else ""
    text = para.text.strip()
    if not text:
        return [""]
    if style.startswith("Heading") or style == "Title":
        return ["", f"# {text}", ""]
    if style.startswith("List"):
        return [f"• {text}"]
    return [text, ""]


def table_rows(table: Table) -> list[str]:
    """One sentence per non-empty row; the first row labels the others when it is a header row."""
    rows = [cells for cells in (_cells(row) for row in table.rows) if any(cells)]
    if not rows:
        return []
    header = rows[0] if len(rows) > 1 and _is_header(table.rows[0], rows) else None
    return [_sentence(cells, header) for cells in (rows[1:] if header else rows)]


def _cells(row: _Row) -> list[str]:
    """The texts of a row's cells; a cell merged across columns counted once."""
    out: list[str] = []
    seen: list[object] = []
    for cell in row.cells:
        if any(cell._tc is tc for tc in seen):  # python-docx repeats a merged cell for each grid column
            continue
        seen.append(cell._tc)
        out.append(_cell_text(cell))
    return out


def _cell_text(cell: _Cell) -> str:
    """A cell's paragraphs (and any table nested in it) as one line."""
    from docx.table import Table

    parts = []
    for block in cell.iter_inner_content():
        parts.extend(table_rows(block) if isinstance(block, Table) else [block.text])
    return " ".join(" ".join(parts).split())


_FIGURE = re.compile(r"\d")


def _is_header(first: _Row, rows: list[list[str]]) -> bool:
    """Is the first row a header? Yes when Word marks it as one (repeated on each page), when all its text
    is bold, or when it holds only short labels over a column of figures (as "Plots" over 32, 40, 18)."""
    from docx.oxml.ns import qn

    props = first._tr.trPr
    mark = props.find(qn("w:tblHeader")) if props is not None else None
    if mark is not None and mark.get(qn("w:val"), "true").lower() not in ("0", "false", "off"):
        return True
    runs = [run for cell in first.cells for para in cell.paragraphs for run in para.runs if run.text.strip()]
    if runs and all(run.bold for run in runs):
        return True
    labels = rows[0]
    if not all(labels) or any(_FIGURE.search(label) or len(label) > 60 for label in labels):
        return False
    for c in range(len(labels)):
        below = [r[c] for r in rows[1:] if c < len(r) and r[c]]
        if below and all(_FIGURE.search(value) for value in below):
            return True
    return False


def _sentence(cells: list[str], header: list[str] | None) -> str:
    """A row as one sentence: "Label: value; Label: value." (a two-cell row without header: "Key: value.";
    a row that is one cell merged across the table: its text)."""
    if len(cells) == 1:
        pieces = cells
    elif header is not None:
        pieces = [f"{_label(h)}: {v}" if _label(h) else v for h, v in zip(header, cells) if v]
        pieces += [v for v in cells[len(header) :] if v]
    elif len([c for c in cells if c]) == 2:
        key, value = (c for c in cells if c)
        pieces = [f"{_label(key)}: {value}"]
    else:
        pieces = [c for c in cells if c]
    text = ""
    for piece in pieces:
        text += piece if not text else (" " if re.search(r"[.!?;:]$", text) else "; ") + piece
    return text if re.search(r"[.!?]$", text) else text + "."


def _label(header: str) -> str:
    return header.strip().rstrip(":").strip()
