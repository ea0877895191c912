"""Questions about the catalogue metadata ("which projects did Angie Hart contribute to?").

These are answered from the entries' parsed metadata (contributors, their
organisations, keywords, years) rather than from retrieval, so the list is
complete: every matching entry is named and cited.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from kbqa.answer import Context, Request
from kbqa.schema import Answer, Chunk, Citation, Entry, Event, Final, TextDelta

# A listing question: "which projects …", "list the entries …", "which of the X publications …".
_LISTING = re.compile(
    r"^\W*(?:which|what|list(?: the| all)?|name(?: the| all)?|show(?: me)?(?: the| all)?|find(?: the| all)?)\s+"
    r"(?:of (?:the|their|his|her)\s+)?(?:[\w/'’-]+\s+){0,2}?"
    r"(?:projects?|entr(?:y|ies)|stud(?:y|ies)|publications?|programmes?|programs?|papers?|chapters?|initiatives?"
    r"|items?|works?)\b",
    re.IGNORECASE,
)
_RELATION = re.compile(
    r"\bcontribut|\binvolv|\bworked on\b|\bwork on\b|\bled\b|\blead\b|\bauthor|\bwr[io]te?\b|\bwritten\b|\bby\b|\bfrom\b"
    r"|\bbased at\b|\bparticipat|\bpart of\b",
    re.IGNORECASE,
)
_KEYWORD_INTENT = re.compile(r"\bkeywords?\b|\btag(?:ged|s)?\b|\blabell?ed\b", re.IGNORECASE)
_YEAR_INTENT = re.compile(
    r"^\W*(?:which|what|list)\b[^?]*\b(projects?|entr(?:y|ies)|programmes?)\b[^?]*"
    r"\b(ran|run|running|active|underway|took place|in progress)\b[^?]*\b((?:19|20)\d{2})\b",
    re.IGNORECASE,
)


@dataclass
class MetaQuery:
    """A recognised metadata question: which field, the value asked about, and the entries that match."""

    field: str  # "contributor", "keyword" or "year"
    value: str
    entries: list[Entry]
    filtered: bool = False  # the entries were narrowed by the question's filters


def match(question: str, entries: list[Entry]) -> MetaQuery | None:
    """Recognise a listing question about a contributor, an organisation, a keyword or a year."""
    if not entries or not _LISTING.search(question):
        return None
    q = question.lower()
    if _KEYWORD_INTENT.search(question):
        keyword = _longest_mentioned(q, {k.lower() for e in entries for k in e.keywords})
        if keyword:
            return MetaQuery("keyword", keyword, [e for e in entries if keyword in (k.lower() for k in e.keywords)])
    who = _mentioned_contributor(question, entries) if _RELATION.search(question) else None
    if who:
        hits = [e for e in entries if _involves(e, who)]
        return MetaQuery("contributor", who, hits)
    if m := _YEAR_INTENT.search(question):
        year = int(m.group(3))
        hits = [e for e in entries if e.year_start is not None and e.year_start <= year <= (e.year_end or 9999)]
        if hits:
            return MetaQuery("year", str(year), hits)
    return None


def _longest_mentioned(q: str, options: set[str]) -> str | None:
    found = [o for o in options if re.search(rf"(?<!\w){re.escape(o)}(?!\w)", q)]
    return max(found, key=len) if found else None


def _mentioned_contributor(question: str, entries: list[Entry]) -> str | None:
    """A person's full name, or an organisation's name, that occurs in the question."""
    q = question.lower()
    people = {p for e in entries for p in e.contributors}
    name = _longest_mentioned(q, {p.lower() for p in people})
    if name:
        return next(p for p in people if p.lower() == name)
    orgs = {_org_core(o) for e in entries for o in e.affiliations} | {
        _org_core(o) for e in entries for o in e.contributors
    }
    org = _longest_mentioned(q, {o.lower() for o in orgs if len(o) >= 4})
    return next((o for o in orgs if o.lower() == org), None) if org else None


def _org_core(org: str) -> str:
    """'INLOGOV (Institute of Local Government Studies)' → 'INLOGOV'."""
    return re.sub(r"\s*\(.*\)\s*$", "", org).strip()


def _involves(entry: Entry, who: str) -> bool:
    w = who.lower()
    return any(w == p.lower() for p in entry.contributors) or any(
        w in o.lower() for o in entry.affiliations + entry.contributors
    )


def answer_from(meta: MetaQuery, question: str, chunks: dict[str, Chunk], scores: dict[str, float]) -> Answer:
    """List every matching entry, each with a citation to the passage (and the line) that shows the match."""
    if not meta.entries:
        within = " within the filters you set" if meta.filtered else ""
        text = f"No entry in the knowledge base{within} lists {meta.value!r} as a {meta.field}."
        return Answer(question, text, [], status="abstained", answerer="catalog")
    n = len(meta.entries)
    lead = {
        "contributor": f"{n} {'entry names' if n == 1 else 'entries name'} {meta.value} among the contributors:",
        "keyword": f"{n} {'entry has' if n == 1 else 'entries have'} the keyword “{meta.value}”:",
        "year": f"{n} {'entry' if n == 1 else 'entries'} ran in {meta.value}:",
    }[meta.field]
    lines = [lead]
    citations: list[Citation] = []
    for entry in meta.entries:
        chunk = _evidence_chunk(entry, meta, chunks)
        years = _years(entry)
        within = f" (a chapter of {entry.parent})" if entry.parent else ""
        if chunk is None:
            lines.append(f"• {entry.title}{years}{within}")
            continue
        citation = Citation(
            len(citations) + 1,
            chunk.source,
            entry.title,
            chunk.text,
            scores.get(chunk.id, 0.0),
            entry_id=entry.entry_id,
            highlights=[_matching_line(chunk.text, meta, entry)],
        )
        citations.append(citation)
        lines.append(f"• {entry.title}{years}{within} [{citation.n}]")
    return Answer(question, "\n".join(lines), citations, answerer="catalog", confidence=1.0)


def _matching_line(text: str, meta: MetaQuery, entry: Entry) -> tuple[int, int]:
    """Offsets of the line of a passage that shows why its entry is listed (else its first line)."""
    needle = {"contributor": meta.value, "keyword": meta.value, "year": str(entry.year_start)}[meta.field].lower()
    label = {"contributor": "contributed by", "keyword": "keywords", "year": ""}[meta.field]
    lines = list(re.finditer(r"[^\n]+", text))
    for wanted in (lambda t: needle in t and label in t, lambda t: needle in t):
        for line in lines:
            if wanted(line.group().lower()):
                return line.start(), line.end()
    return (lines[0].start(), lines[0].end()) if lines else (0, 0)


def evidence_chunk_ids(meta: MetaQuery) -> list[str]:
    return [cid for e in meta.entries for cid in e.chunk_ids]


def _evidence_chunk(entry: Entry, meta: MetaQuery, chunks: dict[str, Chunk]) -> Chunk | None:
    """The entry's passage that shows the match: its `Contributed by:`/`Keywords:` line if it has one."""
    available = [chunks[cid] for cid in entry.chunk_ids if cid in chunks]
    needle = {"contributor": meta.value, "keyword": meta.value, "year": str(entry.year_start)}[meta.field].lower()
    line = {"contributor": "contributed by", "keyword": "keywords", "year": ""}[meta.field]
    for wanted in (lambda t: needle in t and line in t, lambda t: needle in t):
        for chunk in available:
            if wanted(chunk.text.lower()):
                return chunk
    return available[0] if available else None


