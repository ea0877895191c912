"""Overviews, broad questions and comparisons: answers drawn from several places, each point cited.

- "Tell me about X" / "What is X?" where X names an entry (or a publication with a section of its own):
  the entry's opening sentences — what it is — not whichever sentence happens to score best.
- "What does the knowledge base say about health?", "Tell me about What Works Scotland", "What are the
  main barriers to co-production?": one cited point per entry that speaks of the topic (ranked, bounded).
- "Compare A and B", "How does A differ from B in …", "Which started earlier, A or B?": each side answered
  on its own (its opening sentences, or the sentence that answers the asked aspect for it), both cited.
Sentences are quoted verbatim, as in extractive answers; only the entry titles that label points are added.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from kbqa.answer import Context, Request
from kbqa.answer.catalog import entries_about
from kbqa.answer.entities import best_mentions
from kbqa.answer.extractive import Candidate, Extractive, _is_title_line, _line_at, _section, cite
from kbqa.schema import Answer, Citation, Entry, Event, Final, FollowUp, Hit, TextDelta
from kbqa.text import (
    addresses_the_model,
    answer_type,
    instructions_notice,
    is_overview,
    line_kind,
    normalize_space,
    sentence_spans,
    sentences,
    tokenize,
)

OVERVIEW_WORDS = 45  # an entry's opening: sentences until this many words (at most OVERVIEW_SENTENCES)
OVERVIEW_SENTENCES = 3
MAX_POINTS = 5  # entries in a broad answer
TOPIC_PASSAGES = 30

_BROAD = re.compile(
    r"^\W*(?:what (?:does|do|did) (?:the |this )?(?:knowledge ?base|kb|entries|documents|sources|corpus|collection)"
    r" (?:say|tell(?: us)?|contain|have|hold|know|report)(?: about| on| regarding)?"
    r"|what (?:is|has been) (?:known|said|written|reported) (?:about|on)"
    r"|(?:what|which) (?:are|were) the (?:main|key|biggest|most common|common|major)\s+(?P<noun>[\w-]+)\s+(?:of|to|in|for|on|with)"
    r"|summari[sz]e what .{3,60}? (?:says?|said) about)\s+(?P<topic>[^?]{2,80}?)\s*\??$",
    re.IGNORECASE,
)
_COMPARE = re.compile(
    r"^\W*(?:compare|contrast)\s+(?P<a>.+?)\s+(?:and|with|to|versus|vs\.?)\s+(?P<b>.+?)\W*$"
    r"|^\W*(?:how|in what ways?) (?:does|do|did) (?P<a2>.+?) differ from (?P<b2>.+?)(?P<aspect2> in .+?)?\W*$"
    r"|^\W*what (?:is|are) the differences? between (?P<a3>.+?) and (?P<b3>.+?)\W*$",
    re.IGNORECASE,
)
_COMPARE_ALL = re.compile(
    r"^\W*compare (?:the )?(?:two|both|all)\s+(?P<name>.+?)\s+(?:entries|projects|studies)\b", re.I
)
_WHICH_OF_TWO = re.compile(
    r"^\W*which (?:one |project |study |entry |programme )?(?P<how>started earlier|started first|began earlier|began first"
    r"|started later|began later|is older|was older|is newer|has the longer|had the longer|ran longer|lasted longer"
    r"|has the shorter|had the shorter|covered more|covers more|had more|has more|involved more|was bigger|is bigger)"
    r"(?:\s+(?P<what>[^:,]+?)\s*[:,]|\s*[:,]?)\s+(?:the\s+)?(?P<a>.+?),?\s+or\s+(?:the\s+)?(?P<b>.+?)\W*$",
    re.IGNORECASE,
)


@dataclass
class Point:
    """One cited point of an answer: sentences (of one passage) and the label shown before them."""

    label: str | None
    sentences: list[Candidate]
    ranked: list[Candidate] = field(default_factory=list)  # the point's other candidates, best first


@dataclass
class Plan:
    """What kind of overview a question asks for, and its parts."""

    kind: str  # "entries" (named entries' openings), "topic" (one point per entry), "compare"
    entries: list[Entry] = field(default_factory=list)
    topic: str | None = None
    sides: list[str] = field(default_factory=list)
    aspect: str | None = None  # for comparisons: the question asked of each side


def plan(question: str, entries: list[Entry]) -> Plan | None:
    """Recognise an overview, broad or comparison question (None: not one)."""
    if m := _COMPARE_ALL.search(question):
        named = best_mentions(m["name"], entries)
        return Plan("entries", named) if len(named) >= 2 else None
    if m := _WHICH_OF_TWO.search(question):
        return Plan("compare", sides=[m["a"], m["b"]], aspect=_aspect(m["how"].lower(), m["what"]))
    if m := _COMPARE.search(question):
        a, b = (m["a"] or m["a2"] or m["a3"]), (m["b"] or m["b2"] or m["b3"])
        aspect = (m["aspect2"] or "").strip()[3:] or None
        return Plan("compare", sides=[a.strip(), b.strip()], aspect=aspect)
    if m := _BROAD.search(question):
        topic = re.sub(r"^(?:the|a|an)\s+", "", m["topic"].strip(), flags=re.I)
        if m["noun"]:
            topic = f"{m['noun']} {topic}"
        named = best_mentions(topic, entries)
        return Plan("entries", named) if named else Plan("topic", topic=topic)
    if is_overview(question):
        subject = _overview_topic(question)
        named = _by_years(question, best_mentions(question, entries))
        if named:
            extra = _beyond_title(subject or question, named[0])
            if len(extra) > 1:
                return None  # "What is the web address of the Imagine website?" asks for more than a description
            return Plan("entries", named[:2], topic=" ".join(extra) or None)
        return Plan("topic", topic=subject) if subject else None
    return None


# Words that say what kind of thing an entry is ("the Imagine project", "the … policy briefing"): they do not
# ask for anything beyond a description of it.
_KIND_WORDS = set(
    tokenize(
        ["project projects entry entries programme program study research book report briefing policy paper "
         "initiative work scheme trial article chapter volume knowledge base kb"]
    )[0]
)  # fmt: skip


def _beyond_title(text: str, entry: Entry) -> list[str]:
    """The words of an overview's object that neither its entry's title, its years nor a kind word account for
    ("the Imagine project that ran from 2013 to 2017")."""
    years = {str(y) for y in (entry.year_start, entry.year_end) if y}
    words = set(tokenize([text])[0]) - set(tokenize([entry.title])[0]) - _KIND_WORDS - _TIME_WORDS
    return sorted(w for w in words if w not in years)


_TIME_WORDS = set(tokenize(["ran run running started began ended lasted active from to until between"])[0])


def _by_years(question: str, named: list[Entry]) -> list[Entry]:
    """Of several entries a question names alike ("Imagine"), those whose years it gives, if it gives any."""
    years = {int(y) for y in re.findall(r"\b(?:19|20)\d\d\b", question)}
    if len(named) < 2 or not years:
        return named
    dated = [e for e in named if e.year_start is not None and years <= {e.year_start, e.year_end or e.year_start}]
    return dated or named


def _aspect(how: str, what: str | None) -> str:
    """The question asked of each side of "which started earlier, A or B?"."""
    if "start" in how or "began" in how:
        return "When did it start?"
    if "older" in how or "newer" in how:
        return "When was it published?"
    if "longer" in how or "shorter" in how:
        return "How long did it run?"
    return f"How many {(what or '').strip() or 'people'} did it involve?"


def _overview_topic(question: str) -> str | None:
    m = re.search(
        r"(?:tell me (?:more )?about|describe|summari[sz]e|overview of|what (?:is|are|was|were))\s+(?P<t>[^?]+?)"
        r"(?:\s+about)?\W*$",
        question,
        re.I,
    )
    return re.sub(r"^(?:the|a|an)\s+", "", m["t"].strip(), flags=re.I) if m else None


class OverviewAnswerer:
    """Overviews of named entries, broad topics across entries, and comparisons of two sides."""

    name = "overview"

    def __init__(self, context: Context) -> None:
        self.context = context

    def accepts(self, request: Request) -> bool:
        return self._plan(request) is not None

    def _plan(self, request: Request) -> Plan | None:
        if request.follow.context is not None:
            return None  # a follow-up ("tell me more about it") is answered in its conversation
        return plan(request.question, self.context.entries(request.filters))

    def stream(self, request: Request) -> Iterator[Event]:
        started = time.perf_counter()
        found = self._plan(request)
        points: list[Point] = []
        if found is not None and found.kind == "entries":
            label = len(found.entries) > 1
            points = [p for e in found.entries if (p := self.opening(e, request.question, label, found.topic))]
        elif found is not None and found.kind == "topic" and found.topic:
            points = self.topic_points(request, found.topic)
        elif found is not None and found.kind == "compare":
            points = [p for side in found.sides if (p := self.side(request, side, found.aspect))]
            if len(points) < len(found.sides):
                points = []  # both sides or nothing: a one-sided comparison is no comparison
        answer = self._compose(request, points)
        answer.timings = {"retrieve_ms": 0.0, "answer_ms": (time.perf_counter() - started) * 1000}
        yield TextDelta(answer.answer)
        yield Final(answer)

    def _compose(self, request: Request, points: list[Point]) -> Answer:
        if not points:  # nothing of the kind found: the extractive answer (or its refusal)
            from kbqa.answer.extractive import ExtractiveAnswerer

            answer, _ = ExtractiveAnswerer(self.context).answer(request)
            return answer
        by_chunk: dict[str, Citation] = {}
        lines = []
        for p in points:
            body = " ".join(f"{normalize_space(c.text)} [{cite(c, by_chunk).n}]" for c in p.sentences)
            lines.append(f"• {short_title(p.label)}: {body}" if p.label else body)
        text = "\n".join(lines)
        answer = Answer(request.question, text, list(by_chunk.values()), answerer="overview", confidence=1.0)
        chunks = {c.hit.chunk.id: c.hit.chunk for p in points for c in p.sentences}.values()
        flagged = sum(addresses_the_model(s) for chunk in chunks for s in sentences(chunk.text))
        if flagged:  # sentences of the quoted passages that address an AI model were left out
            answer.notice = instructions_notice(flagged)
        return answer

    # ------------------------------------------------------------ the three kinds of point
    def opening(self, entry: Entry, question: str, label: bool = False, about: str | None = None) -> Point | None:
        """An entry's opening prose sentences (not its title line, dates, fields or headings) — or, when the
        question qualifies the entry ("the … policy briefing on … in Scotland"), from the first sentence that
        speaks of the qualifier."""
        found = self.context.chunks(entry.chunk_ids[:3])
        vector = self.context.embedder.embed_one(question)
        prose: list[Candidate] = []
        for chunk, vec in (found[c] for c in entry.chunk_ids[:3] if c in found):
            hit = Hit(chunk=chunk, score=1.0, dense=float(vec @ vector) if vec is not None else None)
            for order, (s, e) in enumerate(sentence_spans(chunk.text)):
                piece = chunk.text[s:e]
                if (
                    addresses_the_model(piece)
                    or _is_title_line(piece, chunk.title, _section(chunk))
                    or line_kind(_line_at(chunk.text, s, e)) != "prose"
                    or any(c.text == piece for c in prose)
                ):
                    continue
                prose.append(Candidate(text=piece, hit=hit, order=order, start=s))
        start = 0
        if about:
            start = next((i for i, c in enumerate(prose) if _mentions(c.text, about)), 0)
        picked: list[Candidate] = []
        words = 0
        for cand in prose[start:]:
            if picked and cand.hit.chunk.id != picked[0].hit.chunk.id:
                break  # one passage
            picked.append(cand)
            words += len(cand.text.split())
            if words >= OVERVIEW_WORDS or len(picked) >= OVERVIEW_SENTENCES:
                break
        return Point(entry.title if label else None, picked) if picked else None

    def topic_points(self, request: Request, topic: str) -> list[Point]:
        """One point per entry that speaks of `topic`: its best sentence containing the topic's words."""
        entries = self.context.entries(request.filters)
        about = entries_about(self.context, topic, entries, request.filters, TOPIC_PASSAGES)[:MAX_POINTS]
        if not about:
            return []
        extractive = self._extractive(request)
        hits = self.context.retrieve_for(FollowUp(topic), TOPIC_PASSAGES, request.filters)
        points = []
        for entry in about:
            mine = [h for h in hits if h.chunk.metadata.get("entry_id") == entry.entry_id]
            ranked = extractive.ranked(topic, mine) if mine else []  # ranked for the topic itself
            cands = [c for c in ranked if _mentions(c.text, topic)]
            if cands:
                points.append(Point(entry.title, [cands[0]], cands))
        if len(points) == 1:  # a topic of one entry: its best sentences, as an extractive answer gives them
            points = [Point(None, extractive.select(points[0].ranked))]
        return points

    def side(self, request: Request, side: str, aspect: str | None) -> Point | None:
        """One side of a comparison: the opening of the entry it names, or the sentence answering the aspect."""
        entries = self.context.entries(request.filters)
        named = best_mentions(side, entries)
        if aspect is None and named:
            return self.opening(named[0], request.question, label=True)
        question = f"{aspect.rstrip('?')} – {side}?" if aspect else side
        if aspect and re.search(r"\b(?:it|its)\b", aspect):
            question = re.sub(r"\bits\b", f"{side}'s", re.sub(r"\bit\b", side, aspect, count=1), count=1)
        extractive = self._extractive(request)
        hits = self.context.retrieve_for(FollowUp(question), request.k, request.filters)
        if named:  # the named entry's own passages first
            ids = {e.entry_id for e in named}
            hits = [h for h in hits if h.chunk.metadata.get("entry_id") in ids] or hits
        cands = extractive.ranked(question, hits)
        if not cands:
            return None
        verdict = extractive.judge(question, hits, cands)
        if verdict.missing and answer_type(question):
            return None
        return Point(side[:1].upper() + side[1:], [cands[0]])

    def _extractive(self, request: Request) -> Extractive:
        ctx = self.context
        return Extractive(ctx.settings, ctx.embedder, ctx.keyword_index, request.abstain_threshold)


LABEL_CHARS = 80


def short_title(title: str) -> str:
    """A title short enough to label a point: cut at a word boundary with an ellipsis."""
    if len(title) <= LABEL_CHARS:
        return title
    return title[: title.rfind(" ", 0, LABEL_CHARS)].rstrip(" ,.:;") + " …"


def _mentions(sentence: str, topic: str) -> bool:
    words = set(tokenize([topic])[0])
    return bool(words) and words <= set(tokenize([sentence])[0])
