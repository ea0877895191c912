"""Structured lines of an entry → `Record`s: its related publications, reports, chapters, presentations.

The knowledge base writes them as reference lines in a few shapes, e.g.
    Related publications:
    Commissioning for Outcomes and Co-production: a new model …, 2014, Joe Penny, Julia Slay
    Examining networked NGO services: … (2018) International Journal of …, 38:7. 2018, Bernadette Best, …
    Research report: What Works Scotland Policy Briefing 2018
    Routledge, 2017                       (under a book entry's title: its publisher and year)
    Journal of Social Policy, 2014        (under a publication's heading in a publication list)
A line is read right to left: an author list after the last year that is followed by names, else a date at
the end; what is left is the title, and after it a venue ("Journal …, 38:7"), or a place and publisher
("Bristol: Policy Press"). Reference lines are written by hand, so this is a parser of conventions, not of
a standard; a line it cannot read is simply not a record.
"""

from __future__ import annotations

import re

from kbqa.schema import Record

MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_YEAR = r"(?:19|20)\d\d"
_DATE_AT_END = re.compile(
    rf"(?:,\s*|\s+|^)\(?(?P<date>(?:{MONTH}(?:\s*(?:&|and|–|-)\s*{MONTH})?\s+)?(?P<year>{_YEAR}))\)?\s*$"
)
_YEAR_TOKEN = re.compile(rf"\(?\b(?P<year>{_YEAR})\b\)?")
_URL = re.compile(r"https?://\S+")
_VOLUME = re.compile(r",?\s*(?P<vol>\d+\s*(?::\s*\d+|\(\d+\)))\.?\s*$")
_PLACE_PUBLISHER = re.compile(r"^(?P<place>[A-Z][a-z]+(?: [A-Z][a-z]+)?):\s*(?P<publisher>[A-Z].{2,60})$")
_PARENS_PUBLISHER = re.compile(r"^(?P<venue>.+?)\s*\((?P<publisher>[^()]{3,60})\)\s*$")
# "Name (Organisation) and Name (Organisation)" at the start of a reference
_AUTHOR_WITH_ORG = re.compile(r"(?P<name>[A-Z][\w'’.-]+(?: [A-Z][\w'’.-]+){1,3})\s*\((?P<org>[^()]{2,120})\)")
_JOURNAL_WORDS = re.compile(r"\b(?:journal|review|quarterly|proceedings|bulletin|transactions|magazine)\b", re.I)
_ORG_WORDS = re.compile(
    r"\b(?:universit(?:y|ies)|government|council|foundation|cent(?:re|er)|institute|international|organi[sz]ations?"
    r"|trust|society|department|school|college|network|partnership|commission|nhs|ltd|association|agency|works"
    r"|group|office|ministry|authority|service|services|lab|laboratory|consortium|health|press|scotland)\b",
    re.IGNORECASE,
)
_PERSON = re.compile(r"^(?:(?:Dr|Prof|Professor)\.? )?[A-Z][\w'’.-]+(?: (?:[A-Z][\w'’.-]+|van|von|de|del|da)){1,3}$")


def is_person(name: str) -> bool:
    """'Julia Slay' yes; 'What Works Scotland', 'Glasgow Centre for Population Health' no."""
    return bool(_PERSON.match(name)) and not _ORG_WORDS.search(name) and not re.search(r"[A-Z]{3,}", name)


def _names(text: str) -> tuple[list[str], list[str]] | None:
    """'Chris Harkins, Oliver Escobar, Glasgow Centre for Population Health, What Works Scotland 2015' →
    (people, organisations); None unless every item is a name and at least one is a person."""
    people: list[str] = []
    orgs: list[str] = []
    for item in re.split(r"\s*[,;]\s*|\s+and\s+|\s*&\s*", text.strip().rstrip(".")):
        item = re.sub(rf"\s+{_YEAR}$", "", item.strip())
        if not item:
            continue
        if is_person(item):
            people.append(item)
        elif re.match(r"^[A-Z]", item) and len(item.split()) <= 8 and not re.search(r"\d", item):
            orgs.append(item)
        else:
            return None
    return (people, orgs) if people else None


