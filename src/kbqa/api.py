"""The public engine API: one `KnowledgeBase` that the CLI, the UI and the evals all build on.

    import kbqa
    kbqa.offline()
    kb = kbqa.KnowledgeBase(kbqa.Settings())
    kb.ensure_index()
    answer = kb.ask("Which universities are partners in Phase 2 of the Enabling Social Action programme?")
    chat = kb.conversation()
    for event in chat.ask_stream("Tell me about the Imagine project."): ...

A `KnowledgeBase` owns everything it answers with (the index, the embedding model, the keyword
index, the answerers), loads each once, and is safe to share between threads: a web server makes one
and gives each user a `Conversation`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kbqa.answer import ANSWERERS, Answerer, Request, answerer_class
from kbqa.answer.catalog import asks_with_contributors
from kbqa.answer.parts import merge
from kbqa.config import Settings
from kbqa.conversation import Conversation
from kbqa.errors import StoreError, UsageError
from kbqa.index.embed import BaseEmbedder, make_embedder, packaged_model_dir
from kbqa.index.keyword import KeywordIndex
from kbqa.index.manifest import stored_entries
from kbqa.index.store import Store
from kbqa.ingestion import pipeline
from kbqa.ingestion.pipeline import Progress
from kbqa.retrieve import Filters, Retriever
from kbqa.schema import (
    Answer,
    Chunk,
    Entry,
    EntryText,
    Event,
    Facets,
    Final,
    FollowUp,
    Hit,
    IngestReport,
    Reset,
    SourceInfo,
    TextDelta,
)
from kbqa.spelling import Speller, common_words
from kbqa.text import OVERRIDE_NOTICE, content_words, split_parts, without_override

if TYPE_CHECKING:
    from llama_index.core.retrievers import BaseRetriever

MAX_QUESTION_CHARS = 2000
NOTHING_TO_LOOK_UP = (
    'Please ask something specific: name a project, a person, a place or a topic, e.g. "Who led the Imagine project?"'
)


class AnswerStream:
    """The events of one answer as they are produced: `TextDelta`s, a `Reset` when text shown so far must
    be discarded (an LLM retry), and last a `Final`. Iterate it once; `.answer` gives the final `Answer`
    (draining the stream if it was not read to the end)."""

    def __init__(self, events: Iterator[Event], on_final: Callable[[Answer], None] | None = None) -> None:
        self._events = events
        self._on_final = on_final
        self._answer: Answer | None = None
        self.text = ""  # the answer text shown so far (after the last reset)

    def __iter__(self) -> Iterator[Event]:
        for event in self._events:
            if isinstance(event, TextDelta):
                self.text += event.text
            elif isinstance(event, Reset):
                self.text = ""
            elif isinstance(event, Final):
                self._answer = event.answer
                if self._on_final is not None:
                    self._on_final(event.answer)
            yield event

    @property
    def answer(self) -> Answer:
        if self._answer is None:
            for _ in self:
                pass
        if self._answer is None:  # an answerer that ended without a Final is a bug in kbqa
            raise RuntimeError("the answer stream ended without a final answer")
        return self._answer


class KnowledgeBase:
    """An index and everything needed to answer from it; cheap to create, loads models on first use."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else Settings()
        self.store = Store(self.settings)
        self.retriever = Retriever(self.settings, self.store, lambda: self.embedder)
        self._embedder: BaseEmbedder | None = None
        self._document_embedder: BaseEmbedder | None = None
        self._lock = threading.Lock()
        self._answerers: dict[str, Answerer] = {}
        self._speller: Speller | None = None

    @property
    def embedder(self) -> BaseEmbedder:
        """The sentence-embedding model the index was built with, loaded on first use (the packaged MiniLM,
        ~0.3 s; or the endpoint at KBQA_EMBED_URL). It embeds questions and the answerers' sentences."""
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.settings)
            return self._embedder

    @property
    def document_embedder(self) -> BaseEmbedder:
        """The model that embeds documents at ingest: the same as `embedder`, except locally at
        KBQA_EMBED_PRECISION=int8 (opt-in), where a quantized copy, ~2x faster, does it."""
        if self.settings.embed_url or self.settings.embed_precision == "fp32":
            return self.embedder
        with self._lock:
            if self._document_embedder is None:
                self._document_embedder = make_embedder(self.settings, documents=True)
            return self._document_embedder

    @property
    def keyword_index(self) -> KeywordIndex | None:
        return self.retriever.keyword_index

    @property
    def speller(self) -> Speller:
        """Puts misspelt question words right from the index's own words (see kbqa.spelling)."""
        with self._lock:
            if self._speller is None:
                index = self.retriever  # the keyword index is read at each call: it follows ingests
                self._speller = Speller(
                    lambda term: index.keyword_index.doc_freq(term) if index.keyword_index else 0,
                    common_words(packaged_model_dir() / "vocab.txt"),
                )
            return self._speller

    # ------------------------------------------------------------ the index
    def ingest(
        self, paths: list[Path] | None = None, *, progress: Progress | None = None, wait: bool = False
    ) -> IngestReport:
        """Index new and changed files under `paths` (default: the corpus folder); drop deleted ones.

        With `wait`, wait for another ingest of the same data folder to finish instead of failing."""
        report = pipeline.ingest(self.settings, paths, progress, wait=wait, embedder=lambda: self.document_embedder)
        self.store.sync()
        return report

    def is_empty(self) -> bool:
        self.store.sync()
        return not self.store.manifest.files

    def outdated(self) -> str | None:
        """Why the index no longer matches these settings or this kbqa's parser (answers still come from it,
        without what the newer ingest adds), with the command that fixes it; None when it matches."""
        self.store.sync()
        built, wanted = self.store.manifest.data.get("config"), pipeline.index_config(self.settings)
        if not self.store.manifest.files or not built or built == wanted:
            return None
        changed = ", ".join(k for k, v in wanted.items() if built.get(k) != v)
        return f"the index in {self.settings.data_dir} was built with other settings ({changed}): run `kbqa ingest`"

    def ensure_index(self, progress: Progress | None = None) -> IngestReport | None:
        """Build the index from the corpus folder if it is empty (several processes starting at once all
        wait for one build). `ask` never does this by itself: the CLI and the UI call it and say so."""
        if self.is_empty():
            return self.ingest(progress=progress, wait=True)
        return None

    def remove(self, source: str) -> IngestReport:
        """Drop one indexed file from the index (the file itself is left alone)."""
        self._check_source(source)
        report = pipeline.remove(self.settings, source)
        self.store.sync()
        return report

    def compact(self) -> dict[str, Any]:
        """Rewrite the index so that the text of removed files leaves the disk (see `Store.compact`)."""
        return self.store.compact()

    def sources(self) -> list[SourceInfo]:
        """Indexed files with their entry and chunk counts."""
        self.store.sync()
        return [
            SourceInfo(
                source=source,
                title=(entries or [{}])[0].get("title", ""),
                entries=len(entries),
                chunks=info["chunks"],
                path=info["path"],
                ingested_at=info.get("ingested_at", 0.0),
            )
            for source, info in sorted(self.store.manifest.files.items())
            for entries in [stored_entries(info)]
        ]

    def facets(self) -> Facets:
        """What the index's metadata holds: the choices for source, keyword, contributor and year filters."""
        entries = self.entries(Filters())
        years = [y for e in entries for y in (e.year_start, e.year_end) if y is not None]
        return Facets(
            sources=sorted(self.store.manifest.files),
            keywords=_unique_sorted(k for e in entries for k in e.keywords),
            contributors=_unique_sorted(p for e in entries for p in e.contributors + e.affiliations),
            year_min=min(years, default=None),
            year_max=max(years, default=None),
        )

    def entry(self, entry_id: str) -> EntryText:
        """A whole entry (its metadata and full text), e.g. to open it from a citation."""
        self.store.sync()
        found = next((e for e in self.store.manifest.entries() if e.entry_id == entry_id), None)
        if found is None:
            raise UsageError(f"no entry {entry_id!r} in the index")
        chunks = self.store.chunks_of_entries([entry_id], limit=len(found.chunk_ids) or 1)
        return EntryText(found, join_overlapping([c.text for c in chunks]))

    # ------------------------------------------------------------ what answerers use (answer.Context)
    def retrieve(
        self, question: str, *, k: int | None = None, filters: Filters | list[str] | None = None, mode: str = "hybrid"
    ) -> list[Hit]:
        """The k passages that best match `question`, each with its scores."""
        self.store.sync()
        return self.retriever.search(question, self._k(k), self._filters(filters), mode)

    def retrieve_for(self, follow: FollowUp, k: int, filters: Filters) -> list[Hit]:
        """Hits for a resolved question. A follow-up is answered from the entries the conversation is
        about first (their passages, best-matching first); the other hits still count. A follow-up is
        searched with the question it leans on ("Who coordinated its cultural strand?" after "Tell me about
        the Imagine project that ran from 2013 to 2017"), which says more than the follow-up alone."""
        query = f"{follow.standalone} {follow.context}" if follow.context else follow.standalone
        hits = self.retrieve(query, k=k, filters=filters)
        if not follow.entry_ids:
            return hits
        entry = [h for h in hits if h.chunk.metadata.get("entry_id") in follow.entry_ids]
        seen = {h.chunk.id for h in entry}
        low = min((h.score for h in entry), default=hits[0].score if hits else 1.0)
        more = [c for c in self.store.chunks_of_entries(list(follow.entry_ids)) if c.id not in seen]
        cosines = self._cosines(follow.standalone, more)
        rest = [Hit(chunk=c, score=low, dense=cosines.get(c.id)) for c in more]
        seen |= {h.chunk.id for h in rest}
        return entry + rest + [h for h in hits if h.chunk.id not in seen]

    def entries(self, filters: Filters) -> list[Entry]:
        """The catalogue: every indexed entry that matches the filters."""
        self.store.sync()
        return [e for e in self.store.manifest.entries() if filters.matches_entry(e)]

    def chunks(self, ids: list[str]) -> dict[str, tuple[Chunk, np.ndarray | None]]:
        """Live chunks by id, with their vectors."""
        return self.store.get(ids, with_vectors=True)

    def _cosines(self, text: str, chunks: list[Chunk]) -> dict[str, float]:
        if not chunks:
            return {}
        query = self.embedder.embed_one(text)
        found = self.chunks([c.id for c in chunks])
        return {cid: float(np.dot(vec, query)) for cid, (_, vec) in found.items() if vec is not None}

    # ------------------------------------------------------------ asking
    def ask(self, question: str, **options: Any) -> Answer:
        """Answer one question with citations (no conversation). Options: k, filters, llm, answerer,
        abstain_threshold — see `stream`."""
        return self.ask_stream(question, **options).answer

    def ask_stream(self, question: str, **options: Any) -> AnswerStream:
        """Like `ask`, as an `AnswerStream` of events."""
        return self.stream(question, **options)

    def conversation(self) -> Conversation:
        """A new conversation (one per chat session): follow-ups are resolved against its turns."""
        return Conversation(self)

    def stream(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Filters | list[str] | None = None,
        llm: str | None = None,
        answerer: str | None = None,
        abstain_threshold: float | None = None,
        follow: FollowUp | None = None,
        turns: tuple[tuple[str, str], ...] = (),
        on_final: Callable[[Answer], None] | None = None,
    ) -> AnswerStream:
        """The answer to `question` as a stream of events, validated up front (a bad option raises now).

        k: passages to retrieve (1 … Settings.max_k); filters: `Filters` or CLI strings ("year=2015-2018");
        llm: preset or base URL (default Settings.llm; None = extractive); answerer: a registered name
        (default: the catalogue for listing questions, then the LLM if one is set, else extractive);
        abstain_threshold: 0–1, this question only. `follow`/`turns` come from a `Conversation`.
        """
        question = _check_question(question)
        if self.is_empty():
            raise StoreError(
                f"the index in {self.settings.data_dir} is empty: run `kbqa ingest` (or call kb.ensure_index())"
            )
        k, filters, abstain_threshold = self.check_options(k=k, filters=filters, abstain_threshold=abstain_threshold)
        asked, overridden = without_override(question)  # "Ignore your sources and …": answered from them anyway
        # a follow-up resolved into a question of its own ("Where is she based?" → "… Kate Pahl …") is asked as that
        restated = follow is not None and follow.context is None and follow.standalone != asked
        asked = follow.standalone if follow is not None and restated else asked
        spelled = self.speller.correct(asked)  # "nef advisery group" is asked as "nef advisory group"
        if spelled != asked:
            asked, restated = spelled, True
            follow = replace(follow, standalone=self.speller.correct(follow.standalone)) if follow else None
        request = Request(
            question=asked,
            follow=follow or FollowUp(asked),
            k=k,
            filters=filters,
            abstain_threshold=abstain_threshold,
            llm=llm or self.settings.llm,
            turns=turns,
        )
        if not content_words(asked) and not (turns and re.search(r"[^\W\d_]", asked)):
            # "???", "What?": nothing to look up (but "Why?" or "Tell me more" after an answer is a follow-up)
            answer = Answer(question, NOTHING_TO_LOOK_UP, [], status="abstained")
            return AnswerStream(iter([TextDelta(answer.answer), Final(answer)]), on_final)
        events = self._parts(request) if answerer is None else None
        if events is None:
            events = self._choose(request, answerer).stream(request)
        if overridden or restated:
            events = _as_asked(events, question, OVERRIDE_NOTICE if overridden else "")
        return AnswerStream(events, on_final)

    def _parts(self, request: Request) -> Iterator[Event] | None:
        """A question in parts that need different answerers, answered part by part (see kbqa.answer.parts);
        None when one answerer takes the whole question. A later part is resolved as a follow-up of the part
        before it ("…, and who contributed the entry?"), so which answerer takes it is known only then."""
        parts = split_parts(request.question)
        if len(parts) < 2 or request.follow.context is not None or asks_with_contributors(request.question):
            return None
        answered: list[tuple[str, Answer]] = []
        chosen: list[str] = []
        for part in parts:
            sub = replace(request, question=part, follow=FollowUp(part))
            previous = answered[-1][1] if answered else None
            if previous is not None and not previous.abstained and previous.citations:
                ids = tuple(dict.fromkeys(c.entry_id for c in previous.citations if c.entry_id))
                follow = FollowUp(part, answered[-1][0], previous.citations[0].title, ids)
                sub = replace(sub, follow=follow, turns=(*request.turns, (answered[-1][0], previous.answer)))
            answerer = self._choose(sub, None)
            chosen.append(answerer.name)
            if len(chosen) == len(parts) and all(name in ("extractive", "llm") for name in chosen):
                return None  # one answerer for every part: it answers the whole question, parts together
            answered.append((part, _final(answerer.stream(sub))))
        answer = merge(request.question, answered)
        events: list[Event] = [TextDelta(answer.answer), Final(answer)]
        return iter(events)

    def check_options(
        self,
        *,
        k: int | None = None,
        filters: Filters | list[str] | None = None,
        abstain_threshold: float | None = None,
    ) -> tuple[int, Filters, float]:
        """Validated answering options, defaults filled in; UsageError naming the bad one (the CLI and
        the UI check them once, before the first question)."""
        threshold = self.settings.abstain_threshold if abstain_threshold is None else abstain_threshold
        if not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
            raise UsageError(f"abstain_threshold={threshold!r}: must be between 0 and 1")
        return self._k(k), self._filters(filters), float(threshold)

    def _choose(self, request: Request, name: str | None) -> Answerer:
        """The named answerer, or the first of catalogue → LLM/extractive that takes the question."""
        if name is not None:
            chosen = self._answerer(name)
            if not chosen.accepts(request):
                why = "needs an LLM (pass llm=…)" if name == "llm" else "does not take this question"
                raise UsageError(f"answerer {name!r} {why}")
            return chosen
        for candidate in ("publications", "catalog", "overview", "llm" if request.llm else "extractive"):
            if self._answerer(candidate).accepts(request):
                return self._answerer(candidate)
        raise RuntimeError("the extractive answerer accepts every question")  # pragma: no cover - kbqa bug

    def _answerer(self, name: str) -> Answerer:
        with self._lock:
            if name not in self._answerers:
                self._answerers[name] = answerer_class(name)(self)
            return self._answerers[name]

    def _k(self, k: int | None) -> int:
        k = self.settings.k if k is None else k
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.settings.max_k:
            raise UsageError(f"k={k!r}: must be a whole number from 1 to {self.settings.max_k}")
        return k

    def _filters(self, filters: Filters | list[str] | None) -> Filters:
        parsed = filters if isinstance(filters, Filters) else Filters.parse(filters)
        parsed.check()
        if parsed.source is not None:
            self._check_source(parsed.source)
        return parsed

    def _check_source(self, source: str) -> None:
        self.store.sync()
        known = sorted(self.store.manifest.files)
        if source not in known:
            listed = ", ".join(known[:8]) + (" …" if len(known) > 8 else "")
            raise UsageError(f"source={source!r} is not indexed; indexed sources: {listed or 'none'}")

    # ------------------------------------------------------------ interop
    def as_retriever(self, k: int | None = None, filters: Filters | list[str] | None = None) -> BaseRetriever:
        """This knowledge base's hybrid retrieval as a llama-index retriever (nodes carry kbqa's metadata)."""
        from kbqa.interop import llamaindex_retriever

        return llamaindex_retriever(self, self._k(k), self._filters(filters))


