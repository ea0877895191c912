"""Bibliographic questions answered from the entries' publication records (see `kbqa.schema.Record`).

"Who wrote 'Participatory Budgeting in Scotland …'?", "Which journal published …?", "Which publisher?",
"Which Bovaird and Loeffler publications are from 2008?", "Which is older, A or B?": the record(s) the
question names are found by title, author, year, list label ("policy papers") or entry, and the asked
fields are stated from them, each cited to the passage and line the record was read from. A question
that names no record, or asks for no field a record has, is left to the other answerers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from kbqa.answer import Context, Request
from kbqa.answer.entities import best_mentions
from kbqa.schema import Answer, Chunk, Citation, Entry, Event, Final, Record, TextDelta
from kbqa.text import focus_word, normalize_space, tokenize

FIELD_PATTERNS = {
    "authors": re.compile(
        r"\bwho (?:wrote|authored|co-?wrote|co-?authored|edited|produced)\b|\bauthors?\b|\bwritten by\b"
        r"|\bwho (?:is|are|was|were) (?:behind|responsible for)\b",
        re.I,
    ),
    "venue": re.compile(
        r"\bjournals?\b|\bin which (?:book|volume|collection|series)\b|\bwhich (?:book|volume|collection|series)\b"
        r"|\bwhere (?:and when )?(?:was|were|did|is|has)\b.*\b(?:published|appear(?:ed)?|printed)\b|\bappear(?:ed|s)? in\b",
        re.I,
    ),
    "publisher": re.compile(r"\bpublishers?\b|\bwho published\b|\bpublished by\b|\bpublishing house\b", re.I),
    "year": re.compile(
        r"\b(?:when|what year|which year|what date)\b.*\b(?:published|publish|come out|came out|appear(?:ed)?|released"
        r"|bring out|brought out|put out|release"
        r"|written|issued|held|produced)\b"
        r"|\b(?:published|publish|publisher|came out|appeared|released|issued)\b.*\b(?:in )?(?:what|which) year\b"
        # "which year is the briefing '…' from", "…, and the year it came out"
        r"|\b(?:what|which) year (?:is|was|are|were)\b.*\bfrom\W*$"
        r"|\bthe year (?:it|they|this|that|the \w+)\s+(?:was |were )?(?:published|came out|appeared|released|issued)\b",
        re.I,
    ),
    "volume": re.compile(r"\bvolume\b|\bissue\b", re.I),
    # the page (entry) a record is listed on: "the title of the page of publications that includes '…'"
    "list": re.compile(
        r"\b(?:title|heading|name)\s+of\s+(?:the\s+)?(?:[\w-]+\s+){0,3}?(?:page|list|listing|collection|section)\b"
        r"|\b(?:which|what)\s+(?:page|entry)\s+(?:lists|includes|contains|holds)\s+(?:it|them|this|that)\b"
        r"|\b(?:which|what)\s+(?:[\w-]+\s+){0,2}?(?:page|list|listing|collection|section)\b[^?]*"
        r"\b(?:on|in|under|includ\w*|contain\w*|collect\w*|list\w*)\b"
        r"|\blisted (?:on|under|in) (?:which|what)\b",
        re.I,
    ),
    "place": re.compile(
        r"\b(?:which|what) (?:city|town|place)\b.*\b(?:published|publish|come out|came out|printed)\b"
        r"|\bplace of publication\b|\bpublished\b.*\b(?:which|what) (?:city|town)\b",
        re.I,
    ),
}
# (a word ending in -ed before the noun is a verb, "which published papers…", except "related publications")
_LISTING = re.compile(  # (after a lead-in, "In the publication list headed '…', which items…")
    r"^(?:[^,?]{3,80},\s+)?\W*(?:and\s+)?(?:which|what|list|name|show me|how many)\b"
    r"(?:\s+(?!(?:is|are|was|were|did|does|do|has|have|had|can|will)\b)(?!(?!related\b)[a-z]+ed\b)[\w'’.-]+){0,6}?\s+"
    r"(?P<kind>publications?|papers?|reports?|chapters?|books?|articles?|briefings?|outputs?|items?|titles?)\b",
    re.I,
)
_COMPARE = re.compile(
    r"\bwhich (?:is|was|came|one is|one was)?\s*(?P<how>older|newer|earlier|later|more recent|first)\b", re.I
)
_QUOTED = re.compile(r"[‘'\"“](?P<q>[^‘'\"“”’]{10,200})[’'\"”]")
_YEARS = re.compile(r"\b((?:19|20)\d\d)\b")
_JOURNAL = re.compile(r"\bjournals?\b", re.I)
MIN_TITLE_SHARE = 0.6  # of a record title's words that the question must contain to name it
MIN_TITLE_WORDS = 3
MIN_SUBTITLE_SHARE = 0.75  # … or of its subtitle's words (a subtitle alone is shorter: most of it must be there)


@dataclass
class Found:
    """A record with the entry it belongs to."""

    entry: Entry
    record: Record


@dataclass
class PubQuery:
    """A recognised bibliographic question: the fields asked for and the records it is about."""

    fields: list[str]
    found: list[Found]
    listing: bool = False
    compare: str | None = None
    notes: list[str] = field(default_factory=list)


def all_records(entries: list[Entry]) -> list[Found]:
    return [Found(e, r) for e in entries for r in e.records]


def match(
    question: str, entries: list[Entry], focus: tuple[str, ...] = (), recent: Sequence[str] = ()
) -> PubQuery | None:
    """Recognise a bibliographic question over the records of `entries`. `focus`: the entries a follow-up
    is about; `recent`: the conversation's earlier turns (question and answer), latest first: the record "it"
    refers to is the one the latest turn that names one names."""
    records = all_records(entries)
    if not records:
        return None
    # a field whose value the question states names the record, it does not ask for it ("what sparked…,
    # according to the Journal of Social Policy article?")
    q = question.lower()
    fields = [
        name
        for name, pattern in FIELD_PATTERNS.items()
        if pattern.search(question) and not any((v := _value(f.record, name)) and v.lower() in q for f in records)
    ]
    listing = _LISTING.search(question)
    compare = _COMPARE.search(question)
    titled = _named_records(question, records, entries)
    if "list" in fields:  # the page the named (or listed) records are on: one sentence per page
        found = titled
        if not found and (_people_named(question, records) or _YEARS.search(question)):  # "… the Bovaird papers"
            found = _listed(question, records, entries, focus, listing["kind"].lower() if listing else "")
        if not found and focus:  # "…, and which entry lists it?": the record the conversation is about
            found = _in_focus(records, focus, fields, recent, entries)
        pages: dict[str, Found] = {}
        for f in found:
            pages.setdefault(f.entry.entry_id, f)  # the first record named on each page stands for it
        return PubQuery(["list"], list(pages.values())) if pages else None
    named = titled or _own_records(question, records, entries) or _by_stated_venue(question, records)
    if compare and len(named) >= 2:
        return PubQuery(["year"], named[:2], compare=compare["how"].lower())
    if fields and named:
        # a record without the field asked for is left to the passages ("the authors of X" and "the volume X"
        # often name the record, not a field asked for), except its publisher: "which publisher brought out X"
        # asks for nothing else, and the answer says the entry does not give it
        return PubQuery(fields, named[:1]) if _has_any(named[0].record, fields) or fields == ["publisher"] else None
    if fields and (own := _records_of_named_entries(question, records, entries, fields)):
        return PubQuery(fields, own, listing=len(own) > 1)
    if listing and (found := _listed(question, records, entries, focus, listing["kind"].lower())):
        return PubQuery(fields, found, listing=True)  # (none: "which book is it part of?" asks about one)
    if titled := _by_title_noun(question, records, entries):
        return PubQuery(fields, titled, listing=True)
    if fields and focus:
        chosen = _in_focus(records, focus, fields, recent, entries)
        return PubQuery(fields, chosen) if chosen else None
    return None


def _named_records(question: str, records: list[Found], entries: list[Entry]) -> list[Found]:
    """Records the question names by title: a quoted part of the title, or most of the title's words
    beyond those that name an entry ("…publish findings from the Enabling Social Action Programme" does
    not name the record "Enabling social action methodology")."""
    q = _plain(question)
    q_stems = set(tokenize([question])[0])
    naming: set[str] = set()  # words that name an entry count on neither side
    for e in best_mentions(question, entries):
        naming |= set(tokenize([e.title])[0])
    q_stems -= naming
    scored = []
    for f in records:
        title = _plain(f.record.title)
        quoted = [m["q"].strip(" ?.") for m in _QUOTED.finditer(question)]
        if any(len(x) >= 10 and _plain(x) in title for x in quoted) or (len(title) >= 20 and title in q):
            scored.append((2.0, f))
            continue
        # a title or its subtitle: three titles share "User and community co-production of public services",
        # so one is named by "what influences citizens to co-produce"
        subtitle = set(tokenize([f.record.title.partition(":")[2]])[0])
        parts = [
            (set(tokenize([f.record.title])[0]) - naming, MIN_TITLE_SHARE),
            (subtitle - naming, MIN_SUBTITLE_SHARE),
        ]
        for stems, least in parts:
            share = len(stems & q_stems) / len(stems) if stems else 0.0
            if len(stems & q_stems) >= min(MIN_TITLE_WORDS, len(stems)) and share >= least and stems:
                scored.append((share, f))
                break
    scored.sort(key=lambda x: x[0], reverse=True)
    if not scored:
        return []
    top = scored[0][0]
    return [f for s, f in scored if s >= top - 0.15]


MAX_OWN = 3  # "The Imagine project was written up in a book – who published it?": at most this many records


def _by_stated_venue(question: str, records: list[Found]) -> list[Found]:
    """The record whose journal or book the question names, when only one record appeared there ("the title of
    the Journal of Social Policy article, and the year it came out")."""
    q = _plain(question)
    found = [f for f in records if f.record.venue and len(f.record.venue) >= 10 and _plain(f.record.venue) in q]
    return found if len(found) == 1 else []


def _records_of_named_entries(
    question: str, records: list[Found], entries: list[Entry], fields: list[str]
) -> list[Found]:
    """The records that have the asked fields, of the entries the question names when it names no record
    ("The Imagine project was written up in a book – who published it and in what year?"); none when the
    named entries hold more than MAX_OWN such records (the question must say which)."""
    named = {e.entry_id for e in best_mentions(question, entries)}
    found = [f for f in records if f.entry.entry_id in named and _has_any(f.record, fields)]
    return found if len(found) <= MAX_OWN else []


def _own_records(question: str, records: list[Found], entries: list[Entry]) -> list[Found]:
    """The record of a named entry that is itself a publication ("When was the … briefing published?": the
    entry's own dated line, "December 2018"; a book's "Routledge, 2017")."""
    named = {e.entry_id for e in best_mentions(question, entries)}
    return [f for f in records if f.entry.entry_id in named and f.record.title == f.entry.title]


def _by_title_noun(question: str, records: list[Found], entries: list[Entry]) -> list[Found]:
    """ "Which two workshops did the Enabling Social Action Programme publish findings from?": the records of
    the named entry whose titles hold the noun asked for ("Findings from Workshop 1: …")."""
    word = focus_word(question)
    mentioned = best_mentions(question, entries)
    if not word or not mentioned or not re.fullmatch(r"[a-z]{3,}[^s]s", word):
        return []  # a plural noun asked for, of a named entry
    stem = set(tokenize([word])[0])
    if any(stem & set(tokenize([e.title])[0]) for e in mentioned):
        return []
    named = {e.entry_id for e in mentioned}
    found = [f for f in records if f.entry.entry_id in named and stem & set(tokenize([f.record.title])[0])]
    return found if len(found) >= 2 else []


def _in_focus(
    records: list[Found], focus: tuple[str, ...], fields: list[str], recent: Sequence[str], entries: list[Entry]
) -> list[Found]:
    """For a follow-up ("Which publisher?", "In what year was it published?"): the record the latest turn
    that names one named, else the first record of the entries in focus that has the field."""
    mine = [f for f in records if f.entry.entry_id in focus]
    titles = {e.title for e in entries if e.entry_id in focus}
    for turn in recent:
        for title in titles:  # an answer naming its entry ("The closest entry is “…”") names no record of it
            turn = turn.replace(title, " ")
        named = [f for f in _named_records(turn, mine, []) if _has_any(f.record, fields)]
        if named:
            return named[:1]
    for entry_id in focus:
        for f in mine:
            if f.entry.entry_id == entry_id and _has_any(f.record, fields):
                return [f]
    return []


def _listed(
    question: str, records: list[Found], entries: list[Entry], focus: tuple[str, ...], kind: str
) -> list[Found]:
    """The records a listing question asks for: by author, year, list label, kind, journal, named entry."""
    q_stems = set(tokenize([question])[0])
    people = _people_named(question, records)
    years = {int(y) for y in _YEARS.findall(question)}
    pool = records
    named_entries = {e.entry_id for e in best_mentions(question, entries)}
    labelled = [f for f in pool if f.record.label and set(tokenize([f.record.label])[0]) <= q_stems]
    if labelled:
        pool = labelled
    elif kind.startswith("chapter"):
        pool = [f for f in pool if f.record.label == "chapter"]
    elif kind.startswith("report"):
        pool = [f for f in pool if re.search(r"report", f"{f.record.label} {f.record.title}", re.I)]
    if named_entries:
        pool = [
            f for f in pool if f.entry.entry_id in named_entries or f.entry.parent in _titles(entries, named_entries)
        ]
    elif focus and not people and re.search(r"\b(?:it|that|this|the same|its|their|they|them)\b", question, re.I):
        pool = [f for f in pool if f.entry.entry_id in focus]
    if people:
        strict = [f for f in pool if all(any(p in a for a in f.record.authors) for p in people)]
        narrowed = _narrow(strict, question, years)
        if not narrowed:  # a list of someone's publications: the other records of the entries that hold theirs
            holders = {f.entry.entry_id for f in strict} | {
                e.entry_id for e in entries if all(any(p in c for c in e.contributors) for p in people)
            }
            narrowed = _narrow([f for f in pool if f.entry.entry_id in holders], question, years)
        return narrowed
    if not (labelled or named_entries or years or _JOURNAL.search(question)) and not (focus and pool is not records):
        return []  # "which papers …" with nothing to narrow it by: not a question about the records
    return _narrow(pool, question, years)


def _narrow(found: list[Found], question: str, years: set[int]) -> list[Found]:
    if years:
        found = [f for f in found if f.record.year in years]
    if _JOURNAL.search(question):
        found = [f for f in found if f.record.venue and _JOURNAL.search(f.record.venue)]
    return found


def _people_named(question: str, records: list[Found]) -> list[str]:
    """Surnames of record authors that occur in the question ("Bovaird and Loeffler")."""
    names = {a for f in records for a in f.record.authors}
    return sorted({n.split()[-1] for n in names if re.search(rf"\b{re.escape(n.split()[-1])}\b", question)})


def _titles(entries: list[Entry], ids: set[str]) -> set[str]:
    return {e.title for e in entries if e.entry_id in ids}


def _has_any(record: Record, fields: list[str]) -> bool:
    return "list" in fields or any(_value(record, f) for f in fields)  # (every record is listed on its page)


def _value(record: Record, name: str) -> str | None:
    if name == "list":
        return None  # the entry's, not the record's (see `sentence_for`)
    if name == "authors":
        people = ", ".join(record.authors)
        orgs = ", ".join(record.organisations)
        return f"{people} ({orgs})" if people and orgs else people or orgs or None
    if name == "year":
        return record.date or (str(record.year) if record.year else None)
    value = getattr(record, name)
    return str(value) if value is not None else None


def _plain(text: str) -> str:
    text = text.lower().replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return normalize_space(re.sub(r"[^\w\s']", " ", text))


def _name(record: Record, year: bool = True) -> str:
    return f"“{record.title}”" + (f" ({record.year})" if record.year and year else "")


def sentence_for(f: Found, fields: list[str]) -> str:
    """One sentence stating the asked fields of a record (what it does not record is said too)."""
    r = f.record
    if fields == ["list"]:
        return f"{_name(r)} is listed on the page “{f.entry.title}”."
    said, missing = [], []
    for name in fields:
        value = _value(r, name)
        if not value:
            missing.append({"authors": "its authors", "venue": "where it appeared", "publisher": "its publisher",
                            "year": "its date", "volume": "its volume or issue",
                            "place": "where it was published"}[name])  # fmt: skip
            continue
        said.append(
            {
                "authors": f"is by {value}",
                "venue": f"appeared in {value}" + (f", {r.volume}" if r.volume and "volume" not in fields else ""),
                "publisher": f"was published by {value}"
                + (f" ({r.place})" if r.place and "place" not in fields else ""),
                "place": f"was published in {value}",
                "year": f"is dated {value}",
                "volume": f"is in volume/issue {value}",
            }[name]
        )
    text = f"{_name(r, 'year' not in fields)} " + (", and ".join(said) if said else "is listed")
    if missing:
        text += f"; the entry does not give {' or '.join(missing)}"
    return text + "."


def list_item(f: Found) -> str:
    r = f.record
    bits = [f"“{r.title}”"]
    if r.date or r.year:
        bits.append(f"({r.date or r.year})")
    if r.authors or r.organisations:
        bits.append("— " + ", ".join(r.authors + r.organisations))
    if r.venue:
        bits.append(f"— {r.venue}" + (f", {r.volume}" if r.volume else ""))
    if r.publisher:
        bits.append(f"— {r.publisher}")
    return "• " + " ".join(bits)


def compose(query: PubQuery, question: str, cite: dict[int, Citation | None]) -> Answer:
    """The answer text with one citation per record (numbered in order of appearance)."""
    marks = {i: f" [{c.n}]" if c else "" for i, c in cite.items()}
    if query.compare:
        a, b = query.found[0], query.found[1]
        if not (a.record.year and b.record.year) or a.record.year == b.record.year:
            lines = [sentence_for(a, ["year"]) + marks[0], sentence_for(b, ["year"]) + marks[1]]
        else:
            older, newer = (a, b) if a.record.year < b.record.year else (b, a)
            io, inn = (0, 1) if older is a else (1, 0)
            lines = [f"{_name(older.record)} is older than {_name(newer.record)}.{marks[io]}{marks[inn]}"]
        text = " ".join(lines)
    elif query.listing:
        n = len(query.found)
        head = f"{n} {'record matches' if n == 1 else 'records match'}:"
        text = "\n".join([head, *(list_item(f) + marks[i] for i, f in enumerate(query.found))])
    else:
        text = " ".join(sentence_for(f, query.fields) + marks[i] for i, f in enumerate(query.found))
    citations = sorted({c.n: c for c in cite.values() if c}.values(), key=lambda c: c.n)
    if not (query.listing or query.compare or any(_has_any(f.record, query.fields) for f in query.found)):
        # "Which publisher brought out the Theory of Change Guide?": it is listed, with no publisher: declined,
        # citing where it is listed
        return Answer(question, text, citations, status="abstained", answerer="publications")
    return Answer(question, text, citations, answerer="publications", confidence=1.0)


class PublicationAnswerer:
    """Bibliographic questions, answered from the catalogue's publication records."""

    name = "publications"

    def __init__(self, context: Context) -> None:
        self.context = context

    def accepts(self, request: Request) -> bool:
        return self._match(request) is not None

    def _match(self, request: Request) -> PubQuery | None:
        entries = [e for e in self.context.entries(request.filters)]
        # the turns a follow-up's "it" may point back to, latest first (an unanswered turn names nothing)
        recent = [" ".join(turn) for turn in reversed(request.turns)]
        return match(request.question, entries, request.follow.entry_ids, recent)

    def stream(self, request: Request) -> Iterator[Event]:
        started = time.perf_counter()
        query = self._match(request)
        if query is None:  # the index changed since `accepts`
            answer = Answer(request.question, "The knowledge base does not list that publication.", [], "abstained")
            yield TextDelta(answer.answer)
            yield Final(answer)
            return
        ids = list(dict.fromkeys(cid for f in query.found for cid in f.entry.chunk_ids))
        found = self.context.chunks(ids)
        vector = self.context.embedder.embed_one(request.question)
        cite: dict[int, Citation | None] = {}
        by_chunk: dict[str, Citation] = {}
        for i, f in enumerate(query.found):
            chunks = [found[c][0] for c in f.entry.chunk_ids if c in found]
            # a page's title is cited from its title line where a passage holds it (else it is the title the
            # record's passage is shown under), a record's fields from the record's line
            chunk, spans = locate_line(f.entry.title, chunks) if query.fields == ["list"] else (None, [])
            if chunk is None:
                chunk, spans = locate(f.record, chunks)
            if chunk is None:
                cite[i] = None
                continue
            if chunk.id not in by_chunk:
                vec = found[chunk.id][1]
                score = float(np.dot(vec, vector)) if vec is not None else 0.0
                by_chunk[chunk.id] = Citation(
                    len(by_chunk) + 1, chunk.source, f.entry.title, chunk.text, score, entry_id=f.entry.entry_id
                )
            citation = by_chunk[chunk.id]
            citation.highlights.extend(s for s in spans if s not in citation.highlights)
            cite[i] = citation
        answer = compose(query, request.question, cite)
        if request.follow.standalone != request.question:
            answer.standalone_question = request.follow.standalone
        ms = (time.perf_counter() - started) * 1000
        answer.timings = {"retrieve_ms": 0.0, "answer_ms": ms}
        yield TextDelta(answer.answer)
        yield Final(answer)


def locate(record: Record, chunks: list[Chunk]) -> tuple[Chunk | None, list[tuple[int, int]]]:
    """The passage holding a record's line (and its title line, if separate), with the lines' offsets."""
    return locate_line(record.line, chunks, record.title)


def locate_line(line: str, chunks: list[Chunk], title: str = "") -> tuple[Chunk | None, list[tuple[int, int]]]:
    """The passage holding a line (a long one by its start, as a page's title line "… (original) (raw)"),
    or else its `title`, with the lines' offsets."""
    line = normalize_space(line)
    best: tuple[Chunk | None, list[tuple[int, int]]] = (None, [])
    for chunk in chunks:
        spans = [
            (m.start(), m.end())
            for m in re.finditer(r"[^\n]+", chunk.text)
            if normalize_space(m.group()) in (line, normalize_space(title))
            or (len(line) > 30 and line[:60] in normalize_space(m.group()))
        ]
        if spans and (best[0] is None or len(spans) > len(best[1])):
            best = (chunk, sorted(spans))
    return best