def parse_reference(text: str, line: str | None = None, label: str | None = None) -> Record | None:
    """A reference line (without its label) → a `Record`; None if no title can be read from it."""
    rec = Record(line=line if line is not None else text, title="", label=label)
    text = text.strip()
    if m := _URL.search(text):
        rec.url = m.group().rstrip(".,;)")
        text = (text[: m.start()] + text[m.end() :]).strip()
    head = _read_authors(text, rec)
    if head is None:
        head = text
        if m := _DATE_AT_END.search(head):
            rec.year, rec.date = int(m["year"]), m["date"] if m["date"] != m["year"] else None
            head = head[: m.start()]
    head = head.strip().rstrip(",;").strip()
    if m := re.search(rf"\s*\((?P<year>{_YEAR})\)\s*", head):  # "Title (2018) Journal of …, 38:7."
        rec.year = rec.year or int(m["year"])
        title, rest = head[: m.start()], head[m.end() :]
        if rest.strip(" .,"):
            _read_venue(rest, rec)
        head = title
    parts = [p for p in re.split(r"\.\s+(?=[A-Z])", head.strip().rstrip(".")) if p]
    if len(parts) > 1 and (m := _PLACE_PUBLISHER.match(parts[-1].strip())):  # "…. Bristol: Policy Press."
        rec.place, rec.publisher = m["place"], m["publisher"].strip()
        parts = parts[:-1]
    rec.title = ". ".join(p.strip() for p in parts).strip(" .,")
    return rec if re.search(r"[A-Za-z]{3}", rec.title) else None


def _read_authors(text: str, rec: Record) -> str | None:
    """Authors after a year ('…, 2014, Joe Penny, Julia Slay') or with affiliations at the start
    ('Tony Bovaird (INLOGOV …) and Elke Loeffler (Governance International) Department of Health (2010), …');
    returns what comes before them (None if there are none)."""
    for m in _YEAR_TOKEN.finditer(text):
        rest = text[m.end() :]
        if not re.match(r"\s*,\s*\S", rest):
            continue
        names = _names(rest.lstrip(" ,"))
        if names:
            rec.year = int(m["year"])
            rec.authors, rec.organisations = names
            return text[: m.start()]
    pairs = list(_AUTHOR_WITH_ORG.finditer(text))
    if pairs and pairs[0].start() < 3:
        rec.authors = [p["name"] for p in pairs]
        rec.organisations = [p["org"].strip() for p in pairs]
        rest = text[pairs[-1].end() :]
        if found := re.match(
            rf"\s*(?P<publisher>[A-Z][^(),]{{2,60}}?)\s*\((?P<year>{_YEAR})\)\s*,?\s*(?P<rest>.*)$", rest
        ):
            rec.publisher, rec.year = found["publisher"].strip(), int(found["year"])
            quoted = re.search(r"[\"“](?P<venue>[^\"”]{3,300})[\"”]\s*,?\s*(?P<place>[A-Z][a-z]+)?", found["rest"])
            if quoted:
                rec.venue = quoted["venue"].strip()
                rec.place = quoted["place"]
        return ""  # the title is the heading the reference sits under
    return None


def _read_venue(text: str, rec: Record) -> None:
    """'International Journal of Operations and Production Management, 38:7.' → venue and volume."""
    text = text.strip().rstrip(".")
    if m := _VOLUME.search(text):
        rec.volume = re.sub(r"\s+", "", m["vol"])
        text = text[: m.start()]
    if m := _PARENS_PUBLISHER.match(text):
        rec.venue, rec.publisher = m["venue"].strip(" ,"), m["publisher"].strip()
    elif text.strip(" ,"):
        rec.venue = text.strip(" ,")


def parse_venue_line(line: str, title: str, label: str | None = None) -> Record | None:
    """The line under a publication's title that says where and when it appeared: 'Journal of Social Policy,
    2014', 'Public Administration and the Modern State: … (Palgrave Macmillan), 2014', 'Routledge, 2017',
    '2008'. None if the line is not of that shape."""
    m = _DATE_AT_END.search(line.strip())
    if not m or len(line.split()) > 20 or line.rstrip().endswith("."):
        return None
    rec = Record(line=line, title=title, label=label, year=int(m["year"]))
    rec.date = m["date"] if m["date"] != m["year"] else None
    where = line[: m.start()].strip(" ,")
    if where:
        if _JOURNAL_WORDS.search(where) or _PARENS_PUBLISHER.match(where):
            _read_venue(where, rec)
        else:
            rec.publisher = where
    return rec


