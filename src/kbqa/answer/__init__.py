"""Answerers: each turns a `Request` into a stream of events that ends with a `Final(Answer)`.

They are registered by name in `ANSWERERS`. For each question the knowledge base asks the catalogue first
(it takes listing questions: "which projects did X contribute to?"), then the LLM answerer when an LLM
is configured, else the extractive one; a request may also name one. Adding an answerer is one module
with a class that follows `Answerer` and one line in `ANSWERERS`.

Answerers see the index only through a `Context` (retrieval, vectors, entries), so nothing here
imports the knowledge base itself: data flows one way.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol

from kbqa.errors import UsageError
from kbqa.schema import Chunk, Entry, Event, FollowUp, Hit

if TYPE_CHECKING:
    import numpy as np

    from kbqa.config import Settings
    from kbqa.index.embed import BaseEmbedder
    from kbqa.index.keyword import KeywordIndex
    from kbqa.retrieve import Filters

# name → "module:class"; imported on first use (the LLM answerer pulls in the openai client)
ANSWERERS: dict[str, str] = {
    "catalog": "kbqa.answer.catalog:CatalogAnswerer",
    "publications": "kbqa.answer.publications:PublicationAnswerer",
    "overview": "kbqa.answer.overview:OverviewAnswerer",
    "extractive": "kbqa.answer.extractive:ExtractiveAnswerer",
    "llm": "kbqa.answer.llm:LLMAnswerer",
}


@dataclass(frozen=True)
class Request:
    """One question to answer, resolved against its conversation, with validated options."""

    question: str  # as the user asked it
    follow: FollowUp  # the question as searched, and what the conversation was about
    k: int
    filters: Filters
    abstain_threshold: float
    llm: str | None = None  # preset name or base URL, for the LLM answerer
    turns: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # earlier (question, answer) pairs


class Context(Protocol):
    """What answerers may use of the knowledge base."""

    settings: Settings

    @property
    def embedder(self) -> BaseEmbedder: ...

    @property
    def keyword_index(self) -> KeywordIndex | None: ...

    def retrieve_for(self, follow: FollowUp, k: int, filters: Filters) -> list[Hit]: ...

    def entries(self, filters: Filters) -> list[Entry]: ...

    def chunks(self, ids: list[str]) -> dict[str, tuple[Chunk, np.ndarray | None]]: ...


class Answerer(Protocol):
    """Answers requests from a context; `accepts` is a cheap test of whether this answerer takes a question."""

    name: ClassVar[str]

    def __init__(self, context: Context) -> None: ...

    def accepts(self, request: Request) -> bool: ...

    def stream(self, request: Request) -> Iterator[Event]: ...


def answerer_class(name: str) -> type[Answerer]:
    """The registered answerer called `name`; UsageError for an unknown one."""
    target = ANSWERERS.get(name)
    if target is None:
        raise UsageError(f"unknown answerer {name!r}; use one of {', '.join(ANSWERERS)}")
    module, _, cls = target.partition(":")
    answerer: type[Answerer] = getattr(importlib.import_module(module), cls)
    return answerer
