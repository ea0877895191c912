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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kbqa.schema import Answer, FollowUp

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
MAX_CONTEXT_CHARS = 300


@dataclass(frozen=True)
class Turn:
    """One exchange, with what the conversation is about after it."""

    question: str
    answer: str
    standalone: str  # the question as searched
    topic: str | None = None  # title of the entry the conversation is about
    entry_ids: tuple[str, ...] = ()  # entries the conversation is about


def is_follow_up(question: str) -> bool:
    """Does the question lean on the conversation (pronouns, 'and ...', 'the second one')?"""
    return bool(_ANAPHORA.search(question) or _CONTINUATION.search(question) or _ORDINAL.search(question))


def resolve(question: str, turns: list[Turn]) -> FollowUp:
    """A follow-up carries the previous turn's question into retrieval and the conversation's entries
    into the candidates; any other question stands alone."""
    if not turns or not is_follow_up(question):
        return FollowUp(question)
    last = turns[-1]
    context = last.standalone[:MAX_CONTEXT_CHARS]
    about = context
    if last.topic and last.topic.lower() not in context.lower():
        about = f"{context} – {last.topic}"
    standalone = f"{question.rstrip().rstrip('?')} ({about[:MAX_CONTEXT_CHARS]})?"
    return FollowUp(standalone, context, last.topic, last.entry_ids)


def next_turn(answer: Answer, previous: Turn | None) -> Turn:
    """The turn an answer makes: its topic is the entries its citations point into (one rule for every
    answerer); without citations the conversation stays on the previous topic."""
    entry_ids = tuple(dict.fromkeys(c.entry_id for c in answer.citations if c.entry_id))
    topic = answer.citations[0].title if entry_ids else None
    if not entry_ids and previous is not None:
        topic, entry_ids = previous.topic, previous.entry_ids
    return Turn(answer.question, answer.answer, answer.standalone_question or answer.question, topic, entry_ids)


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
        follow = resolve(question, turns)
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
