"""Conversations: follow-ups ("who coordinated it?") resolved against what the conversation is about.

A `Conversation` keeps its turns and, for each, the entries the answer came from. One rule decides
a turn's topic: the entries its citations point into, in citation order (the first names the topic);
an answer without citations leaves the topic as it was. A follow-up then searches with the previous
question as context and is answered from the topic's entries first (without an LLM); with an LLM,
the follow-up is rewritten by the model from the history.

The history is OpenAI-style messages, so a conversation can be saved and restored; kbqa's state
rides along in an optional "kbqa" key of each assistant message. Plain messages work too: a
turn's topic is then found by searching the index for its answer text (if it cited anything).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from kbqa.answer.entities import head
from kbqa.answer.verify import closest_sentence
from kbqa.schema import Answer, Citation, Final, FollowUp, TextDelta
from kbqa.text import without_override

if TYPE_CHECKING:
    from kbqa.api import AnswerStream, KnowledgeBase

_ANAPHORA = re.compile(
    r"\b(it|its|it's|they|them|their|theirs|this|that|these|those|he|him|his|she|her|hers|there|the same|the former|the latter"
    r"|the project|the programme|the program|the study|the report|the entry|the research|the paper|the briefing|the book"
    r"|the chapter|the strand|the trial|the work)\b",
    re.IGNORECASE,
)
_CONTINUATION = re.compile(
    r"^\s*(and|also|what about|how about|and what|and who|and when|and where|why|how so|what else)\b", re.I
)
_ORDINAL = re.compile(r"\b(first|second|third|fourth|fifth|last|other|next|previous) one\b", re.I)
_WHICH_ONE = re.compile(r"\b(?:which|that|this|the|each|either) one\b|\bwhich of (?:them|these|those)\b", re.I)
# An elliptical question leans on the last answer: "Which publisher?", "Across how many projects?" — a few
# words, opening with a wh-word or a preposition, with no verb and no name of its own.
_ELLIPTICAL = re.compile(
    r"^\W*(?:and |but |so )?(?:which|what|whose|who|how many|how much|how long|across|for|in|from|with|by|at)\b", re.I
)
_VERBISH = re.compile(
    r"\b(?:is|are|was|were|be|been|being|did|does|do|has|have|had|can|could|will|would|should|may|might|[a-z]{3,}ed)\b",
    re.I,
)
ELLIPTICAL_WORDS = 5
DEFINITE_WORDS = 6
MAX_CONTEXT_CHARS = 300


@dataclass(frozen=True)
class Turn:
    """One exchange, with what the conversation is about after it."""

    question: str
    answer: str
    standalone: str  # the question as searched
    topic: str | None = None  # title of the entry the conversation is about
    entry_ids: tuple[str, ...] = ()  # entries the conversation is about
    citations: tuple[Citation, ...] = field(default=(), compare=False)  # of its answer (kept in memory only)
    relied_on: str | None = None  # an LLM's answer: the passage sentence its first sentence rewords
    quoted: str | None = None  # an LLM's answer: the extractive answer it rewords (see `Answer.quoted`)


def is_follow_up(question: str) -> bool:
    """Does the question lean on the conversation (pronouns, 'and ...', 'the second one', 'which one',
    or an elliptical 'Which publisher?')?"""
    return bool(
        _ANAPHORA.search(question)
        or _CONTINUATION.search(question)
        or _ORDINAL.search(question)
        or _WHICH_ONE.search(question)
        or is_elliptical(question)
        or is_definite_short(question)
    )


def is_definite_short(question: str) -> bool:
    """'Who were the authors?', 'Where was the event held?': a short question about "the" something, with no
    name of its own to say which — the one the conversation is about."""
    return (
        _short_and_unnamed(question, DEFINITE_WORDS)
        and re.search(r"(?<![\w'’-])the(?![\w'’-])", question, re.I) is not None  # "the" as a word of its own
        and not re.search(r"['‘“\"]\w", question)
    )


def is_elliptical(question: str) -> bool:
    """'Which publisher?', 'Across how many projects?': a fragment that only makes sense after an answer."""
    return (
        _short_and_unnamed(question, ELLIPTICAL_WORDS)
        and bool(_ELLIPTICAL.match(question))
        and not _VERBISH.search(question)
    )


def _short_and_unnamed(question: str, most: int) -> bool:
    """At most `most` words, none after the first capitalised: a question with no name of its own."""
    words = re.findall(r"[\w'’-]+", question)
    return 0 < len(words) <= most and not any(w[0].isupper() for w in words[1:])


_SUBJECT_PRONOUN = re.compile(
    r"\b(?:it|the (?:project|programme|program|study|entry|research|initiative|scheme|trial|work|briefing|report|book))\b",
    re.I,
)


_PERSONAL = re.compile(r"\b(?:he|him|his|she|her|hers)\b", re.I)
_PERSONAL_SUBJECT = re.compile(r"\b(?:he|she|him)\b", re.I)
_POSSESSIVE = re.compile(r"\b(?:his|her)\b", re.I)
# A person an answer names: after a title ("Professor Kate Pahl"), or a two- or three-word name after
# "by" ("co-ordinated by Angie Hart").
_HONORIFIC = r"(?:Professor|Prof\.?|Dr\.?|Mrs?\.?|Ms\.?)"
_PERSON = re.compile(
    rf"\b{_HONORIFIC}\s+(?P<titled>[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+){{1,2}})"
    rf"|\bby\s+(?:{_HONORIFIC}\s+)?(?P<after_by>[A-Z][a-z][\w'’-]*(?:\s+[A-Z][a-z][\w'’-]*){{1,2}})\b"
)


def _with_person(question: str, person: str) -> str:
    """ "Where is she based?" → "Where is Kate Pahl based?"; "What is her affiliation?" → "… Kate Pahl’s …"."""
    q = question.strip()
    if not _PERSONAL_SUBJECT.search(q):
        q = _POSSESSIVE.sub(f"{person}’s", q)
    return _PERSONAL_SUBJECT.sub(person, q)


def _person_in(answer: str) -> str | None:
    """The first person the answer names (see `_PERSON`), or None."""
    m = _PERSON.search(answer)
    return (m["titled"] or m["after_by"]) if m else None


_OPENING = re.compile(r"\s*(.+?)\s*\[\d+\]")  # an answer's first sentence, up to its citation marker


def resolve(question: str, turns: list[Turn]) -> FollowUp:
    """A follow-up carries the previous turn's question into retrieval and the conversation's entries into
    the candidates; any other question stands alone. The standalone question is one plain sentence: "it"
    replaced by the name of the entry in focus ("When did it end?" → "When did Marlow Fen Water Voices
    end?"), else that name added once — never the earlier questions nested inside each other."""
    if not turns or not is_follow_up(question):
        return FollowUp(question)
    last = turns[-1]
    said = last.quoted or last.answer  # what the answer quoted, however an LLM worded it
    person = _person_in(said) if _PERSONAL.search(question) else None
    if person:  # "Where is she based?" after "… by Professor Kate Pahl": a question of its own about her
        return FollowUp(_with_person(question, person))
    context = last.standalone[:MAX_CONTEXT_CHARS]
    opened = _OPENING.match(said)
    anchor = (opened[1] if opened else None) if last.quoted else last.relied_on or (opened[1] if opened else None)
    return FollowUp(standalone_question(question, last), context, last.topic, last.entry_ids, anchor)


def standalone_question(question: str, last: Turn) -> str:
    """The follow-up as one plain question about the conversation's topic (or its last question)."""
    q = question.strip()
    if last.topic:
        name = head(last.topic)
        if re.search(r"\bits\b", q, re.I) or _SUBJECT_PRONOUN.search(q):
            q = re.sub(r"\bits\b", f"{name}’s", q, count=1, flags=re.I)
            return _SUBJECT_PRONOUN.sub(name, q, count=1)
        about = name
    else:
        about = re.sub(r"\s*\([^()]*\)\s*\??$", "", last.question).strip().rstrip("?")
    return f"{q.rstrip('?').rstrip()} ({about[:MAX_CONTEXT_CHARS]})?"


def next_turn(answer: Answer, previous: Turn | None) -> Turn:
    """The turn an answer makes: its topic is the entries its citations point into (one rule for every
    answerer); without citations the conversation stays on the previous topic, and an answer citing
    several entries, the previous topic's among them, keeps that topic first (a list does not move it)."""
    entry_ids = tuple(dict.fromkeys(c.entry_id for c in answer.citations if c.entry_id))
    topic = answer.citations[0].title if entry_ids else None
    if not entry_ids and previous is not None:
        topic, entry_ids = previous.topic, previous.entry_ids
    elif previous is not None and previous.entry_ids and len(entry_ids) > 1 and previous.entry_ids[0] in entry_ids:
        kept = previous.entry_ids[0]
        topic, entry_ids = previous.topic, (kept, *(e for e in entry_ids if e != kept))
    standalone = answer.standalone_question or answer.question
    return Turn(
        answer.question,
        answer.answer,
        standalone,
        topic,
        entry_ids,
        tuple(answer.citations),
        _relied_on(answer),
        answer.quoted,
    )


def _relied_on(answer: Answer) -> str | None:
    """For an LLM's answer, the passage sentence its first sentence rewords (the one the extractive answer
    it was written from opened with); None for answers that quote."""
    opened = _OPENING.match(answer.answer)
    if answer.answerer != "llm" or not answer.citations or not opened:
        return None
    span = closest_sentence(opened[1], answer.citations[0].text)
    return answer.citations[0].text[span[0] : span[1]] if span else None


_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "last": -1}
_ITEM = re.compile(r"^•\s*(?P<text>.+?)\s*\[(?P<n>\d+)\]\s*$")
# "the second one", "the last of those sources", "the third of them"
_PICK = re.compile(r"\b(?P<ord>first|second|third|fourth|fifth|last) (?:one|of (?:those|these|them|the)\b)", re.I)
# a sentence of the last answer that numbers its items inline: "four sources: 1) desk research, 2) dialogue
# with our advisory group, … and 4) pilots with three implementation sites. [1]"
_NUMBERED = re.compile(
    r"(?:^|[\s:;,(])\(?(?P<i>[1-9])\)\s*(?P<text>.+?)(?=,?\s*(?:and\s+)?\(?[1-9]\)\s|[.;]?\s*\[\d+\]|$)"
)
_CITED = re.compile(r"(?P<sentence>[^\[\]]+?)\s*\[(?P<n>\d+)\]")