def join_overlapping(texts: list[str]) -> str:
    """Consecutive chunks of one entry overlap (the splitter repeats a few sentences): join them once."""
    out = ""
    for text in texts:
        overlap = next((n for n in range(min(len(out), len(text)), 0, -1) if out.endswith(text[:n])), 0)
        out = out + ("" if overlap else "\n\n" if out else "") + text[overlap:]
    return out


def _unique_sorted(values: Any) -> list[str]:
    seen: dict[str, str] = {}
    for v in values:
        seen.setdefault(v.lower(), v)
    return sorted(seen.values(), key=str.lower)


def _check_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise UsageError('the question is empty; ask something, e.g. kbqa ask "What is co-production?"')
    return " ".join(question.split())[:MAX_QUESTION_CHARS]


# ------------------------------------------------------------ module-level shortcuts

_default: KnowledgeBase | None = None
_default_lock = threading.Lock()


def default_kb() -> KnowledgeBase:
    """The knowledge base of `kbqa.ask`/`kbqa.ingest`: default settings (KBQA_* environment, kbqa.toml)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = KnowledgeBase()
        return _default


def ask(question: str, **options: Any) -> Answer:
    """`KnowledgeBase().ask` on the default settings, building the index first if it is empty."""
    kb = default_kb()
    kb.ensure_index()
    return kb.ask(question, **options)


def ask_stream(question: str, **options: Any) -> AnswerStream:
    """`KnowledgeBase().ask_stream` on the default settings, building the index first if it is empty."""
    kb = default_kb()
    kb.ensure_index()
    return kb.ask_stream(question, **options)


def _final(events: Iterator[Event]) -> Answer:
    return next(e.answer for e in events if isinstance(e, Final))


def _as_asked(events: Iterator[Event], question: str, notice: str) -> Iterator[Event]:
    """The events of an answer to a restated question, its final answer showing the question as asked."""
    for event in events:
        if isinstance(event, Final):
            answer = event.answer
            answer.standalone_question = answer.standalone_question or answer.question
            answer.question = question
            answer.notice = "; ".join(filter(None, [answer.notice, notice]))
        yield event


def ingest(paths: list[Path] | None = None, progress: Progress | None = None) -> IngestReport:
    """Index the corpus folder (or `paths`) with the default settings."""
    return default_kb().ingest(paths, progress=progress)


__all__ = ["ANSWERERS", "AnswerStream", "KnowledgeBase", "ask", "ask_stream", "ingest"]
