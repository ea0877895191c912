"""Questions about the catalogue of entries, answered from their parsed metadata so that lists are complete.

"Which projects did Angie Hart contribute to?", "Which entries have the keyword X?", "Which projects ran
from 2014 to 2016?", "Which started in 2018?", "How many entries are in the knowledge base?", "List all
projects in Scotland", "Who contributed the Co-production for Sustainability entry?", "Which entries are
about participatory budgeting, and who contributed them?". Every entry listed is cited to the line that
shows why it is listed (its `Contributed by:` or `Keywords:` line, its dated title line, the line naming
the topic); a question that matches only in part says so.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np

from kbqa.answer import Context, Request
from kbqa.answer.entities import best_mentions
from kbqa.ingestion.records import MONTH
from kbqa.schema import Answer, Chunk, Citation, Entry, Event, Final, FollowUp, TextDelta
from kbqa.text import REFERS_BACK, sentence_spans, tokenize

_NOUNS = (
    r"projects?|entr(?:y|ies)|stud(?:y|ies)|publications?|programmes?|programs?|papers?|chapters?|initiatives?"
    r"|items?|works?|documents?"
)
# A listing question: "which projects …", "list the entries …", "which of the X publications …".
# (after a polite or conversational lead-in: "Can you list…", "I'm looking for every entry about…")
_LEAD_IN = (
    r"(?:(?:can|could|would|will) you (?:please )?|please |i(?:'m|’m| am) looking for |i(?:'d|’d| would) like "
    r"(?:to (?:see|know) )?|tell me |give me )?"
)
_LISTING = re.compile(
    rf"^\W*(?:and\s+)?{_LEAD_IN}(?:which|what|list(?: the| all)?|name(?: the| all)?|show(?: me)?(?: the| all)?"
    r"|find(?: the| all)?|every|all(?: the)?|a list of(?: the| all)?)"
    r"\s+(?:of (?:the|their|his|her)\s+)?(?:[\w/'’-]+\s+){0,2}?"
    rf"(?:{_NOUNS})\b",
    re.IGNORECASE,
)
# "How many entries/projects …" (a noun of the catalogue right after "how many"): a count of entries,
# unless the question names an entry ("How many work packages was the Imagine research …" is about its text).
_COUNTING = re.compile(
    r"\bhow many\s+(?:[\w'’-]+\s+)?(?:projects?|entr(?:y|ies)|programmes?|programs?|initiatives?|stud(?:y|ies))\b",
    re.IGNORECASE,
)
_CONTRIBUTORS_OF = re.compile(
    r"^\W*(?:and\s+)?who\s+(?:contributed|wrote|authored|submitted|added|compiled|supplied|sent in)\b"
    r"|\bwho (?:are|were|is|was) the contributors?\b|\bcontributors? (?:of|to|for)\b",
    re.IGNORECASE,
)
_WITH_CONTRIBUTORS = re.compile(
    r"\bwho contributed (?:them|these|those|each|it|they)\b|\b(?:and|with) (?:their|its|the) contributors\b"
    r"|\band who (?:contributed|wrote) (?:them|each)\b",
    re.IGNORECASE,
)
# "When did X end?", "When did it start?", "What years did X run?": the dates of one named entry.
_WHEN_RAN = re.compile(
    r"^\W*(?:and\s+)?(?:when\s+(?:did|does|was|were)|(?:in\s+)?what\s+years?\s+(?:did|was|were))\s+"
    r"(?P<subject>.+?)\s+(?P<verb>end|finish|close|start|begin|run|take place|launch)\b(?:\s+(?:for|from))?\W*$",
    re.IGNORECASE,
)
# "Until what year is X meant to run?", "Until when does X last?": when it ends.
_UNTIL_WHEN = re.compile(
    r"^\W*(?:and\s+)?(?:until|till|up to)\s+(?:when|what\s+year|which\s+year|what\s+date)\s+(?:is|was|does|did|will)\s+"
    r"(?P<subject>.+?)\s+(?:(?:meant|due|set|planned|expected|scheduled|going)\s+to\s+)?(?:run|last|continue|go on)\W*$",
    re.IGNORECASE,
)
# the question verbs of `_WHEN_RAN` that ask when an entry ended, or when it began
_END_VERBS = ("end", "finish", "close")
_START_VERBS = ("start", "begin", "launch")
_RELATION = re.compile(
    r"\bcontribut|\binvolv|\bworked on\b|\bwork on\b|\bled\b|\blead\b|\bauthor|\bwr[io]te?\b|\bwritten\b|\bby\b|\bfrom\b"
    r"|\bbased at\b|\bparticipat|\bpart of\b",
    re.IGNORECASE,
)
# "Which university is Steve Martin at?", "Where is Paul Ward based?", "What is Elke Loeffler's affiliation?":
# a contributor's affiliation, as their entry's "Contributed by:" line gives it.
_AFFILIATION_OF = re.compile(
    r"^\W*(?:and\s+)?(?:which|what)\s+(?:universit(?:y|ies)|organi[sz]ations?|institutions?|institutes?|employers?"
    r"|body|bodies)\s+(?:is|are|was|were|does|do|did)\s+(?P<who>.+?)\s+(?:at|with|from|in|based(?:\s+at|\s+in)?|work(?:ing)?\s+(?:at|for)|belong\s+to)\W*$"
    r"|^\W*(?:and\s+)?where\s+(?:is|was|does|did)\s+(?P<who2>.+?)\s+(?:based|work|from)\W*$"
    r"|^\W*(?:and\s+)?(?:what(?:\s+is|['’]s|\s+about)\s+)?(?P<who3>.+?)['’]s?\s+"
    r"(?:affiliation|university|organi[sz]ation|institution|employer)\W*$",
    re.IGNORECASE,
)
# "Which contributors are based at the University of Edinburgh?", "Who is from Newcastle University?": the
# people whose affiliation on a "Contributed by:" line names an organisation (found by `_mentioned_contributor`).
_PEOPLE_AT = re.compile(
    r"^\W*(?:and\s+)?(?:(?:which|what|list(?: the| all)?|name(?: the| all)?)\s+(?:of the\s+)?"
    r"(?:contributors?|people|persons|researchers?|authors?|academics?)|who)\s+(?:(?:is|are|was|were)\s+)?"
    r"(?:based\s+(?:at|in)|from|at|with|work(?:s|ed|ing)?\s+(?:at|for)|affiliated\s+with|listed\s+with)\b",
    re.IGNORECASE,
)
# "What keywords is X tagged with?", "list the keywords on X", "What is X tagged with?": one entry's keywords
# (not "Which entries have the keyword Y?", a listing).
_KEYWORDS_OF = re.compile(
    r"^\W*(?:and\s+)?(?:what|which|list|name|show|give)(?:\s+me)?(?:\s+(?:are|were|is))?(?:\s+(?:the|its|their|all))*"
    r"\s+(?:keywords?|tags?)\b|\bwhat\s+(?:keywords?|tags?)\b|\b(?:tagged|labell?ed)\s+(?:with|as)\W*$",
    re.IGNORECASE,
)
_SAYS_KEYWORD = re.compile(r"\bkey ?words?\b", re.IGNORECASE)
_LISTING_ENTRIES = re.compile(rf"\b(?:which|what|list|name|how many)\s+(?:of the\s+)?(?:{_NOUNS})\b", re.I)
_KEYWORD_INTENT = re.compile(r"\bkeywords?\b|\btag(?:ged|s)?\b|\blabell?ed\b", re.IGNORECASE)
_WHOLE_KB = re.compile(
    r"\b(?:in|of|from) (?:the |this )?(?:knowledge ?base|kb|catalogue|catalog|database|collection)\b", re.I
)
_ALL = re.compile(r"\ball\b|\bevery\b", re.IGNORECASE)
_TOPIC = re.compile(
    r"\b(?:about|on|in|concern(?:s|ing|ed)?|deal(?:s|ing|t)? with|related to|regarding|mention(?:s|ing)?|involving"
    r"|cover(?:s|ing)?|focus(?:ed|es|ing)? on|based in|located in|set in)\s+(?P<topic>[^?,;]+?)\s*(?:[?,;]|$)",
    re.IGNORECASE,
)
_Y = r"((?:19|20)\d\d)"
# an end, as "ends after 2019" / "finished before 2018" / "its end date later than 2019" say it
_ENDS = r"(?:end(?:ed|s|ing)?|end\s+date|finish(?:ed|es)?|close[sd]?|conclude[sd]?|completed|run(?:s|ning)?\s+(?:on\s+)?(?:until|to))"
_YEAR_SPECS: list[tuple[str, re.Pattern[str]]] = [
    ("exact", re.compile(rf"\bdated\s+(?:from\s+)?{_Y}\s*(?:[–—-]|to)\s*{_Y}\b", re.I)),
    ("overlap", re.compile(rf"\b(?:from|between)\s+{_Y}\s*(?:to|and|until|[–—-])\s*{_Y}\b|\b{_Y}\s*[–—-]\s*{_Y}\b", re.I)),
    ("start", re.compile(rf"\b(?:start(?:ed|ing)?|began|begin|launched|set up|founded|formed|established|opened)\s+(?:in\s+)?{_Y}\b", re.I)),
    ("ends after", re.compile(rf"\b{_ENDS}\s+(?:\w+\s+)?(?:after|later than|beyond|past)\s+{_Y}\b", re.I)),
    ("ends before", re.compile(rf"\b{_ENDS}\s+(?:\w+\s+)?(?:before|earlier than|prior to)\s+{_Y}\b", re.I)),
    ("end", re.compile(rf"\b(?:end(?:ed|ing)?|finish(?:ed)?|closed|conclude[sd]?|completed|wound up)\s+(?:in\s+)?{_Y}\b", re.I)),
    ("before", re.compile(rf"\b(?:start(?:ed)?|began|launched)?\s*(?:before|prior to)\s+{_Y}\b", re.I)),
    ("after", re.compile(rf"\b(?:start(?:ed)?|began|launched)?\s*(?:after|since|later than)\s+{_Y}\b", re.I)),
    ("during", re.compile(rf"\b(?:in|during|throughout|from)\s+{_Y}\b", re.I)),
]  # fmt: skip
MAX_LISTED = 40  # a longer list is cut, saying how many more there are
TOPIC_PASSAGES = 30  # passages searched for a topic ("in Scotland", "about health")

TopicSearch = Callable[[str], list[Entry]]


@dataclass
class YearSpec:
    """A time criterion: entries that ran during / overlapping / started / ended … in the years given."""

    kind: str  # exact | overlap | start | end | before | after | ends after | ends before | during
    first: int
    last: int

    def matches(self, e: Entry) -> bool:
        if e.year_start is None:
            return False
        start, end = e.year_start, e.year_end if e.year_end is not None else 9999
        return {
            "exact": start == self.first and end == self.last,
            "overlap": start <= self.last and end >= self.first,
            "during": start <= self.last and end >= self.first,
            "start": start == self.first,
            "end": e.year_end == self.first,
            "before": start < self.first,
            "after": start > self.first,
            "ends after": e.year_end is None or e.year_end > self.first,
            "ends before": e.year_end is not None and e.year_end < self.first,
        }[self.kind]

    def describe(self) -> str:
        span = str(self.first) if self.first == self.last else f"{self.first}–{self.last}"
        return {
            "exact": f"dated {span}",
            "overlap": f"ran at some point in {span}",
            "during": f"ran in {span}",
            "start": f"started in {span}",
            "end": f"ended in {span}",
            "before": f"started before {span}",
            "after": f"started after {span}",
            "ends after": f"end after {span}",
            "ends before": f"ended before {span}",
        }[self.kind]


def year_spec(question: str) -> YearSpec | None:
    """The time criterion of a listing question ("ran from 2014 to 2016" → overlap 2014–2016)."""
    for kind, pattern in _YEAR_SPECS:
        if m := pattern.search(question):
            years = [int(y) for y in m.groups() if y]
            first, last = min(years), max(years)
            return YearSpec(kind, first, last)
    return None


@dataclass
class MetaQuery:
    """A recognised catalogue question: the entries it selects, why (for the lead sentence), and how to answer."""

    field: str  # what the list shows: "contributor", "keyword", "year", "topic", "all", "contributors" (of entries),
    # "keywords of" (named entries), "dates" (of named entries)
    value: str  # the criteria, in words
    entries: list[Entry]
    filtered: bool = False  # the entries were narrowed by the request's filters
    count: bool = False  # "how many …": lead with the number
    with_contributors: bool = False  # list each entry's contributors too
    needles: list[str] = dataclasses.field(default_factory=list)  # what the cited line of each entry contains
    partial: str | None = None  # what part of the question matched nothing
    people: list[str] = dataclasses.field(default_factory=list)  # the contributors asked about ("affiliation")


def match(
    question: str, entries: list[Entry], topic_search: TopicSearch | None = None, focus: tuple[str, ...] = ()
) -> MetaQuery | None:
    """Recognise a catalogue question and select its entries (None: not a catalogue question). `focus`: the
    entries a follow-up is about ("Who contributed it?")."""
    if not entries:
        return None
    if _CONTRIBUTORS_OF.search(question) and not _LISTING.search(question):
        named = _named_or_in_focus(question, entries, focus) or _by_topic(question, topic_search)
        if named:
            return MetaQuery("contributors", "", named, with_contributors=True, needles=["contributed by"])
        return None
    if m := _AFFILIATION_OF.search(question):
        # "Which universities are Jon Burchell and Joe Cook from?": each person named
        asked = re.split(r",\s*(?:and\s+)?|\s+and\s+|\s*&\s*", m["who"] or m["who2"] or m["who3"])
        people = list(dict.fromkeys(p for p in (_person_named(a, entries) for a in asked) if p))
        if not people:
            return None
        lower = {p.lower() for p in people}
        named = [e for e in entries if any(p.lower() in lower for p in e.contributors)]
        needles = ["contributed by", people[0].lower()]
        return MetaQuery("affiliation", " and ".join(people), named, needles=needles, people=people)
    if _PEOPLE_AT.search(question):
        org = _mentioned_contributor(question, entries)
        if org and not any(org == p for e in entries for p in e.contributors):
            named = [e for e in entries if any(org.lower() in a.lower() for a in e.affiliations)]
            return MetaQuery("people at", org, named, needles=["contributed by"])
    if _KEYWORDS_OF.search(question) and not _LISTING_ENTRIES.search(question):
        named = _named_or_in_focus(question, entries, focus)
        # an entry without a Keywords line may still be tagged under another label (a research-council record's
        # "Sectors …" line): "which sectors is it tagged with?" is then left to its passages
        if named and (any(e.keywords for e in named) or _SAYS_KEYWORD.search(question)):
            return MetaQuery("keywords of", "", named, needles=["keywords"])
        return None
    when = _WHEN_RAN.search(question) or _UNTIL_WHEN.search(question)
    if when:
        subject, verb = when["subject"], when.groupdict().get("verb") or "end"  # ("until when": its end)
        named = _named_or_in_focus(subject, entries, focus)
        # Only dates read from an entry's title line, which states them exactly ("(August 2018 – June 2019)");
        # dates found in running text are less certain: the extractive answerer quotes that text instead.
        dated = [e for e in named if e.year_start is not None and e.dated_by == "title"]
        if verb.lower() in _END_VERBS:  # one year ("… (2013)") dates it, it does not say it ended
            dated = [e for e in dated if e.year_end != e.year_start]
        # every entry the question could mean has dates, and the question asks about the entry, not about
        # something its text describes ("the Welsh Government's Sustainable Development Change Programme" in
        # "Co-production for Sustainability": its text says when that began)
        if dated and len(dated) == len(named) and _names_the_entry(subject, dated):
            return MetaQuery("dates", verb.lower(), dated)
        return None
    listing, counting = _LISTING.search(question), _COUNTING.search(question)
    if not (listing or counting) or (counting and not listing and best_mentions(question, entries)):
        return None
    top = [e for e in entries if e.parent is None]
    criteria: list[tuple[str, str, Callable[[Entry], bool], list[str]]] = []  # (field, words, test, needles)
    q = question.lower()
    if _KEYWORD_INTENT.search(question):
        keyword = _longest_mentioned(q, {k.lower() for e in entries for k in e.keywords})
        if keyword:
            criteria.append(("keyword", f"have the keyword “{keyword}”", _has_keyword(keyword), [keyword, "keywords"]))
    who = _mentioned_contributor(question, entries) if _RELATION.search(question) else None
    if who:
        criteria.append(
            ("contributor", f"name {who} among the contributors", lambda e: _involves(e, who), [who.lower()])
        )
    headings = {_plain_dashes(e.section.lower()): e.section for e in entries if e.section}
    section = _longest_mentioned(_plain_dashes(q), set(headings))
    if section:  # "Which entries are listed under the 'Research – co-production practice' heading?"
        criteria.append(("section", f"are listed under “{headings[section]}”", _under(section), []))
    spec = year_spec(question)
    if spec:
        criteria.append(("year", spec.describe(), spec.matches, []))
    stripped = _WHOLE_KB.sub(" ", re.sub(rf"\b(?:in|from|to|during|since|before|after)\s+{_Y}\b", " ", question))
    topic_match = _TOPIC.search(stripped)
    if topic_match and not any(c[0] in ("keyword", "contributor") for c in criteria):
        topic = _clean_topic(topic_match["topic"])
        if section and section in _plain_dashes(topic.lower()):  # "on the 'Research – …' page": the heading
            topic = ""
        if topic and topic_search is not None:
            keyword = _longest_mentioned(topic.lower(), {k.lower() for e in entries for k in e.keywords})
            about = {e.entry_id for e in topic_search(topic)}
            about |= {e.entry_id for e in entries if keyword and keyword == topic.lower() and _has_keyword(keyword)(e)}
            if about or criteria:  # a topic nothing mentions: not a catalogue question after all
                criteria.append(("topic", f"mention {topic}", _in_entries(frozenset(about)), [topic.lower()]))
    if not criteria:
        if not (_WHOLE_KB.search(question) or (listing and _ALL.search(question))):
            return None
        chosen = top
        return MetaQuery(
            "all", "", chosen, count=bool(counting), with_contributors=bool(_WITH_CONTRIBUTORS.search(question))
        )
    pool = entries if any(c[0] in ("contributor", "keyword") for c in criteria) else top  # chapters have their own
    chosen = [e for e in pool if all(test(e) for _, _, test, _ in criteria)]
    partial = None
    if not chosen and len(criteria) > 1:
        alone = [(words, [e for e in pool if test(e)]) for _, words, test, _ in criteria]
        partial = "; ".join(
            f"{len(found)} {'entry' if len(found) == 1 else 'entries'} {words}" for words, found in alone
        )
    return MetaQuery(
        criteria[0][0] if len(criteria) == 1 else "+".join(c[0] for c in criteria),
        " and ".join(words for _, words, _, _ in criteria),
        chosen,
        count=bool(counting),
        with_contributors=bool(_WITH_CONTRIBUTORS.search(question)),
        needles=[n for c in criteria for n in c[3]],
        partial=partial,
    )


def _clean_topic(topic: str) -> str:
    topic = re.sub(r"^(?:the|a|an)\s+", "", topic.strip(), flags=re.I)
    topic = re.sub(r"\s+(?:projects?|entries|studies|programmes?)$", "", topic, flags=re.I)
    return topic.strip(" .")


def _has_keyword(keyword: str) -> Callable[[Entry], bool]:
    """A criterion: the entry has this keyword, in any inflection ("public service reforms" too)."""
    stems = _stems(keyword)
    return lambda e: any(_stems(k) == stems for k in e.keywords)


def _stems(phrase: str) -> tuple[str, ...]:
    return tuple(tokenize([phrase])[0])


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


_ENTRY_ON = re.compile(
    r"\b(?:entry|entries|project|study|report|briefing|work|research)\s+(?:on|about|into|concerning)\s+"
    r"(?:the\s+)?(?P<topic>[^?,;]+?)\s*(?:[?,;]|$)",
    re.I,
)
MAX_BY_TOPIC = 3  # "Who contributed the entry on the citizens' jury?": at most this many entries about it


def asks_with_contributors(question: str) -> bool:
    """ "Which projects ran in 2018, and who contributed them?": one catalogue listing, each entry with its
    contributors — not two questions."""
    return bool(_WITH_CONTRIBUTORS.search(question))


def _by_topic(question: str, topic_search: TopicSearch | None) -> list[Entry]:
    """The entries "the entry on <topic>" means, found by what they are about, when there are few of them."""
    m = _ENTRY_ON.search(question)
    if m is None or topic_search is None:
        return []
    found = topic_search(m["topic"])
    return found if len(found) <= MAX_BY_TOPIC else []


def _named_or_in_focus(text: str, entries: list[Entry], focus: tuple[str, ...]) -> list[Entry]:
    """The entries `text` names; else, if it refers back ("it", "the project"), the entry a follow-up is about."""
    named = best_mentions(text, entries)
    if not named and focus and REFERS_BACK.search(text):
        named = [e for e in entries if e.entry_id in focus][:1]
    return named


# Words that name what kind of thing an entry is, not which one ("the Imagine project").
_GENERIC = set(tokenize(["project programme study entry work research initiative trial scheme"])[0])


def _names_the_entry(subject: str, entries: list[Entry]) -> bool:
    """`subject` (what a "when did … start" question asks about) is one of `entries` by name: at least half of
    its words are in the entry's title, not a thing its text describes in words of its own."""
    words = set(tokenize([subject])[0]) - _GENERIC
    return not words or any(len(words & set(tokenize([e.title])[0])) * 2 >= len(words) for e in entries)