def _listed_items(answer: str) -> list[tuple[str, int]]:
    """The items of the last answer, with their citation numbers: its bullet lines, else the items of a
    sentence that numbers them inline ("1) …, 2) … and 3) …")."""
    items = [(m["text"], int(m["n"])) for line in answer.split("\n") if (m := _ITEM.match(line.strip()))]
    if len(items) >= 2:
        return items
    for cited in _CITED.finditer(answer):
        found = list(_NUMBERED.finditer(cited["sentence"]))
        if len(found) >= 2 and [int(m["i"]) for m in found] == list(range(1, len(found) + 1)):
            return [(re.sub(r"[\s,;.]*(?:\b(?:and|or)\b)?[\s,;.]*$", "", m["text"]), int(cited["n"])) for m in found]
    return []


def from_previous_list(question: str, last: Turn | None) -> Answer | None:
    """'and the second one?', 'the last of those sources?', 'Which one came out in 2016?' after an answer that
    listed items (bullets, or "1) …, 2) …" in a sentence): the item, with the citation it had. None when the
    question picks no single item of the last answer."""
    if last is None or not last.citations:
        return None
    items = _listed_items(last.answer)
    if len(items) < 2:
        return None
    ordinal = _PICK.search(question)
    if ordinal:
        index = _ORDINALS[ordinal["ord"].lower()]
        if index >= len(items):
            return None
        picked, lead = items[index], f"The {ordinal['ord'].lower()} one is "
    elif _WHICH_ONE.search(question):
        clues = _clues(_WHICH_ONE.split(question, maxsplit=1)[-1])
        matching = [item for item in items if clues and all(c in item[0].lower() for c in clues)]
        if len(matching) != 1:
            return None
        picked, lead = matching[0], ""
    else:
        return None
    old = next((c for c in last.citations if c.n == picked[1]), None)
    if old is None:
        return None
    citation = replace(old, n=1, highlights=list(old.highlights))
    text = f"{lead}{picked[0].rstrip('.')}. [1]"
    return Answer(question, text[0].upper() + text[1:], [citation], answerer=_LIST_ANSWERER, confidence=1.0)


