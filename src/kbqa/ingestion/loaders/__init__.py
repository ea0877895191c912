"""File loaders, registered by suffix: each turns one file into plain text, headings marked as `# ` lines.

The loaders are thin on purpose: pypdf, python-docx and BeautifulSoup do the reading. Adding a format
(`.pptx`, `.csv`, …) is one module with a `load(path) -> str` function and one line in `LOADERS`;
modules are imported on first use, so a format's library costs nothing until a file of it is read.
A module whose text comes as a page's printed lines (PDF) sets `HARD_WRAPPED = True`: `clean` then
re-joins its lines into paragraphs however short the text is.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from kbqa.errors import DocumentError

# suffix → "module:function"
LOADERS: dict[str, str] = {
    ".txt": "kbqa.ingestion.loaders.plain:load",
    ".md": "kbqa.ingestion.loaders.plain:load",
    ".markdown": "kbqa.ingestion.loaders.plain:load",
    ".html": "kbqa.ingestion.loaders.html:load",
    ".htm": "kbqa.ingestion.loaders.html:load",
    ".pdf": "kbqa.ingestion.loaders.pdf:load",
    ".docx": "kbqa.ingestion.loaders.docx:load",
}
SUPPORTED_SUFFIXES = tuple(LOADERS)


def loader_for(path: Path) -> Callable[[Path], str]:
    """The registered loader of a file's suffix; DocumentError for an unsupported one."""
    target = LOADERS.get(path.suffix.lower())
    if target is None:
        suffix = path.suffix or "(none)"
        raise DocumentError(f"unsupported file type {suffix!r}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    module, _, function = target.partition(":")
    loader: Callable[[Path], str] = getattr(importlib.import_module(module), function)
    return loader


def hard_wrapped(path: Path) -> bool:
    """True when the loader of a file's suffix gives printed lines, not paragraphs (its module says so)."""
    target = LOADERS.get(path.suffix.lower(), "")
    module = target.partition(":")[0]
    return bool(module) and bool(getattr(importlib.import_module(module), "HARD_WRAPPED", False))


def load_text(path: Path, max_bytes: int | None = None) -> str:
    """Read a supported file as text; every failure is a one-line DocumentError."""
    load = loader_for(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror or exc}") from None
    if size == 0:
        raise DocumentError("empty file")
    if max_bytes is not None and size > max_bytes:
        raise DocumentError(f"too large ({size / 1e6:.0f} MB > {max_bytes / 1e6:.0f} MB, KBQA_MAX_FILE_MB)")
    try:
        return load(path)
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror or exc}") from None


def first_line(exc: Exception) -> str:
    """The first line of an exception's message, for a one-line error."""
    return (str(exc).strip().splitlines() or [""])[0][:120]
