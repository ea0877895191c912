"""Source files → clean text → structured parts (knowledge-base entries or document sections).

The loaders are thin on purpose: pypdf, python-docx and BeautifulSoup do the
reading; this module removes web boilerplate, re-joins hard-wrapped lines, and
recognises the structure of the knowledge-base pages (one entry per project).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from kbqa.errors import DocumentError
from kbqa.schema import Entry

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
MAX_FILE_BYTES = 50_000_000


@dataclass
class Part:
    """A unit that is chunked on its own: a whole entry, or one section of a document."""

    entry: Entry
    section: str | None
    text: str


# ---------------------------------------------------------------- loading


def load_text(path: Path) -> str:
    """Read a supported file as text, with headings marked as `# ` lines where the format has them."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(f"unsupported file type {suffix or '(none)'!r}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror or exc}") from None
    if size == 0:
        raise DocumentError("empty file")
    if size > MAX_FILE_BYTES:
        raise DocumentError(f"too large ({size // 1_000_000} MB > {MAX_FILE_BYTES // 1_000_000} MB)")
    try:
        if suffix == ".pdf":
            return _load_pdf(path)
        if suffix == ".docx":
            return _load_docx(path)
        text = _decode(path.read_bytes())
        if suffix in (".html", ".htm"):
            return _html_to_text(text)
        return text
    except DocumentError:
        raise
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror or exc}") from None
    except Exception as exc:  # parsers of damaged files raise anything (lxml, NotImplementedError, ...)
        raise DocumentError(f"cannot parse the {suffix} file ({type(exc).__name__}: {_first_line(exc)})") from None


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:120]


def _decode(data: bytes) -> str:
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


def _load_pdf(path: Path) -> str:
    import logging

    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files are reported once, by us

    try:
        reader = pypdf.PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # pypdf raises many types on damaged files (PyPdfError, NotImplementedError, ...)
        raise DocumentError(f"corrupt PDF ({type(exc).__name__}: {_first_line(exc)})") from None
    text = "\n\n".join(pages)
    if not text.strip():
        raise DocumentError("PDF has no extractable text (scanned images?)")
    return text


def _load_docx(path: Path) -> str:
    import docx

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # zip errors, missing parts, lxml syntax errors in damaged XML
        raise DocumentError(f"corrupt .docx ({type(exc).__name__}: {_first_line(exc)})") from None
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


def _is_furniture(tag) -> bool:  # noqa: ANN001 - a bs4 Tag
    """A block whose class names it as page furniture (whole class names only; never the page body)."""
    if tag.name in ("html", "body", "main", "article"):
        return False
    return any(_FURNITURE_CLASS.fullmatch(c) for c in tag.get("class") or [])


def _html_to_text(html: str) -> str:
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


# ---------------------------------------------------------------- cleaning

# Whole lines that are web-page furniture, not content (matched case-insensitively).
_BOILERPLATE = re.compile(
    r"^(?:"
    r"search(?: for)?:?"
    r"|search (?:the |this |our )?[\w\s-]{0,40}(?:knowledge ?base|site|website|blog|archive)"
    r"|leave a (?:reply|comment)(?: cancel reply)?"
    r"|your email address will not be published\.?.*"
    r"|required fields are marked\s*\*?"
    r"|skip to (?:main )?content"
    r"|(?:post )?comment\s*\*?|name\s*\*|e-?mail\s*\*|website"
    r"|save my name, email, and website in this browser.*"
    r"|(?:share|like) this:?|share|print|back to top|menu|main menu|toggle navigation"
    r"|(?:accept|reject)(?: all)? cookies|cookie (?:policy|settings|preferences)"
    r"|(?:\d+\s+){2,}\d+"  # pagination widgets such as "10 25 50"
    r"|(?:©|copyright\b).{0,120}"
    r")$",
    re.IGNORECASE,
)
_INLINE_BOILERPLATE = re.compile(r"\s*\((?:original|raw)\)(?:\s*\((?:original|raw)\))*\s*$", re.IGNORECASE)