def _person_named(text: str, entries: list[Entry]) -> str | None:
    """The contributor `text` names: by full name, or by a surname only one contributor has ("Martin")."""
    people = {p for e in entries for p in e.contributors if " " in p.strip()}
    full = _longest_mentioned(text.lower(), {p.lower() for p in people})
    if full:
        return next(p for p in people if p.lower() == full)
    words = set(re.findall(r"[\w'’-]+", text))  # a surname alone must be capitalised ("Ward", not "ward")
    by_surname = {p for p in people if p.split()[-1] in words}
    return by_surname.pop() if len(by_surname) == 1 else None


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
        what = meta.value or f"list {meta.field}"
        text = f"No entry in the knowledge base{within} matches: {what}."
        if meta.partial:
            text += f" Taken one at a time: {meta.partial}."
        return Answer(question, text, [], status="abstained", answerer="catalog")
    n = len(meta.entries)
    if meta.field == "contributors" and n == 1:
        return _contributors_of(meta.entries[0], meta, question, chunks, scores)
    if meta.field == "dates":
        return _dates_of(meta, question, chunks, scores)
    if meta.field == "keywords of":
        return _keywords_of(meta, question, chunks, scores)
    if meta.field == "affiliation":
        return _affiliation_of(meta, question, chunks, scores)
    if meta.field == "people at":
        return _people_at(meta, question, chunks, scores)
    lines = [_lead(meta, n)]
    citations: list[Citation] = []
    for entry in meta.entries[:MAX_LISTED]:
        chunk = _evidence_chunk(entry, meta, chunks)
        item = f"• {entry.title}{_years(entry)}" + (f" (a chapter of {entry.parent})" if entry.parent else "")
        if meta.with_contributors:
            item += f" — {_people(entry)}"
        if chunk is None:
            lines.append(item)
            continue
        citation = _cite(len(citations) + 1, entry, chunk, meta, scores)
        citations.append(citation)
        lines.append(f"{item} [{citation.n}]")
    if n > MAX_LISTED:
        lines.append(f"… and {n - MAX_LISTED} more.")
    return Answer(question, "\n".join(lines), citations, answerer="catalog", confidence=1.0)