_LIST_ANSWERER = "catalog"  # an item of a listed answer is catalogue data


def _clues(predicate: str) -> list[str]:
    """What must appear in the picked item: years, numbers and names of the question's predicate."""
    return [w.lower() for w in re.findall(r"\b\d{2,4}\b|\b[A-Z][\w'’-]+", predicate)]


class Conversation:
    """One chat: `ask`/`ask_stream` answer in the context of the earlier turns and record the new one.

    Make one per user session; it is safe to use from several threads, turns are recorded in order.
    """

    def __init__(self, kb: KnowledgeBase, turns: list[Turn] | None = None) -> None:
        self.kb = kb
        self.turns: list[Turn] = list(turns or [])
        self._lock = threading.Lock()

    def ask(self, question: str, **options: Any) -> Answer:
        """Answer a question of this conversation (options as `KnowledgeBase.ask`)."""
        return self.ask_stream(question, **options).answer

    def ask_stream(self, question: str, **options: Any) -> AnswerStream:
        """Stream the answer; the turn is recorded when the stream's final answer arrives."""
        with self._lock:
            turns = list(self.turns)
        follow = resolve(without_override(question)[0], turns)
        picked = from_previous_list(question, turns[-1]) if turns and follow.context is not None else None
        if picked is not None:
            from kbqa.api import AnswerStream  # the engine imports this module: import it when used

            picked.standalone_question = follow.standalone
            return AnswerStream(iter([TextDelta(picked.answer), Final(picked)]), self._record)
        pairs = tuple((t.question, t.answer) for t in turns)
        return self.kb.stream(question, follow=follow, turns=pairs, on_final=self._record, **options)

    def _record(self, answer: Answer) -> None:
        with self._lock:
            self.turns.append(next_turn(answer, self.turns[-1] if self.turns else None))

    def reset(self) -> None:
        """Forget every turn ("New conversation")."""
        with self._lock:
            self.turns.clear()

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The history as OpenAI-style messages; assistant messages carry kbqa's state under "kbqa"."""
        out: list[dict[str, Any]] = []
        for t in self.turns:
            out.append({"role": "user", "content": t.question})
            state = {"standalone_question": t.standalone, "topic": t.topic, "entry_ids": list(t.entry_ids)}
            out.append({"role": "assistant", "content": t.answer, "kbqa": state})
        return out

    @classmethod
    def from_messages(cls, kb: KnowledgeBase, messages: list[dict[str, Any]]) -> Conversation:
        """Restore a conversation from `messages` (as `.messages` wrote them, or plain role/content ones)."""
        turns: list[Turn] = []
        pending: str | None = None
        for msg in messages:
            if msg.get("role") == "user":
                pending = str(msg.get("content", ""))
            elif msg.get("role") == "assistant" and pending is not None:
                turns.append(_restored_turn(kb, pending, msg, turns[-1] if turns else None))
                pending = None
        return cls(kb, turns)


def _restored_turn(kb: KnowledgeBase, question: str, msg: dict[str, Any], previous: Turn | None) -> Turn:
    content = str(msg.get("content", ""))
    state = msg.get("kbqa")
    if isinstance(state, dict):
        return Turn(
            question,
            content,
            str(state.get("standalone_question") or question),
            state.get("topic"),
            tuple(state.get("entry_ids") or ()),
        )
    standalone = resolve(question, [previous] if previous else []).standalone
    plain = re.sub(r"\s*\[\d+\]", "", content)
    hits = kb.retrieve(plain, k=1) if re.search(r"\[\d+\]", content) else []  # an answer that cited something
    if not hits:  # nothing to locate it by: the conversation stays on the previous topic
        return Turn(
            question, content, standalone, previous.topic if previous else None, previous.entry_ids if previous else ()
        )
    chunk = hits[0].chunk
    return Turn(question, content, standalone, chunk.title, (str(chunk.metadata.get("entry_id")),))
