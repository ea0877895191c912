"""HTML, with BeautifulSoup: navigation, forms, scripts and page furniture dropped; headings kept as `# ` lines."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from kbqa.errors import DocumentError
from kbqa.ingestion.loaders import first_line
from kbqa.ingestion.loaders.plain import decode

if TYPE_CHECKING:
    from bs4 import Tag


def load(path: Path) -> str:
    text = decode(path.read_bytes())
    try:
        return html_to_text(text)
    except Exception as exc:  # the HTML parser on damaged markup (recursion, encoding errors, ...)
        raise DocumentError(f"cannot parse the HTML ({type(exc).__name__}: {first_line(exc)})") from None


_DROP_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "button", "svg", "iframe")
_BLOCK_TAGS = (
    "p",
    "div",
    "section",
    "article",
    "main",
    "li",
    "tr",
    "br",
    "blockquote",
    "pre",
    "table",
    "ul",
    "ol",
    "dd",
    "dt",
)


_FURNITURE_CLASS = re.compile(
    r"(?:comments?|comment-(?:respond|form|list|area)|respond|cookie(?:-\w+)?|share|sharedaddy|social-share|share-buttons"
    r"|breadcrumbs?|sidebar|widget-area|widget|menu|nav-menu|main-navigation|site-navigation|skip-link|search-form)",
    re.IGNORECASE,
)


def _is_furniture(tag: Tag) -> bool:
    """A block whose class names it as page furniture (whole class names only; never the page body)."""
    if tag.name in ("html", "body", "main", "article"):
        return False
    return any(_FURNITURE_CLASS.fullmatch(c) for c in tag.get("class") or [])


def html_to_text(html: str) -> str:
    """HTML → text: drop navigation, forms and scripts; keep headings as `# ` lines."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(_DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all(_is_furniture):
        tag.decompose()
    for level in range(1, 7):
        for tag in soup.find_all(f"h{level}"):
            tag.replace_with(f"\n\n# {tag.get_text(' ', strip=True)}\n\n")
    for tag in soup.find_all("li"):
        tag.insert(0, "• ")
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_after("\n\n" if tag.name != "br" else "\n")
    body = soup.body or soup
    text = body.get_text("")
    if title and not re.search(r"^# ", text, re.M):
        text = f"# {title}\n\n{text}"
    return text
