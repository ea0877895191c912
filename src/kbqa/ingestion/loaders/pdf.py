"""PDF, with pypdf: the text of every page as printed lines, page numbers and running headers dropped,
lines set in a larger type than the body text marked as `# ` headings.

The lines are re-joined into paragraphs (and words hyphenated at line ends repaired) by `clean`, which is
told so by `HARD_WRAPPED`. Pages are joined by a single line break, so a paragraph (or a hyphenated word)
that runs onto the next page is re-joined like any other line.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from kbqa.errors import DocumentError
from kbqa.ingestion.loaders import first_line

if TYPE_CHECKING:
    from pypdf import PageObject

HARD_WRAPPED = True

_PAGE_NUMBER = re.compile(r"^[-–—\s]*(?:page\s+)?\d{1,3}(?:\s*(?:/|of)\s*\d{1,3})?[-–—\s]*$", re.IGNORECASE)


def load(path: Path) -> str:
    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files are reported once, by us
    try:
        reader = pypdf.PdfReader(str(path))
        pages = [_page_lines(page) for page in reader.pages]
    except Exception as exc:  # pypdf raises many types on damaged files (PyPdfError, NotImplementedError, ...)
        raise DocumentError(f"corrupt PDF ({type(exc).__name__}: {first_line(exc)})") from None
    text = "\n".join(_with_headings_marked(_without_furniture(pages)))
    if not text.strip():
        raise DocumentError("PDF has no extractable text (scanned images?)")
    return text


Line = tuple[str, float]  # a printed line and the size of its type (points)


def _page_lines(page: PageObject) -> list[Line]:
    """A page's lines as pypdf extracts them, each with the size its text is set in."""
    lines: list[list[tuple[str, float]]] = [[]]

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        scale = (math.hypot(tm[2], tm[3]) or 1) * (math.hypot(cm[2], cm[3]) or 1)  # a Tm/cm may scale the type
        for n, piece in enumerate(text.split("\n")):
            if n:
                lines.append([])
            if piece:
                lines[-1].append((piece, size * scale))

    page.extract_text(visitor_text=visit)
    out = [("".join(t for t, _ in parts).strip(), _main_size(parts)) for parts in lines]
    while out and not out[-1][0]:
        out.pop()
    while out and not out[0][0]:
        out.pop(0)
    return out


def _main_size(parts: list[tuple[str, float]]) -> float:
    """The size most of a line's characters are set in (a drop capital or a footnote mark does not count)."""
    sizes: Counter[float] = Counter()
    for text, size in parts:
        sizes[round(size, 1)] += len(text.strip())
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _with_headings_marked(lines: list[Line]) -> list[str]:
    """The lines' text, a line set at least 15% larger than the body text (the size most characters are
    set in) marked as a `# ` heading: `clean` keeps those as headings and never joins text onto them."""
    sizes: Counter[float] = Counter()
    for text, size in lines:
        sizes[round(size, 1)] += len(text)
    body = sizes.most_common(1)[0][0] if sizes else 0.0
    return [
        f"# {text}" if body and size >= 1.15 * body and len(text) <= 150 and re.search(r"[A-Za-z]{2}", text) else text
        for text, size in lines
    ]


def _without_furniture(pages: list[list[Line]]) -> list[Line]:
    """The lines of all pages, less a page's first or last line when it is a page number, or a running
    header or footer (the same line, numbers aside, at the top or bottom of at least three pages)."""
    edges = Counter(_shape(page[i][0]) for page in pages if page for i in {0, len(page) - 1})
    lines = []
    for page in pages:
        for i, line in enumerate(page):
            text = line[0]
            edge = i in (0, len(page) - 1)
            if edge and (_PAGE_NUMBER.match(text) or (len(pages) >= 3 and edges[_shape(text)] >= 3 and text)):
                continue
            lines.append(line)
    return lines


def _shape(line: str) -> str:
    """A line with its digits blanked, so "Annual report 2019 – page 3" matches its copy on page 4."""
    return re.sub(r"\d+", "#", line.strip().lower())
