"""Hybrid retrieval: dense (Chroma) and BM25 candidates fused by reciprocal rank.

We fuse here rather than with llama-index's QueryFusionRetriever because that
class keeps only the fused score, and the answerer needs each hit's cosine
similarity to decide when to abstain (and it resolves `Settings.llm` even
when no query rewriting is asked for). `KnowledgeBase.as_retriever()` still
exposes this retrieval to llama-index query engines (see `kbqa.interop`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kbqa.config import Settings
from kbqa.errors import StoreError, UsageError
from kbqa.index import keyword as bm25
from kbqa.index.embed import BaseEmbedder, model_name
from kbqa.index.keyword import DocMeta
from kbqa.index.manifest import Manifest
from kbqa.index.store import Store
from kbqa.schema import OPEN_END, Entry, Hit

MODES = ("hybrid", "dense", "bm25")
KEYWORD_OPEN_ATTEMPTS = 5  # tries to open the keyword index the manifest names, while an ingest retires it
# Each retriever offers max(4k, 20) candidates to the fusion: the depth at which hit@5 stopped improving
# on the dev set (evals/sweep_fusion.py).
CANDIDATES_PER_HIT = 4
MIN_CANDIDATES = 20
SEARCH_ATTEMPTS = 4  # searches overlapping an ingest's commits, run again each time (an ingest commits per file)


@dataclass(frozen=True)
class Filters:
    """Metadata filters; all given fields must match."""

    source: str | None = None
    keyword: str | None = None
    contributor: str | None = None
    year_from: int | None = None
    year_to: int | None = None

    FIELDS = ("source", "keyword", "contributor", "year")

    @classmethod
    def parse(cls, pairs: list[str] | None) -> Filters:
        """From CLI-style `FIELD=VALUE` strings; year takes `2018` or `2015-2018`."""
        values: dict[str, Any] = {}
        for pair in pairs or []:
            field, sep, value = pair.partition("=")
            field, value = field.strip().lower(), value.strip()
            if not sep or not value:
                raise UsageError(f"--where {pair!r}: expected FIELD=VALUE with FIELD one of {', '.join(cls.FIELDS)}")
            if field == "year":
                m = re.fullmatch(r"(\d{4})(?:\s*(?:-|–|\.\.)\s*(\d{4}))?", value)
                if not m:
                    raise UsageError(f"--where year={value!r}: expected a year like 2018 or a range like 2015-2018")
                values["year_from"], values["year_to"] = int(m[1]), int(m[2] or m[1])
            elif field in ("source", "keyword", "contributor"):
                values[field] = value
            else:
                raise UsageError(f"--where {field!r}: unknown field; use one of {', '.join(cls.FIELDS)}")
        return cls(**values)

    def check(self) -> None:
        """UsageError for filters that cannot match anything by construction (a reversed year range)."""
        if self.year_from is not None and self.year_to is not None and self.year_from > self.year_to:
            raise UsageError(
                f"year={self.year_from}-{self.year_to}: the range is reversed; write {self.year_to}-{self.year_from}"
            )
        if (self.year_from is None) != (self.year_to is None):
            raise UsageError("year filter: give both year_from and year_to (the same year for a single year)")

    def matches_entry(self, entry: Entry) -> bool:
        """Does a catalogue entry pass these filters (the same rules as `matches` on indexed chunks)?"""
        people = [p.lower() for p in entry.contributors + entry.affiliations]
        meta = DocMeta(
            entry.source,
            entry.year_start,
            entry.year_end if entry.year_end is not None else (OPEN_END if entry.year_start is not None else None),
            [k.lower() for k in entry.keywords],
            people,
        )
        return self.matches(meta)

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.source, self.keyword, self.contributor, self.year_from))

    def chroma_where(self) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = []
        if self.source:
            clauses.append({"source": self.source})
        if self.keyword:
            clauses.append({"keywords": {"$contains": self.keyword.lower()}})
        if self.contributor:
            who = self.contributor.lower()
            clauses.append({"$or": [{"contributors": {"$contains": who}}, {"affiliations": {"$contains": who}}]})
        if self.year_from is not None:
            clauses.append({"year_start": {"$lte": self.year_to}})
            clauses.append({"year_end": {"$gte": self.year_from}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def matches(self, meta: bm25.DocMeta) -> bool:
        if self.source and meta.source != self.source:
            return False
        if self.keyword and self.keyword.lower() not in meta.keywords:
            return False
        if self.contributor and self.contributor.lower() not in meta.people:
            return False
        if self.year_from is None or self.year_to is None:
            return True
        return (
            meta.year_start is not None and meta.year_start <= self.year_to and (meta.year_end or 0) >= self.year_from
        )


class Retriever:
    """Finds the chunks that best match a question, by meaning and by words."""

    def __init__(self, settings: Settings, store: Store, embedder: Callable[[], BaseEmbedder]) -> None:
        self.settings = settings
        self.store = store
        self._embedder = embedder
        self._keyword: bm25.KeywordIndex | None = None
        self._keyword_manifest: object = None  # the manifest object the keyword index was opened for
        self._segments: dict[str, bm25.Segment] = {}
        self._keyword_lock = threading.Lock()

    @property
    def embedder(self) -> BaseEmbedder:
        """The model the index was built with (an endpoint, or the packaged one), which embeds questions."""
        return self._embedder()

    @property
    def keyword_index(self) -> bm25.KeywordIndex | None:
        """The keyword index the manifest names, with the manifest's chunks live (None for an empty index).

        Rebuilt (cheaply: segments stay open) whenever the manifest changes, since a committed removal
        masks chunks without changing the segments. An ingest in another process may commit a newer
        generation and delete a segment between our reading the manifest and opening it: then the
        manifest is read again. A segment that stays missing is an error, never a silent fall-back to
        dense-only search.
        """
        with self._keyword_lock:
            for _ in range(KEYWORD_OPEN_ATTEMPTS):
                manifest = self.store.manifest
                if manifest is self._keyword_manifest:
                    return self._keyword
                state = manifest.data.get("bm25") or {}
                if not state:
                    if manifest.files:
                        break
                    self._keyword, self._keyword_manifest = None, manifest
                    return None
                try:
                    self._keyword = self._open_keyword(state, manifest)
                except FileNotFoundError:
                    time.sleep(0.05)
                    self.store.reload_manifest()
                    continue
                self._keyword_manifest = manifest
                return self._keyword
        raise StoreError(f"the keyword index of {self.settings.data_dir} is missing; run `kbqa ingest` to rebuild it")

    def _open_keyword(self, state: dict[str, Any], manifest: Manifest) -> bm25.KeywordIndex:
        """The segment set `state` names as one index; segments already open are re-used."""
        data_dir = Path(self.settings.data_dir)
        live = {source: info["version"] for source, info in manifest.files.items()}
        if "segments" not in state:
            return bm25.load(data_dir, state, live)
        opened = {name: self._segments.get(name) or bm25.Segment(data_dir / name) for name in state["segments"]}
        self._segments = opened
        return bm25.KeywordIndex(list(opened.values()), live)

    def search(self, query: str, k: int, filters: Filters | None = None, mode: str = "hybrid") -> list[Hit]:
        """The top-k hits for `query`; every hit carries its cosine similarity to the query.

        An ingest deletes a file's replaced chunks right after committing its new version, so a search
        that overlapped a commit may have missed that file altogether: it is run again on the new manifest.
        """
        if mode not in MODES:
            raise UsageError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
        filters = filters or Filters()
        name = model_name(self.settings)
        self.store.check_embedding(name)
        qvec = self.embedder.embed_one(query)
        self.store.check_embedding(name, len(qvec))
        for _ in range(SEARCH_ATTEMPTS):
            read = self.store.read_stamp
            hits = self._search_once(query, qvec, k, filters, mode)
            if self.store.read_stamp == read and not self.store.committed_since_read():
                break
            self.store.sync()
        return hits

    def _search_once(self, query: str, qvec: np.ndarray, k: int, filters: Filters, mode: str) -> list[Hit]:
        depth = max(CANDIDATES_PER_HIT * k, MIN_CANDIDATES)
        dense = self.store.query(qvec, depth, filters.chroma_where()) if mode != "bm25" else []
        keyword = self._keyword_search(query, depth, filters) if mode != "dense" else []

        hits: dict[str, Hit] = {}
        for rank, (chunk, cosine) in enumerate(dense):
            hits[chunk.id] = Hit(chunk=chunk, score=0.0, dense=cosine, dense_rank=rank)
        missing = [cid for cid, _ in keyword if cid not in hits]
        fetched = self.store.get(missing, with_vectors=True)
        for rank, (cid, score) in enumerate(keyword):
            if cid in hits:
                hits[cid].bm25, hits[cid].bm25_rank = score, rank
            elif cid in fetched:
                chunk, vec = fetched[cid]
                similarity = float(np.dot(vec, qvec)) if vec is not None else None
                hits[cid] = Hit(chunk=chunk, score=0.0, dense=similarity, bm25=score, bm25_rank=rank)
        for hit in hits.values():
            hit.score = self._rrf(hit)
        return sorted(hits.values(), key=lambda h: h.score, reverse=True)[:k]

    def _rrf(self, hit: Hit) -> float:
        s, c = self.settings, self.settings.rrf_k
        score = 0.0
        if hit.dense_rank is not None:
            score += s.dense_weight / (c + hit.dense_rank + 1)
        if hit.bm25_rank is not None:
            score += s.bm25_weight / (c + hit.bm25_rank + 1)
        return score

    def _keyword_search(self, query: str, n: int, filters: Filters) -> list[tuple[str, float]]:
        index = self.keyword_index
        if index is None:
            return []
        return index.search(query, n, filters.matches if filters else None)