def clean(text: str) -> str:
    """Normalise whitespace, drop boilerplate lines, and re-join hard-wrapped paragraphs."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    lines = []
    for raw in text.split("\n"):
        line = re.sub(r"[ \t\f\v]+", " ", raw).strip()
        if _BOILERPLATE.match(line):
            continue
        line = _INLINE_BOILERPLATE.sub("", line)
        lines.append(line)
    if _is_hard_wrapped(lines):
        lines = _unwrap(lines)
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _is_hard_wrapped(lines: list[str]) -> bool:
    """True for text extracted from PDFs: most lines end mid-sentence and run straight into the next."""
    pairs = [(a, b) for a, b in zip(lines, lines[1:]) if a and b]
    if len(pairs) < 8:
        return False
    mid_sentence = sum(1 for a, _ in pairs if not re.search(r"[.!?:;\"”’)]$", a))
    return len(pairs) > 0.5 * sum(1 for line in lines if line) and mid_sentence > 0.4 * len(pairs)


def _unwrap(lines: list[str]) -> list[str]:
    """Join wrapped lines into paragraphs; keep headings, bullets and blank lines as breaks."""
    out: list[str] = []
    for line in lines:
        prev = out[-1] if out else ""
        starts_block = not line or _BULLET.match(line) or _looks_like_heading(line, prev)
        continues = prev and not _looks_like_heading(prev, out[-2] if len(out) > 1 else "")
        if (
            line
            and not starts_block
            and continues
            and not re.search(r"[.!?]$", prev)
            or line
            and not starts_block
            and continues
            and line[:1].islower()
        ):
            out[-1] = prev + " " + line
        else:
            if line and out and out[-1]:
                out.append("")
            out.append(line)
    return out


_BULLET = re.compile(r"^(?:[•·▪◦‣*-]|\d{1,2}[.)])\s+")


def _looks_like_heading(line: str, prev: str) -> bool:
    """A short line without closing punctuation that follows a finished sentence or a blank line."""
    if not line or len(line) > 90 or _BULLET.match(line) or not re.search(r"[A-Za-z]{3}", line):
        return False
    if re.search(r"[.,;:]$", line):
        return False
    if line.isupper():
        return True
    words = line.split()
    prev_done = not prev or bool(re.search(r"[.!?:]$", prev))
    return prev_done and len(words) <= 8 and words[0][:1].isupper()


# ---------------------------------------------------------------- structure

_WHEN = (
    r"(?:(?:[A-Z][a-z]+\.? )?(?:19|20)\d{2}(?: ?[–—-] ?(?:(?:[A-Z][a-z]+\.? )?(?:19|20)?\d{2}|present|ongoing|now))?"
    r"|ongoing|present)"
)
_TITLE_LINE = re.compile(r"^(?:#+ )?(?P<title>\S.{2,300}?)\.?\s*\((?P<when>" + _WHEN + r")\)\s*$")
_KEYWORDS = re.compile(r"^keywords?\s*:\s*(?P<v>.+)$", re.IGNORECASE)
_CONTRIBUTED = re.compile(r"^contributed by\s*:\s*(?P<v>.+)$", re.IGNORECASE)
_ORG_WORDS = re.compile(
    r"\b(?:universit(?:y|ies)|government|council|foundation|cent(?:re|er)|institute|international|organi[sz]ations?"
    r"|trust|society|department|school|college|network|partnership|commission|nhs|ltd|association|agency|works"
    r"|group|office|ministry|authority|service|services|lab|laboratory|consortium)\b",
    re.IGNORECASE,
)
_PERSON = re.compile(r"^(?:(?:Dr|Prof|Professor)\.? )?[A-Z][\w'’.-]+(?: [A-Z][\w'’.-]+){1,3}$")


def parse(text: str, source: str) -> list[Part]:
    """Split clean text into parts: one per knowledge-base entry, or one per section of a plain document."""
    lines = text.split("\n")
    title_rows = [i for i, line in enumerate(lines) if _TITLE_LINE.match(line) and (i == 0 or not lines[i - 1])]
    has_fields = any(_KEYWORDS.match(line) or _CONTRIBUTED.match(line) for line in lines)
    if len(title_rows) >= 2 and has_fields:
        return _parse_entries(lines, title_rows, source)
    return _parse_sections(lines, source)


def _parse_entries(lines: list[str], title_rows: list[int], source: str) -> list[Part]:
    page = next((_strip_hash(line) for line in lines[: title_rows[0]] if line), None)
    parts = []
    for n, start in enumerate(title_rows):
        end = title_rows[n + 1] if n + 1 < len(title_rows) else len(lines)
        body = [_strip_hash(line) for line in lines[start:end]]
        m = _TITLE_LINE.match(lines[start])
        assert m is not None
        y0, y1 = parse_years(m["when"])
        entry = Entry(
            entry_id=f"{source}#{n}", source=source, title=m["title"].strip().rstrip("."), year_start=y0, year_end=y1
        )
        main, chapters = _split_chapters(body)
        _read_fields(entry, main)
        parts.append(Part(entry=entry, section=page, text="\n".join(main).strip()))
        for j, chapter in enumerate(chapters):
            sub = Entry(
                entry_id=f"{source}#{n}.{j + 1}",
                source=source,
                title=chapter[0],
                year_start=y0,
                year_end=y1,
                parent=entry.title,
            )
            authors = chapter[1] if len(chapter) > 1 else ""
            people, orgs = parse_contributors(authors)
            if people and not orgs and len(authors) < 200:
                sub.contributors = people
            _read_fields(sub, chapter)
            parts.append(Part(entry=sub, section=entry.title, text="\n".join(chapter).strip()))
    return parts


_CHAPTERS = re.compile(
    r"^(?:chapters?|contents|sections?)(?: (?:include[sd]?|are|in this volume))?\s*:?$", re.IGNORECASE
)


def _split_chapters(body: list[str]) -> tuple[list[str], list[list[str]]]:
    """An entry listing its chapters ("Chapters include:" then title, authors, text, Keywords: per chapter)
    → the entry's own lines and one list of lines per chapter."""
    start = next((i for i, line in enumerate(body) if _CHAPTERS.match(line)), None)
    if start is None:
        return body, []
    main, chapters, current = body[:start], [], []
    for line in body[start + 1 :]:
        if not chapters and not current and not line:
            continue
        current.append(line)
        if _KEYWORDS.match(line):
            chapters.append([x for x in current if x])
            current = []
    return main + current, chapters  # lines after the last chapter (e.g. "Contributed by:") are the entry's


