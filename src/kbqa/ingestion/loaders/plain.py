"""Plain text and Markdown: decoded (UTF-8, UTF-16 with a BOM, or cp1252), binary files refused."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from kbqa.errors import DocumentError


def load(path: Path) -> str:
    return decode(path.read_bytes())


def decode(data: bytes) -> str:
    """Bytes of a text file → str; DocumentError for binary data."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise DocumentError("damaged UTF-16 text") from None
    if b"\x00" in data[:65536]:
        raise DocumentError("binary file (contains NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    controls = sum(1 for ch in text[:65536] if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f")
    if controls > 0.01 * min(len(text), 65536):
        raise DocumentError("binary file (control characters), not text")
    return text
