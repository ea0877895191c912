"""Word .docx, with python-docx: headings become `# ` lines, list paragraphs bullets."""

from __future__ import annotations

from pathlib import Path

from kbqa.errors import DocumentError
from kbqa.ingestion.loaders import first_line


def load(path: Path) -> str:
    import docx

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # zip errors, missing parts, lxml syntax errors in damaged XML
        raise DocumentError(f"corrupt .docx ({type(exc).__name__}: {first_line(exc)})") from None
    lines = []
    for para in document.paragraphs:
        style = (para.style.name or "") if para.style is not None else ""
        text = para.text.strip()
        if not text:
            lines.append("")
        elif style.startswith("Heading") or style == "Title":
            lines.extend(["", f"# {text}", ""])
        elif style.startswith("List"):
            lines.append(f"• {text}")
        else:
            lines.extend([text, ""])
    return "\n".join(lines)