def _lead(meta: MetaQuery, n: int) -> str:
    entries = "entry" if n == 1 else "entries"
    if meta.field == "contributors":
        return "Contributed by:" if n == 1 else "The contributors of each entry:"
    if meta.field == "all":
        return f"The knowledge base has {n} {entries}:"
    verb = meta.value
    if n == 1:  # "1 entry names …", "1 entry has …"
        verb = re.sub(r"(^|\band )(name|mention)\b", r"\1\2s", re.sub(r"(^|\band )have\b", r"\1has", verb))
    return f"{n} {entries} {verb}:"


def _contributors_of(
    entry: Entry, meta: MetaQuery, question: str, chunks: dict[str, Chunk], scores: dict[str, float]
) -> Answer:
    """'Who contributed X?' for one entry: one sentence, cited to its `Contributed by:` line."""
    chunk = _evidence_chunk(entry, meta, chunks)
    text = (
        f"“{entry.title}” was contributed by {_people(entry)}."
        if entry.contributors
        else f"The entry “{entry.title}” names no contributor."
    )
    if chunk is None:
        return Answer(question, text, [], answerer="catalog", confidence=1.0)
    return Answer(question, f"{text} [1]", [_cite(1, entry, chunk, meta, scores)], answerer="catalog", confidence=1.0)


