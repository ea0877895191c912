"""Conversations: turning a follow-up ("who coordinated it?") into a question that stands alone.

Without an LLM, a follow-up carries the previous turn's question and topic into
retrieval, and the passages of the entries the previous answer cited into the
candidates. With an LLM, `kbqa.llm` rewrites the follow-up from the history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kbqa.schema import Answer

_ANAPHORA = re.compile(
    r"\b(it|its|it's|they|them|their|theirs|this|that|these|those|he|him|his|she|her|hers|there|the same|the former|the latter"
    r"|the project|the programme|the program|the study|the report|the entry|the research|the paper|the briefing|the book"
    r"|the chapter|the strand|the trial|the work)\b",
    re.IGNORECASE,
)
_CONTINUATION = re.compile(
    r"^\s*(and|also|what about|how about|and what|and who|and when|and where|why|how so|what else)\b", re.I
)
MAX_CONTEXT_CHARS = 300
_ORDINAL = re.compile(r"\b(first|second|third|fourth|fifth|last|other|next|previous) one\b", re.I)


@dataclass
class Turn:
    """One exchange of a conversation, as kept for the next question."""

    question: str
    standalone: str
    answer: str
    topic: str | None = None  # title of the entry the answer came from
    entry_ids: list[str] = field(default_factory=list)  # entries its citations point into


@dataclass
class FollowUp:
    """A question resolved against the conversation."""

    standalone: str  # what retrieval searches for
    context: str | None = None  # the earlier question it leans on (weighs less than the question itself)
    topic: str | None = None  # the title of the entry the previous answer came from
    entry_ids: list[str] = field(default_factory=list)  # entries the previous answer came from


def is_follow_up(question: str) -> bool:
    """Does the question lean on the conversation (pronouns, 'and ...', 'the second one')?"""
    return bool(_ANAPHORA.search(question) or _CONTINUATION.search(question) or _ORDINAL.search(question))


def carry_over(question: str, history: list[Turn]) -> FollowUp:
    """A follow-up carries the previous turn's question into retrieval and its entries into the candidates."""
    if not history or not is_follow_up(question):
        return FollowUp(question)
    last = history[-1]
    context = last.standalone[:MAX_CONTEXT_CHARS]
    about = context
    if last.topic and last.topic.lower() not in context.lower():
        about = f"{context} – {last.topic}"
    return FollowUp(
        f"{question.rstrip().rstrip('?')} ({about[:MAX_CONTEXT_CHARS]})?", context, last.topic, list(last.entry_ids)
    )


def turns_from_messages(messages: list[dict[str, Any]] | None) -> list[Turn]:
    """OpenAI-style messages → turns. User messages may carry "standalone_question";
    assistant messages "topic" and "entry_ids" (as `Conversation.messages()` writes them)."""
    turns: list[Turn] = []
    pending: dict[str, Any] | None = None
    for msg in messages or []:
        role = msg.get("role")
        if role == "user":
            if pending is not None:
                turns.append(_turn(pending, {}))
            pending = msg
        elif role == "assistant" and pending is not None:
            turns.append(_turn(pending, msg))
            pending = None
    if pending is not None:
        turns.append(_turn(pending, {}))
    return turns


def _turn(user: dict[str, Any], assistant: dict[str, Any]) -> Turn:
    question = str(user.get("content", ""))
    return Turn(
        question=question,
        standalone=str(user.get("standalone_question") or question),
        answer=str(assistant.get("content", "")),
        topic=assistant.get("topic"),
        entry_ids=list(assistant.get("entry_ids") or []),
    )


@dataclass
class Conversation:
    """Keeps the turns of one chat; `messages()` is the history to pass to `kbqa.ask`."""

    turns: list[Turn] = field(default_factory=list)

    def add(self, answer: Answer) -> None:
        self.turns.append(
            Turn(
                answer.question,
                answer.standalone_question or answer.question,
                answer.answer,
                answer.topic,
                answer.entry_ids,
            )
        )

    def messages(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for t in self.turns:
            out.append({"role": "user", "content": t.question, "standalone_question": t.standalone})
            out.append({"role": "assistant", "content": t.answer, "topic": t.topic, "entry_ids": t.entry_ids})
        return out