def _years(entry: Entry) -> str:
    if entry.year_start is None:
        return ""
    if entry.year_end is None:
        return f" ({entry.year_start}–present)"
    if entry.year_end != entry.year_start:
        return f" ({entry.year_start}–{entry.year_end})"
    return f" ({entry.year_start})"


class CatalogAnswerer:
    """Listing questions, answered from the catalogue of entries so that the list is complete, with filters applied."""

    name = "catalog"

    def __init__(self, context: Context) -> None:
        self.context = context

    def accepts(self, request: Request) -> bool:
        return self._match(request) is not None

    def _match(self, request: Request) -> MetaQuery | None:
        """Recognise the question against the whole catalogue, then keep the entries the filters let through
        (so a filter that excludes every match gives "none", not an unrecognised question)."""
        from kbqa.retrieve import Filters

        meta = match(request.question, self.context.entries(Filters()))
        if meta is not None and request.filters:
            meta = MetaQuery(meta.field, meta.value, [e for e in meta.entries if request.filters.matches_entry(e)])
            meta.filtered = True
        return meta

    def stream(self, request: Request) -> Iterator[Event]:
        started = time.perf_counter()
        meta = self._match(request)
        if meta is None:  # the index changed since `accepts`: nothing to list
            meta = MetaQuery("keyword", request.question, [])
        found = self.context.chunks(evidence_chunk_ids(meta))
        question = self.context.embedder.embed_one(request.question)
        scores = {cid: float(np.dot(vec, question)) for cid, (_, vec) in found.items() if vec is not None}
        retrieve_ms = (time.perf_counter() - started) * 1000
        answer = answer_from(meta, request.question, {cid: c for cid, (c, _) in found.items()}, scores)
        answer.timings = {"retrieve_ms": retrieve_ms, "answer_ms": (time.perf_counter() - started) * 1000 - retrieve_ms}
        yield TextDelta(answer.answer)
        yield Final(answer)