def _read_fields(entry: Entry, lines: list[str]) -> None:
    """Fill keywords, contributors and affiliations from `Keywords:` and `Contributed by:` lines."""
    for line in lines:
        if km := _KEYWORDS.match(line):
            for kw in km["v"].split(","):
                kw = kw.strip().rstrip(".")
                if kw and kw.lower() not in (k.lower() for k in entry.keywords):
                    entry.keywords.append(kw)
        elif cm := _CONTRIBUTED.match(line):
            people, orgs = parse_contributors(cm["v"])
            for name, bucket in [(p, entry.contributors) for p in people] + [(o, entry.affiliations) for o in orgs]:
                if name not in bucket:
                    bucket.append(name)


def _parse_sections(lines: list[str], source: str) -> list[Part]:
    """A plain document: its title is its first heading; headings start sections."""
    paragraphs = _paragraphs(lines)
    if not paragraphs:
        return []
    doc_title = next((_strip_hash(p) for p in paragraphs if _is_heading_paragraph(p)), None)
    if doc_title is None:
        first = paragraphs[0].split("\n")[0]
        doc_title = first if len(first) <= 120 else Path(source).stem
    entry = Entry(entry_id=f"{source}#0", source=source, title=doc_title)
    sections: list[tuple[str | None, list[str]]] = []
    heading_run: list[str] = []
    for para in paragraphs:
        if _is_heading_paragraph(para):
            heading_run.append(_strip_hash(para))
            continue
        if heading_run:
            named = [h for h in heading_run if h != doc_title and not re.fullmatch(r"[\d\s,.–-]+", h)]
            name = named[0] if named else (sections[-1][0] if sections and heading_run == [doc_title] else None)
            body = [h for h in heading_run if h != doc_title and h != name]
            sections.append((name, [*body, para]))
            heading_run = []
        elif sections:
            sections[-1][1].append(para)
        else:
            sections.append((None, [para]))
    if heading_run:  # trailing headings with no body: keep their text with the last section
        if sections:
            sections[-1][1].extend(h for h in heading_run if h != doc_title)
        else:
            sections.append((None, heading_run))
    parts = []
    for name, paras in sections:
        body_lines = ([name] if name else []) + paras
        text = "\n\n".join(body_lines).strip()
        if text:
            parts.append(Part(entry=entry, section=name, text=text))
    return parts