def _dates_of(meta: MetaQuery, question: str, chunks: dict[str, Chunk], scores: dict[str, float]) -> Answer:
    """'When did X end?' for the entries it names: one sentence each, quoting and citing its dated title line."""
    sentences: list[str] = []
    citations: list[Citation] = []
    for entry in meta.entries[:MAX_LISTED]:
        sentence = f"“{entry.title}” {_ran(entry, meta.value)}."
        chunk = _evidence_chunk(entry, meta, chunks)
        if chunk is not None:
            citations.append(_cite(len(citations) + 1, entry, chunk, meta, scores))
            start, end = citations[-1].highlights[0]
            sentence = f"{sentence[:-1]}: {chunk.text[start:end].strip()} [{len(citations)}]"  # the exact dates, quoted
        sentences.append(sentence)
        finer = _finer_date(entry, meta.value, chunks)
        if finer is not None:  # the entry's text dates it to the month: quoted too, with its own citation
            fchunk, (start, end) = finer
            same = next((c for c in citations if c.source == fchunk.source and c.text == fchunk.text), None)
            if same is None:
                same = Citation(len(citations) + 1, fchunk.source, entry.title, fchunk.text, scores.get(fchunk.id, 0.0),
                                entry_id=entry.entry_id)  # fmt: skip
                citations.append(same)
            same.highlights.append((start, end))
            sentences.append(f"{fchunk.text[start:end].strip()} [{same.n}]")
    return Answer(question, " ".join(sentences), citations, answerer="catalog", confidence=1.0)


