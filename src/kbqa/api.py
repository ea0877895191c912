"""The public Python API: one `KnowledgeBase` that the CLI, the UI and the evals all call.

import kbqa
kbqa.ingest()                                   # corpus/ → index (incremental)
a = kbqa.ask("Which universities are partners in Phase 2?")
print(a.answer, a.citations[0].source)
for piece in kbqa.ask_stream("...", llm="llamacpp"):   # str deltas, then the final Answer
    ...
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kbqa.answer import catalog
from kbqa.answer.extractive import Extractive
from kbqa.config import Settings, configure_offline, get_settings
from kbqa.conversation import FollowUp, carry_over, turns_from_messages
from kbqa.errors import LLMError, UsageError
from kbqa.index.store import Store
from kbqa.ingestion.pipeline import Progress, ingest
from kbqa.llm.client import Reset
from kbqa.retrieve import Filters, Retriever
from kbqa.schema import Answer, Chunk, Hit, IngestReport
from kbqa.text import content_words

MAX_QUESTION_CHARS = 2000
NOTHING_TO_LOOK_UP = (
    'Please ask something specific: name a project, a person, a place or a topic, e.g. "Who led the Imagine project?"'
)


class KnowledgeBase:
    """An index plus the machinery to answer from it; cheap to create, loads models on first use."""

    def __init__(self, settings: Settings | None = None) -> None:
        configure_offline()
        self.settings = settings or get_settings()
        self.store = Store(self.settings)
        self.retriever = Retriever(self.settings, self.store)

    # ------------------------------------------------------------ indexing
    def ingest(
        self, paths: list[Path] | None = None, progress: Progress | None = None, wait: bool = False
    ) -> IngestReport:
        """Index new and changed files under `paths` (default: the corpus folder); drop deleted ones.

        With `wait`, wait for another ingest of the same data folder to finish instead of failing."""
        report = ingest(self.settings, paths, progress, wait=wait)
        self.store.reload_manifest()
        return report

    def is_empty(self) -> bool:
        self.store.sync()
        return not self.store.manifest.files

    def ensure_index(self, progress: Progress | None = None) -> IngestReport | None:
        """Build the index from the corpus folder if there is none yet (so a first `ask` just works)."""
        if self.is_empty():  # several processes may start on an empty index at once: all wait for one build
            return self.ingest(progress=progress, wait=True)
        return None

    def sources(self) -> list[dict[str, Any]]:
        """Indexed files with their entry and chunk counts."""
        return [
            {
                "source": source,
                "title": (info.get("entries") or [{}])[0].get("title", ""),
                "entries": len(info.get("entries", [])),
                "chunks": info["chunks"],
                "path": info["path"],
            }
            for source, info in sorted(self.store.manifest.files.items())
        ]

    # ------------------------------------------------------------ asking
    def retrieve(
        self, question: str, k: int | None = None, where: Filters | list[str] | None = None, mode: str = "hybrid"
    ) -> list[Hit]:
        self.store.sync()
        return self.retriever.search(question, k, _filters(where), mode)

    def follow_up(self, question: str, history: list[dict[str, Any]] | None) -> FollowUp:
        """The question resolved against the conversation without an LLM (topic carry-over)."""
        return carry_over(question, turns_from_messages(history))

    def standalone(self, question: str, history: list[dict[str, Any]] | None) -> str:
        return self.follow_up(question, history).standalone

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        where: Filters | list[str] | None = None,
        history: list[dict[str, Any]] | None = None,
        llm: str | None = None,
    ) -> Answer:
        """Answer `question` with citations; `history` is earlier turns as {"role", "content"} messages."""
        final = None
        for piece in self.ask_stream(question, k=k, where=where, history=history, llm=llm):
            if isinstance(piece, Answer):
                final = piece
        assert final is not None
        return final

    def ask_stream(
        self,
        question: str,
        *,
        k: int | None = None,
        where: Filters | list[str] | None = None,
        history: list[dict[str, Any]] | None = None,
        llm: str | None = None,
    ) -> Iterator[str | Reset | Answer]:
        """Yield the answer's text as it is produced (str pieces), then the final `Answer`.

        With an LLM, a `Reset` may come between pieces: discard the text so far (a retry follows).
        """
        question = _check_question(question)
        filters = _filters(where)
        self.ensure_index()
        if not content_words(question) and not (history and re.search(r"[^\W\d_]", question)):
            # "???", "What?": nothing to look up (but "Why?" or "Tell me more" after an answer is a follow-up)
            answer = Answer(question, NOTHING_TO_LOOK_UP, [], True)
            yield answer.answer
            yield answer
            return
        llm_name = llm or self.settings.llm
        answer = self._catalog_answer(question, filters)
        if answer is None and llm_name:
            yield from self._generate(question, k, filters, history, llm_name)
            return
        if answer is None:
            answer, _ = self._sentence_answer(question, self.follow_up(question, history), k, filters)
        yield answer.answer
        yield answer

    def extractive(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Filters | None = None,
        history: list[dict[str, Any]] | None = None,
    ) -> Answer:
        """The no-LLM answer: catalogue lookup for listing questions, else the best cited sentences."""
        answer = self._catalog_answer(question, filters)
        if answer is None:
            answer, _ = self._sentence_answer(question, self.follow_up(question, history), k, filters)
        return answer

    def _catalog_answer(self, question: str, filters: Filters | None) -> Answer | None:
        """Listing questions ("which projects did X contribute to?") answered from entry metadata."""
        started = time.perf_counter()
        meta = catalog.match(question, self._entries(filters))
        if meta is None:
            return None
        chunks = {cid: chunk for cid, (chunk, _) in self.store.get(catalog.evidence_chunk_ids(meta)).items()}
        answer = catalog.answer(meta, question, chunks)
        answer.timings = {"retrieve_ms": (time.perf_counter() - started) * 1000, **answer.timings}
        answer.entry_ids = [e.entry_id for e in meta.entries]
        return answer

    def _sentence_answer(
        self, question: str, follow: FollowUp, k: int | None, filters: Filters | None
    ) -> tuple[Answer, list[Hit]]:
        """Retrieve for the (resolved) question and pick the best cited sentences, or abstain."""
        started = time.perf_counter()
        hits = self.retrieve_for(follow, k, filters)
        retrieve_ms = (time.perf_counter() - started) * 1000
        answer = self.answerer().answer(question, hits, context=follow.context)
        answer.timings = {"retrieve_ms": retrieve_ms, **answer.timings}
        if follow.standalone != question:
            answer.standalone_question = follow.standalone
        self._set_topic(answer, hits)
        return answer, hits

    def _generate(
        self, question: str, k: int | None, filters: Filters | None, history: list[dict[str, Any]] | None, llm: str
    ) -> Iterator[str | Reset | Answer]:
        """The LLM path: condense a follow-up, retrieve, gate on the extractive answer, generate, verify."""
        from kbqa.answer import llm as generate
        from kbqa.answer.verify import Verifier
        from kbqa.llm.client import LLMClient, resolve

        client = LLMClient(resolve(self.settings, llm))
        follow = self.follow_up(question, history)
        asked = question
        if follow.context is not None:
            turns = [(t.question, t.answer) for t in turns_from_messages(history)]
            try:
                rewritten = generate.condense(client, question, turns, self.settings.history_tokens, follow.standalone)
            except LLMError:
                rewritten = follow.standalone  # the answer step meets the same failure and reports it
            if rewritten != follow.standalone:  # the model resolved the reference: search for its question
                follow, asked = FollowUp(rewritten), rewritten
        fallback, hits = self._sentence_answer(asked, follow, k, filters)
        fallback.question, fallback.standalone_question = question, follow.standalone
        yield from generate.stream_answer(
            follow.standalone, hits, fallback, client, Verifier(self.retriever.sentence_embedder)
        )

    def retrieve_for(self, follow: FollowUp, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        """Hits for a (resolved) question. A follow-up is answered from the entries the conversation
        is about: their passages, best-matching first."""
        hits = self.retrieve(follow.standalone, k, filters)
        if not follow.entry_ids:
            return hits
        entry = [h for h in hits if h.chunk.metadata.get("entry_id") in follow.entry_ids]
        seen = {h.chunk.id for h in entry}
        low = min((h.score for h in entry), default=hits[0].score if hits else 1.0)
        rest = [Hit(chunk=c, score=low) for c in self.store.chunks_of_entries(follow.entry_ids) if c.id not in seen]
        seen |= {h.chunk.id for h in rest}
        return entry + rest + [h for h in hits if h.chunk.id not in seen]

    def _set_topic(self, answer: Answer, hits: list[Hit]) -> None:
        """Remember what the answer was about, for the next follow-up."""
        if answer.abstained:
            return
        cited = {c.text for c in answer.citations}
        chunks = [h.chunk for h in hits if h.chunk.text in cited] or [h.chunk for h in hits[:1]]
        answer.topic = topic_of(chunks[0]) if chunks else None
        answer.entry_ids = list(dict.fromkeys(c.metadata.get("entry_id") for c in chunks if c.metadata.get("entry_id")))

    def answerer(self) -> Extractive:
        return Extractive(self.settings, self.retriever.sentence_embedder, self.retriever.keyword_index)

    def _entries(self, filters: Filters | None):  # noqa: ANN202
        entries = self.store.manifest.entries()
        if filters and filters.source:
            entries = [e for e in entries if e.source == filters.source]
        return entries


def topic_of(chunk: Chunk) -> str:
    """A short name for what a passage is about: its entry title, plus the section for plain documents."""
    section = chunk.metadata.get("section")
    if section and "year_start" not in chunk.metadata and "keywords" not in chunk.metadata and section != chunk.title:
        return f"{chunk.title}: {section}"
    return chunk.title


def _check_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise UsageError('the question is empty; ask something, e.g. kbqa ask "What is co-production?"')
    question = " ".join(question.split())
    if len(question) > MAX_QUESTION_CHARS:
        question = question[:MAX_QUESTION_CHARS]
    return question


def _filters(where: Filters | list[str] | None) -> Filters:
    if isinstance(where, Filters):
        return where
    return Filters.parse(where)


# ------------------------------------------------------------ module-level shortcuts

_default: KnowledgeBase | None = None


def default_kb() -> KnowledgeBase:
    global _default
    if _default is None:
        _default = KnowledgeBase()
    return _default


def ask(question: str, **kwargs: Any) -> Answer:
    """`KnowledgeBase().ask` on the default settings (KBQA_* environment, kbqa.toml)."""
    return default_kb().ask(question, **kwargs)


def ask_stream(question: str, **kwargs: Any) -> Iterator[str | Answer]:
    return default_kb().ask_stream(question, **kwargs)


def ingest_paths(paths: list[Path] | None = None, progress: Progress | None = None) -> IngestReport:
    return default_kb().ingest(paths, progress)