def _paragraphs(lines: list[str]) -> list[str]:
    paras, current = [], []
    for line in lines:
        if line:
            current.append(line)
        elif current:
            paras.append("\n".join(current))
            current = []
    if current:
        paras.append("\n".join(current))
    return paras


def _is_heading_paragraph(para: str) -> bool:
    if "\n" in para:
        return False
    if para.startswith("#"):
        return True
    if len(para) > 160 or _BULLET.match(para) or not re.search(r"[A-Za-z]{2}", para):
        return False
    return not re.search(r"[.!,;:]$", para)


def _strip_hash(line: str) -> str:
    return re.sub(r"^#+\s*", "", line).strip()


def parse_years(when: str) -> tuple[int | None, int | None]:
    """'March 2018 – March 2020' → (2018, 2020); '2018-19' → (2018, 2019); '2015 – present' → (2015, None);
    '2013' → (2013, 2013); 'ongoing' → (None, None). An end of None means the entry is still running."""
    years = re.findall(r"(?<!\d)(\d{4}|\d{2})(?!\d)", when)
    if not years or not re.match(r"(19|20)\d{2}", years[0]):
        return None, None
    start = int(years[0])
    if len(years) == 1:
        return start, (None if re.search(r"present|ongoing|now", when, re.I) else start)
    end = int(years[1]) if len(years[1]) == 4 else (start // 100) * 100 + int(years[1])
    if end < start and len(years[1]) == 2:
        end += 100  # '1999-01'
    return start, max(start, end)


def parse_contributors(value: str) -> tuple[list[str], list[str]]:
    """'A B – Univ X, C D – Org Y, Z' → people ['A B', 'C D'] and organisations ['Univ X', 'Org Y', ...].

    Items are separated by commas or semicolons; an en dash separates people from
    their affiliation; a bare item is a person if it looks like a name, else an organisation.
    """
    people: list[str] = []
    orgs: list[str] = []
    for item in re.split(r"[;,]", value.strip().rstrip(".,;")):
        item = item.strip()
        if not item:
            continue
        if re.search(r"\s[–—-]\s", item):
            who, org = (s.strip() for s in re.split(r"\s+[–—-]\s+", item, maxsplit=1))
            if who:
                people.append(who)
            if org:
                orgs.append(org)
        elif _PERSON.match(item) and not _ORG_WORDS.search(item) and not re.search(r"[A-Z]{3,}|\(", item):
            people.append(item)
        else:
            orgs.append(item)
    if not people:
        people = orgs[:1]
    return people, [o for o in orgs if o not in people]
