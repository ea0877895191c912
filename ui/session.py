"""What one browser session keeps: its conversation with the knowledge base and the answers shown.

A `Session` lives in a gr.State, so each browser tab (and each API client) has its own; nothing
in it is shared between users. The `KnowledgeBase` it was created from is shared and thread-safe.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from kbqa import Answer, Conversation, Filters


@dataclass
class AskOptions:
    """How a question was asked: answer mode, retrieval depth, abstention level, filters."""

    llm: str | None = None  # None = extractive
    k: int | None = None
    abstain_threshold: float | None = None
    filters: Filters | None = None

    def describe(self) -> dict[str, Any]:
        """Plain JSON for feedback rows and exports; unset options are left out."""
        out: dict[str, Any] = {"answer_mode": self.llm or "extractive"}
        if self.k is not None:
            out["k"] = self.k
        if self.abstain_threshold is not None:
            out["abstain_threshold"] = self.abstain_threshold
        filters = filter_dict(self.filters)
        if filters:
            out["filters"] = filters
        return out


def filter_dict(filters: Filters | None) -> dict[str, Any]:
    """The filters that are set, by name."""
    if filters is None:
        return {}
    names = ("source", "keyword", "contributor", "year_from", "year_to")
    return {n: getattr(filters, n) for n in names if getattr(filters, n, None) not in (None, "")}


@dataclass
class Turn:
    """One question and its final answer, as shown in the chat."""

    question: str
    answer: Answer
    options: AskOptions
    seconds: float


@dataclass
class Session:
    """One browser session: its own conversation (follow-ups), the answers shown, feedback given."""

    conversation: Conversation
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    turns: list[Turn] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)  # the chat as shown (rendered HTML)
    message_turn: dict[int, int] = field(default_factory=dict)  # index of an answer's message → its turn
    rated: dict[int, str] = field(default_factory=dict)  # turn → "up" / "down"

    def questions_before(self, turn: int) -> list[str]:
        """The questions asked before answer `turn`, oldest first (an eval item's `history`)."""
        return [t.question for t in self.turns[:turn]]

    def turn(self, index: int) -> Turn | None:
        return self.turns[index] if 0 <= index < len(self.turns) else None