_SAID_STARTED = r"\b(?:began|begun|started|launched|commenced|set up|established)\b"
_SAID_ENDED = r"\b(?:ended|finished|completed|closed|concluded)\b"


def _finer_date(entry: Entry, verb: str, chunks: dict[str, Chunk]) -> tuple[Chunk, tuple[int, int]] | None:
    """A sentence of the entry saying it began (or ended) in a month of the year its title line gives ("…
    began in May 2012" for "(2012 – 2032)"), or a line of the entry that is only a month and that year
    ("December 2018", the date of a briefing), with its offsets; None when its text says no more than the title."""
    if verb in _START_VERBS:
        years, verbs = [entry.year_start], _SAID_STARTED
    elif verb in _END_VERBS:
        years, verbs = [entry.year_end], _SAID_ENDED
    else:
        years, verbs = [entry.year_start, entry.year_end], None
    for year in dict.fromkeys(y for y in years if y is not None):
        said = re.compile(rf"{verbs}[^.]*?\b{MONTH}\s+{year}\b", re.I) if verbs else None
        line = re.compile(rf"^[ \t]*(?:\d{{1,2}}\s+)?{MONTH}\s+{year}[ \t]*$", re.I | re.M)
        for chunk in (chunks[cid] for cid in entry.chunk_ids if cid in chunks):
            for start, end in sentence_spans(chunk.text):
                if said is not None and said.search(chunk.text[start:end]):
                    return chunk, (start, end)
            m = line.search(chunk.text)
            if m:
                return chunk, (m.start() + len(m[0]) - len(m[0].lstrip()), m.end())
    return None


