"""Structure: clean text → parts, one per knowledge-base entry (with its catalogue metadata) or per section
of a plain document. The knowledge-base pages have entries with a dated title line, `Keywords:` and
`Contributed by:` lines; chapters of a book entry become sub-entries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kbqa.ingestion.clean import BULLET
from kbqa.ingestion.records import MONTH, entry_records, section_record
from kbqa.schema import Entry, Record


@dataclass
class Part:
    """A unit that is chunked on its own: a whole entry, or one section of a document."""

    entry: Entry
    section: str | None
    text: str


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
            entry_id=f"{source}#{n}",
            source=source,
            title=m["title"].strip().rstrip("."),
            year_start=y0,
            year_end=y1,
            section=page,
        )
        main, chapters = _split_chapters(body)
        _read_fields(entry, main)
        entry.records = entry_records(main, entry.title)
        entry.dated_by = "title" if y0 is not None else None
        if y0 is None:
            _date_from_text(entry, main[1:])
            if re.search(r"ongoing|present|now", m["when"], re.I):
                entry.year_end = None  # "(ongoing)": dated from its text, still running
        parts.append(Part(entry=entry, section=page, text="\n".join(main).strip()))
        for j, chapter in enumerate(chapters):
            sub = Entry(
                entry_id=f"{source}#{n}.{j + 1}",
                source=source,
                title=chapter[0],
                year_start=y0,
                year_end=y1,
                parent=entry.title,
                section=page,
            )
            authors = chapter[1] if len(chapter) > 1 else ""
            people, orgs = parse_contributors(authors)
            if people and not orgs and len(authors) < 200:
                sub.contributors = people
            _read_fields(sub, chapter)
            own = next((r for r in entry.records if r.title == entry.title), None)
            sub.records = [
                Record(
                    line=chapter[0],
                    title=chapter[0],
                    label="chapter",
                    authors=list(sub.contributors),
                    year=own.year if own else y0,
                    venue=entry.title,
                    publisher=own.publisher if own else None,
                )
            ]
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
    main = body[:start]
    chapters: list[list[str]] = []
    current: list[str] = []
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
    _read_fields(entry, [line for para in paragraphs for line in para.split("\n")])
    entry.records = [r for name, paras in sections if name and (r := section_record(name, paras))]
    _date_from_text(entry, paragraphs)
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
    if len(para) > 160 or BULLET.match(para) or not re.search(r"[A-Za-z]{2}", para):
        return False
    return not re.search(r"[.!,;:]$", para)


def _strip_hash(line: str) -> str:
    return re.sub(r"^#+\s*", "", line).strip()


_TEXT_SPAN = re.compile(
    rf"\b(?i:from|between)\s+(?:{MONTH}\s+)?(?P<start>(?:19|20)\d\d)\s+(?:to|until|and|–|-)\s+"
    rf"(?:{MONTH}\s+)?(?P<end>(?:19|20)\d\d|the present|now)\b"
)
_TEXT_START = re.compile(
    rf"\b(?:was|were|been)\s+(?:first\s+)?(?:set up|founded|formed|established|launched|started|created|begun)"
    rf"\s+in\s+(?:(?:early|late|mid-?)\s*)?(?:{MONTH}\s+)?(?P<start>(?:19|20)\d\d)\b"
    rf"|\b(?i:began|started)\s+in\s+(?:{MONTH}\s+)?(?P<began>(?:19|20)\d\d)\b"
)
TEXT_DATE_CHARS = 700  # the opening of an entry, where it says when it ran ("It ran from April 2015 to …")


def _date_from_text(entry: Entry, paragraphs: list[str]) -> None:
    """An entry without years in its title line is dated by its opening text: a span ("ran from April 2015
    to September 2017", "From November 2015 to August 2016 …") or a start ("was founded in March 2016":
    running since). So listing by year finds it."""
    opening = " ".join(p for p in paragraphs if p)[:TEXT_DATE_CHARS]
    span, start = _TEXT_SPAN.search(opening), _TEXT_START.search(opening)
    if span and (not start or span.start() <= start.start()):
        end = span["end"]
        entry.year_start = int(span["start"])
        entry.year_end = int(end) if end.isdigit() else None
        entry.year_end = max(entry.year_end, entry.year_start) if entry.year_end else None
    elif start:
        entry.year_start, entry.year_end = int(start["start"] or start["began"]), None
    else:
        return
    entry.dated_by = "text"


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
