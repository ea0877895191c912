"""PDF, with pypdf: the text of every page (hard-wrapped lines are re-joined later, by `clean`)."""

from __future__ import annotations

import logging
from pathlib import Path

from kbqa.errors import DocumentError
from kbqa.ingestion.loaders import first_line


def load(path: Path) -> str:
    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files are reported once, by us
    try:
        reader = pypdf.PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # pypdf raises many types on damaged files (PyPdfError, NotImplementedError, ...)
        raise DocumentError(f"corrupt PDF ({type(exc).__name__}: {first_line(exc)})") from None
    text = "\n\n".join(pages)
    if not text.strip():
        raise DocumentError("PDF has no extractable text (scanned images?)")
    return text