def _keywords_of(meta: MetaQuery, question: str, chunks: dict[str, Chunk], scores: dict[str, float]) -> Answer:
    """'What keywords is X tagged with?' for the entries it names: one sentence each, citing its Keywords line."""
    sentences: list[str] = []
    citations: list[Citation] = []
    for entry in meta.entries[:MAX_LISTED]:
        if not entry.keywords:
            sentences.append(f"“{entry.title}” has no keywords in the knowledge base.")
            continue
        sentence = f"“{entry.title}” is tagged with: {', '.join(entry.keywords)}."
        chunk = _evidence_chunk(entry, meta, chunks)
        if chunk is not None and "keywords" in chunk.text.lower():
            citations.append(_cite(len(citations) + 1, entry, chunk, meta, scores))
            sentence = f"{sentence} [{len(citations)}]"
        sentences.append(sentence)
    return Answer(question, " ".join(sentences), citations, answerer="catalog", confidence=1.0)


def _affiliation_of(meta: MetaQuery, question: str, chunks: dict[str, Chunk], scores: dict[str, float]) -> Answer:
    """Each asked contributor's affiliation, quoted from the "Contributed by:" line of the first entry that gives
    one; a person with none is said to have none."""
    sentences: list[str] = []
    citations: list[Citation] = []
    for who in meta.people:
        found = next(((e, f) for e in meta.entries if (f := _affiliation_line(e, who, meta, chunks))), None)
        if found is None:
            listed = next((e.title for e in meta.entries if who in e.contributors), None)
            among = f" among the contributors of “{listed}”" if listed else ""
            sentences.append(f"The knowledge base names {who}{among} but gives no affiliation for them.")
            continue
        entry, (chunk, line, affiliation, group) = found
        same = next((c for c in citations if (c.source, c.text) == (chunk.source, chunk.text)), None)
        if same is None:
            same = _cite(len(citations) + 1, entry, chunk, meta, scores)
            citations.append(same)
        if re.search(rf"{re.escape(who)}\s*[–—-]", line):
            sentences.append(f"{who}: {affiliation}, as the contributors of “{entry.title}” list them. [{same.n}]")
        else:  # "A, B – Org": say it is shared
            sentences.append(
                f"{who}: {affiliation}, the affiliation that the contributors of “{entry.title}” give "
                f"after {', '.join(group)} together. [{same.n}]"
            )
    if not citations:
        return Answer(question, " ".join(sentences), [], status="abstained", answerer="catalog")
    return Answer(question, " ".join(sentences), citations, answerer="catalog", confidence=1.0)