def is_dated_line(line: str) -> bool:
    """A short line that ends in a date and is not a sentence: a reference, a report, an event."""
    line = line.strip()
    return bool(_DATE_AT_END.search(line)) and len(line.split()) <= 30 and not line.endswith(".")


# The last word of a label that names a kind of document ("Research report:", "Policy Papers: 2017"); any
# other "X: Y" line is a title with a colon in it ("Findings from Workshop 1: Building the space …").
_DOCUMENT_KINDS = re.compile(
    r"\b(?:publications?|papers?|reports?|briefings?|presentations?|videos?|websites?|sheets?|overviews?|guides?"
    r"|chapters?|books?|articles?|posters?|toolkits?|resources?|outputs?|links?)$",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^(?P<label>[A-Z][^:]{1,60}?)\s*:\s*(?P<value>.*)$")
_INTRO = re.compile(r"\s(?:in|as|at|by|from|see|under)$", re.IGNORECASE)  # a lead-in phrase, not a title
_SKIP_LABELS = re.compile(r"^(?:keywords?|contributed by)$", re.IGNORECASE)


def entry_records(lines: list[str], title: str) -> list[Record]:
    """The records in an entry's lines (its title line first): reference lines under a list label
    ("Related publications:", "Policy Papers: 2017"), labelled references ("Research report: …", "The work
    has been written up in: …"), dated report lines, and a "Publisher, year" line right under the title
    (the entry itself is the publication)."""
    records: list[Record] = []
    block: tuple[str, int | None] | None = None  # the list label the lines belong to, and its year
    content = 0  # non-empty lines seen after the title line
    for line in lines[1:]:
        line = line.strip()
        if not line:
            continue
        content += 1
        own = parse_venue_line(line, title) if content == 1 and not _LABEL.match(line) else None
        if own and len(line.split()) <= 8:
            records.append(own)  # "Routledge, 2017" under a book's title
            continue
        m = _LABEL.match(line)
        if m and _SKIP_LABELS.match(m["label"]):
            block = None
            continue
        if m and _DOCUMENT_KINDS.search(m["label"]):
            value = m["value"].strip()
            if not value or re.fullmatch(r"(?:19|20)\d\d", value):
                block = (m["label"], int(value) if value else None)
                continue
            if rec := parse_reference(value, line=line, label=m["label"]):
                records.append(rec)
            block = None
            continue
        if m and _INTRO.search(m["label"]):  # "The work has been written up in: <reference>"
            rec = parse_reference(m["value"], line=line, label=m["label"])
            if rec and rec.year and rec.authors:
                records.append(rec)
                continue
        prose = line.endswith((".", "!", "?")) and len(line.split()) >= 8
        if block and not prose:
            if rec := parse_reference(line, label=block[0]):
                rec.year = rec.year or block[1]
                records.append(rec)
            continue
        if prose:
            block = None
        elif is_dated_line(line) and (rec := parse_reference(line)):
            records.append(rec)  # "Findings from Workshop 1: … July 2018"
    return records


def section_record(heading: str, paragraphs: list[str]) -> Record | None:
    """A section of a publication list: its heading is a title and its first paragraph says where and when
    it appeared ("Journal of Social Policy, 2014"), or is the full reference starting with the title."""
    if not paragraphs:
        return None
    first = paragraphs[0].split("\n")[0].strip()
    if rec := parse_venue_line(first, heading):
        return rec
    if _plain(first).startswith(_plain(heading)) and len(first) > len(heading) + 10:
        rec = Record(line=first, title=heading)
        if _read_authors(first[len(heading) :].strip(), rec) is not None and rec.year:
            return rec
    return None


def _plain(text: str) -> str:
    """Lower case with straight quotes, for comparing a heading with the line that repeats it."""
    return text.lower().replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