def _affiliation_line(
    entry: Entry, who: str, meta: MetaQuery, chunks: dict[str, Chunk]
) -> tuple[Chunk, str, str, list[str]] | None:
    """The passage and "Contributed by:" line of `entry` giving `who` an affiliation, the affiliation, and everyone
    the line gives it to; None when the entry gives `who` none."""
    found = _contributed_line(entry, meta, chunks)
    at = affiliations(entry, found[1]) if found else {}
    affiliation = at.get(who)
    if found is None or affiliation is None:
        return None
    return found[0], found[1], affiliation.rstrip("."), [p for p, a in at.items() if a == affiliation]


def _people_at(meta: MetaQuery, question: str, chunks: dict[str, Chunk], scores: dict[str, float]) -> Answer:
    """'Which contributors are at X?': every person whose affiliation names X, with the entries that list
    them so, each cited to its "Contributed by:" line."""
    org = meta.value.lower()
    people: dict[str, list[str]] = {}  # person → citation markers
    citations: list[Citation] = []
    for entry in meta.entries[:MAX_LISTED]:
        found = _contributed_line(entry, meta, chunks)
        at = [p for p, aff in affiliations(entry, found[1]).items() if org in aff.lower()] if found else []
        if found is None or not at:
            continue
        citations.append(_cite(len(citations) + 1, entry, found[0], meta, scores))
        for person in at:
            people.setdefault(person, []).append(f"[{len(citations)}]")
    if not people:
        text = f"The knowledge base lists no contributor with {meta.value}."
        return Answer(question, text, [], status="abstained", answerer="catalog")
    lead = f"{len(people)} contributor{'s are' if len(people) > 1 else ' is'} listed with {meta.value}:"
    items = [f"• {person} {' '.join(marks)}" for person, marks in people.items()]
    return Answer(question, "\n".join([lead, *items]), citations, answerer="catalog", confidence=1.0)


def _contributed_line(entry: Entry, meta: MetaQuery, chunks: dict[str, Chunk]) -> tuple[Chunk, str] | None:
    """The entry's passage holding its "Contributed by:" line, and that line (None if it has none)."""
    chunk = _evidence_chunk(entry, meta, chunks)
    line = next((ln for ln in chunk.text.splitlines() if "contributed by" in ln.lower()), None) if chunk else None
    return (chunk, line) if chunk is not None and line is not None else None


def affiliations(entry: Entry, line: str) -> dict[str, str]:
    """Each contributor's affiliation as the entry's "Contributed by:" `line` gives it: "A – Org" gives A
    Org; "A, B – Org" gives both Org (people listed before a shared affiliation); "A, Org" at the end too."""
    spots = sorted((line.find(p), p) for p in entry.contributors if p in line)
    out: dict[str, str] = {}
    waiting: list[str] = []
    for i, (pos, person) in enumerate(spots):
        end = spots[i + 1][0] if i + 1 < len(spots) else len(line)
        after = line[pos + len(person) : end].strip(" ,;")
        waiting.append(person)
        dash = re.match(r"^[–—-]\s*(?P<aff>.+)$", after)
        last = i + 1 == len(spots)
        if dash or (last and after):
            for p in waiting:
                out[p] = (dash["aff"] if dash else after).strip(" ,;")
            waiting = []
    return out


def _ran(entry: Entry, verb: str) -> str:
    """What the knowledge base records of an entry's dates, in the words of the question's verb."""
    start, end = entry.year_start, entry.year_end
    if end is None:
        return f"started in {start} and is still running"
    if verb in _END_VERBS and end != start:
        if end >= date.today().year:  # "Co-production for Sustainability (2012 – 2032)" has not ended yet
            return f"runs until {end} (it started in {start})"
        return f"ended in {end} (it ran from {start})"
    if verb in _START_VERBS:
        runs = "runs" if end >= date.today().year else "ran"
        return f"started in {start}" + (f" and {runs} until {end}" if end != start else "")
    return f"ran from {start} to {end}" if end != start else f"is dated {start}"


def _people(entry: Entry) -> str:
    people = ", ".join(entry.contributors) or "no contributor named"
    return people + (f" ({', '.join(entry.affiliations)})" if entry.affiliations else "")


def _needles(meta: MetaQuery, entry: Entry) -> list[str]:
    return [*meta.needles, *([str(entry.year_start)] if entry.year_start else []), entry.title.lower()[:40]]


def _matching_line(text: str, meta: MetaQuery, entry: Entry) -> tuple[int, int]:
    """Offsets of the line of a passage that shows why its entry is listed (else its first line)."""
    lines = list(re.finditer(r"[^\n]+", text))
    for needle in _needles(meta, entry):
        for line in lines:
            if needle and needle in line.group().lower():
                return line.start(), line.end()
    return (lines[0].start(), lines[0].end()) if lines else (0, 0)


def _cite(n: int, entry: Entry, chunk: Chunk, meta: MetaQuery, scores: dict[str, float]) -> Citation:
    """Citation `n`: the entry's passage, its line that shows the match highlighted."""
    return Citation(
        n, chunk.source, entry.title, chunk.text, scores.get(chunk.id, 0.0), entry_id=entry.entry_id,
        highlights=[_matching_line(chunk.text, meta, entry)],
    )  # fmt: skip


def evidence_chunk_ids(meta: MetaQuery) -> list[str]:
    return [cid for e in meta.entries[:MAX_LISTED] for cid in e.chunk_ids]


def _evidence_chunk(entry: Entry, meta: MetaQuery, chunks: dict[str, Chunk]) -> Chunk | None:
    """The entry's passage that shows the match: its `Contributed by:`/`Keywords:`/dated line if it has one."""
    available = [chunks[cid] for cid in entry.chunk_ids if cid in chunks]
    for needle in _needles(meta, entry):
        for chunk in available:
            if needle and needle in chunk.text.lower():
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
    """Catalogue questions, answered from the entries' metadata so that lists are complete, filters applied."""

    name = "catalog"

    def __init__(self, context: Context) -> None:
        self.context = context

    def accepts(self, request: Request) -> bool:
        return self._match(request) is not None

    def _match(self, request: Request) -> MetaQuery | None:
        """Recognise the question against the whole catalogue, then keep the entries the filters let through
        (so a filter that excludes every match gives "none", not an unrecognised question)."""
        from kbqa.retrieve import Filters

        entries = self.context.entries(Filters())
        meta = match(
            request.question, entries, lambda topic: self.entries_about(topic, entries), request.follow.entry_ids
        )
        if meta is not None and request.filters:
            meta.entries = [e for e in meta.entries if request.filters.matches_entry(e)]
            meta.filtered = True
        return meta

    def entries_about(self, topic: str, entries: list[Entry]) -> list[Entry]:
        """Entries with a passage (among the best for `topic`) that contains every word of it."""
        from kbqa.retrieve import Filters

        return entries_about(self.context, topic, entries, Filters())

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
        if request.follow.standalone != request.question:
            answer.standalone_question = request.follow.standalone
        answer.timings = {"retrieve_ms": retrieve_ms, "answer_ms": (time.perf_counter() - started) * 1000 - retrieve_ms}
        yield TextDelta(answer.answer)
        yield Final(answer)


def entries_about(
    context: Context, topic: str, entries: list[Entry], filters: object, k: int = TOPIC_PASSAGES
) -> list[Entry]:
    """Entries with a passage among the `k` best for `topic` that contains every word of it (stemmed), in
    order of their best passage; or whose keywords include the topic."""
    words = set(tokenize([topic])[0])
    if not words:
        return []
    hits = context.retrieve_for(FollowUp(topic), k, filters)  # type: ignore[arg-type]
    by_id = {e.entry_id: e for e in entries}
    out: dict[str, Entry] = {}
    for hit in hits:
        entry_id = hit.chunk.metadata.get("entry_id")
        if entry_id in by_id and words <= set(tokenize([hit.chunk.embed_text])[0]):
            out.setdefault(entry_id, by_id[entry_id])
    tagged = _has_keyword(topic)
    for e in entries:
        if tagged(e):
            out.setdefault(e.entry_id, e)
    return list(out.values())


def _plain_dashes(text: str) -> str:
    return re.sub(r"\s*[–—-]\s*", " - ", text)


def _under(section: str) -> Callable[[Entry], bool]:
    """A criterion: the entry is listed under this page heading (dashes of any kind)."""
    return lambda e: e.section is not None and _plain_dashes(e.section.lower()) == section


def _in_entries(ids: frozenset[str]) -> Callable[[Entry], bool]:
    """A criterion that selects the entries with these ids."""
    return lambda e: e.entry_id in ids
