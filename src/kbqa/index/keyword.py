"""The keyword index: BM25 over chunk texts (with their titles), as a main segment plus small delta segments.

An ingest that adds or changes a file writes a small *delta* segment holding only that file's chunks,
so its cost follows the file, not the index. Removed and replaced chunks stay in their old segment
but are masked: a chunk counts only if its (source, version) is the manifest's and no newer segment
holds the same pair (the liveness rule Chroma's chunks follow too). When deltas and masked chunks
grow past a share of the index, all segments are merged into a new main one from their own arrays,
without reading any text back.

Why not bm25s indexes as segments: bm25s stores each document's score with its own index's IDF and
average length baked in, so scores of two bm25s indexes do not add up to one ranking. Here a segment
stores the term-frequency part of BM25 only (the same Lucene-variant formula and k1, b as bm25s),
computed against one *reference average length* shared by every segment of the set, and the IDF is
applied at query time from the live documents of all segments. So the fused ranking is exactly that
of one BM25 index over the live chunks, except that the average length is the one measured at the
last merge (chunk sizes are fixed by the chunker, so it drifts little; a merge resets it).

bm25s still tokenizes (`kbqa.text.tokenize`). A segment is a folder `bm25-<id>` of numpy arrays,
memory-mapped on load, so opening even a large index costs milliseconds.
"""

from __future__ import annotations

import json
import math
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kbqa.schema import Chunk
from kbqa.text import tokenize

K1, B = 1.5, 0.75  # bm25s's defaults, which the index used before segments
SEGMENT_FORMAT = 1
PREFIX = "bm25-"


@dataclass
class DocMeta:
    """The filterable fields of one indexed chunk."""

    source: str
    year_start: int | None
    year_end: int | None
    keywords: list[str]
    people: list[str]  # contributors and their affiliations, lower-cased


def _doc_meta(chunk: Chunk) -> list[Any]:
    m = chunk.metadata
    return [
        chunk.source,
        m.get("year_start"),
        m.get("year_end"),
        m.get("keywords", []),
        m.get("contributors", []) + m.get("affiliations", []),
    ]


def _pair(chunk: Chunk) -> tuple[str, str]:
    return chunk.source, str(chunk.metadata.get("version", ""))


# ---------------------------------------------------------------- writing segments


@dataclass
class _Postings:
    """A segment's contents before it is written: CSC postings (per term, docs ascending) and per-doc data."""

    terms: np.ndarray  # sorted byte strings
    indptr: np.ndarray  # int64, len(terms) + 1
    docs: np.ndarray  # int32
    tf: np.ndarray  # uint16
    doclen: np.ndarray  # int32
    ids: np.ndarray  # byte strings
    pairs: list[tuple[str, str]]
    doc_pair: np.ndarray  # int32: index into pairs
    meta: list[list[Any]]


def _postings(chunks: Sequence[Chunk]) -> _Postings:
    """Tokenize `chunks` and lay out their postings sorted by (term, doc), in a few vectorised passes."""
    tokens = tokenize([c.embed_text for c in chunks]) if chunks else []
    vocab = sorted({t for doc in tokens for t in doc})
    lookup = {t: i for i, t in enumerate(vocab)}
    lengths = np.fromiter((len(doc) for doc in tokens), dtype=np.int64, count=len(tokens))
    flat = np.fromiter((lookup[t] for doc in tokens for t in doc), dtype=np.int64, count=int(lengths.sum()))
    doc_of = np.repeat(np.arange(len(tokens), dtype=np.int64), lengths)
    # One key per (term, doc) occurrence; unique keys come out sorted by term, then doc: CSC order.
    keys, counts = np.unique(flat * max(len(tokens), 1) + doc_of, return_counts=True)
    term_of = keys // max(len(tokens), 1)
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(term_of, minlength=len(vocab)), out=indptr[1:])
    pairs = list(dict.fromkeys(_pair(c) for c in chunks))
    pair_index = {p: i for i, p in enumerate(pairs)}
    return _Postings(
        terms=_bytes(vocab),
        indptr=indptr,
        docs=(keys % max(len(tokens), 1)).astype(np.int32),
        tf=np.minimum(counts, np.iinfo(np.uint16).max).astype(np.uint16),
        doclen=lengths.astype(np.int32),
        ids=_bytes([c.id for c in chunks]),
        pairs=pairs,
        doc_pair=np.array([pair_index[_pair(c)] for c in chunks], dtype=np.int32),
        meta=[_doc_meta(c) for c in chunks],
    )


def _bytes(strings: Sequence[str]) -> np.ndarray:
    """Strings as a fixed-width byte array (memory-mappable; `np.searchsorted` works on it when sorted)."""
    return np.array([s.encode() for s in strings], dtype=bytes) if strings else np.zeros(0, dtype="S1")


def _tfc(tf: np.ndarray, doclen: np.ndarray, docs: np.ndarray, avgdl: float) -> np.ndarray:
    """BM25's term-frequency part, tf / (tf + k1·(1 − b + b·len/avgdl)), as bm25s's Lucene variant computes it."""
    tf = tf.astype(np.float32)
    norm = K1 * (1 - B + B * doclen[docs].astype(np.float32) / np.float32(max(avgdl, 1e-9)))
    out: np.ndarray = tf / (tf + norm)
    return out


def _write(p: _Postings, data_dir: Path, avgdl: float) -> str:
    """Write a segment folder (complete before anyone can name it) and return its name."""
    name = f"{PREFIX}{uuid.uuid4().hex[:12]}"
    folder = data_dir / name
    folder.mkdir(parents=True)
    np.save(folder / "terms.npy", p.terms)
    np.save(folder / "indptr.npy", p.indptr)
    np.save(folder / "docs.npy", p.docs)
    np.save(folder / "tf.npy", p.tf)
    np.save(folder / "tfc.npy", _tfc(p.tf, p.doclen, p.docs, avgdl))
    np.save(folder / "doclen.npy", p.doclen)
    np.save(folder / "doc_pair.npy", p.doc_pair)
    np.save(folder / "ids.npy", p.ids)
    (folder / "meta.json").write_text(json.dumps(p.meta))
    header = {"format": SEGMENT_FORMAT, "docs": len(p.ids), "avgdl": avgdl, "pairs": p.pairs}
    (folder / "segment.json").write_text(json.dumps(header))  # written last: a folder without it is unfinished
    return name


def build(chunks: Sequence[Chunk], data_dir: Path, avgdl: float | None = None) -> tuple[str, float]:
    """Index `chunks` into a new segment; returns (its name, the reference average length it used).

    Without `avgdl` this is a main segment and the average is measured on `chunks`; a delta passes
    the set's reference average so that its scores add up with the other segments'.
    """
    postings = _postings(chunks)
    if avgdl is None:
        avgdl = float(postings.doclen.mean()) if len(postings.doclen) else 1.0
    return _write(postings, data_dir, avgdl), avgdl


def merge(segments: Sequence[Segment], live: dict[str, str], data_dir: Path) -> tuple[str, float]:
    """Merge the live documents of `segments` (oldest first) into one new segment; returns (name, avgdl).

    Works on the stored postings alone: no text is read back or tokenized again. Each segment's
    postings are sorted by (term, doc) and later segments' documents get higher numbers, so every
    posting's place in the merged arrays is computed directly, without sorting.
    """
    alive = live_masks(segments, live)
    vocab = sorted({bytes(t) for s in segments for t in s.terms})
    lookup = {t: i for i, t in enumerate(vocab)}
    counts = np.zeros(len(vocab), dtype=np.int64)
    per_segment = []
    doc_base = 0
    for seg, keep in zip(segments, alive):
        new_doc = np.full(seg.n_docs, -1, dtype=np.int64)
        new_doc[keep] = doc_base + np.arange(int(keep.sum()))
        doc_base += int(keep.sum())
        term_map = np.array([lookup[bytes(t)] for t in seg.terms], dtype=np.int32)
        term_of = np.repeat(np.arange(len(seg.terms), dtype=np.int32), np.diff(np.asarray(seg.indptr)))
        docs = np.asarray(seg.docs)
        kept = keep[docs]
        new_term = term_map[term_of[kept]]
        counts += np.bincount(new_term, minlength=len(vocab))
        per_segment.append((seg, kept, new_term, new_doc[docs[kept]]))
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    out_docs = np.empty(int(indptr[-1]), dtype=np.int32)
    out_tf = np.empty(int(indptr[-1]), dtype=np.uint16)
    filled = indptr[:-1].copy()
    for seg, kept, new_term, docs in per_segment:
        if not len(new_term):
            continue
        run_start = np.flatnonzero(np.r_[True, new_term[1:] != new_term[:-1]])
        run_len = np.diff(np.r_[run_start, len(new_term)])
        rank = np.arange(len(new_term)) - np.repeat(run_start, run_len)
        dest = filled[new_term] + rank
        out_docs[dest] = docs
        out_tf[dest] = np.asarray(seg.tf)[kept]
        filled += np.bincount(new_term, minlength=len(vocab))
    # Only the (source, version) pairs that keep a document: a pair listed without one would count as
    # covered, and the file, added again at that version, would never get a segment of its own.
    pair_index: dict[tuple[str, str], int] = {}
    doc_pair = []
    for seg, keep in zip(segments, alive):
        local = np.asarray(seg.doc_pair)[keep]
        used = np.unique(local)
        renumber = np.zeros(max(len(seg.pairs), 1), dtype=np.int32)
        for i in used:
            renumber[i] = pair_index.setdefault(seg.pairs[int(i)], len(pair_index))
        doc_pair.append(renumber[local])
    pairs = list(pair_index)
    postings = _Postings(
        terms=np.array(vocab, dtype=bytes) if vocab else np.zeros(0, dtype="S1"),
        indptr=indptr,
        docs=out_docs,
        tf=out_tf,
        doclen=np.concatenate([np.asarray(s.doclen)[k] for s, k in zip(segments, alive)]).astype(np.int32),
        ids=np.concatenate([np.asarray(s.ids)[k] for s, k in zip(segments, alive)]),
        pairs=pairs,
        doc_pair=np.concatenate(doc_pair).astype(np.int32),
        meta=[row for s, k in zip(segments, alive) for row, keep in zip(s.meta_rows(), k) if keep],
    )
    avgdl = float(postings.doclen.mean()) if len(postings.doclen) else 1.0
    return _write(postings, data_dir, avgdl), avgdl


def remove_other_indexes(data_dir: Path, keep: Iterable[str | None]) -> None:
    """Delete keyword-index folders other than those in `keep` (left over from earlier or killed runs)."""
    kept = set(keep)
    for folder in data_dir.glob(f"{PREFIX}*"):
        if folder.name not in kept and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- reading segments


class Segment:
    """One segment, memory-mapped. Raises FileNotFoundError if its folder is gone (or unfinished)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        header = json.loads((folder / "segment.json").read_text())
        self.n_docs: int = header["docs"]
        self.avgdl: float = header["avgdl"]
        self.pairs: list[tuple[str, str]] = [(a, b) for a, b in header["pairs"]]

        def load(name: str) -> np.ndarray:
            array: np.ndarray = np.load(folder / f"{name}.npy", mmap_mode="r")
            return array

        self.terms, self.indptr, self.docs = load("terms"), load("indptr"), load("docs")
        self.tf, self.tfc, self.doclen = load("tf"), load("tfc"), load("doclen")
        self.doc_pair, self.ids = load("doc_pair"), load("ids")
        # opened now, read on first use: an ingest may delete the folder later, and open files outlive that
        self._meta_file = open(folder / "meta.json", encoding="utf-8")  # noqa: SIM115
        self._meta: list[list[Any]] | None = None
        self._meta_objects: list[DocMeta] | None = None

    def meta_rows(self) -> list[list[Any]]:
        """The filter fields as stored (one list per document); read once, on first use."""
        if self._meta is None:  # only filters and merges need them
            self._meta_file.seek(0)
            self._meta = json.loads(self._meta_file.read())
            self._meta_file.close()
        return self._meta

    @property
    def meta(self) -> list[DocMeta]:
        if self._meta_objects is None:
            self._meta_objects = [DocMeta(*row) for row in self.meta_rows()]
        return self._meta_objects

    def term_id(self, term: str) -> int | None:
        """The column of a term (binary search in the sorted, memory-mapped vocabulary)."""
        key = term.encode()
        i = int(np.searchsorted(self.terms, key))
        return i if i < len(self.terms) and self.terms[i] == key else None

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(docs, tfc) of a term, or None when no document of this segment has it."""
        t = self.term_id(term)
        if t is None:
            return None
        start, end = int(self.indptr[t]), int(self.indptr[t + 1])
        return self.docs[start:end], self.tfc[start:end]

    def id_of(self, doc: int) -> str:
        return bytes(self.ids[doc]).decode()


def live_masks(segments: Sequence[Segment], live: dict[str, str]) -> list[np.ndarray]:
    """Per segment, which documents count: their (source, version) is committed in `live` (source →
    version) and no newer segment holds the same pair (a file changed back to an earlier version)."""
    masks: list[np.ndarray] = []
    newer: set[tuple[str, str]] = set()
    for seg in reversed(segments):
        pair_ok = np.array([live.get(s) == v and (s, v) not in newer for s, v in seg.pairs], dtype=bool)
        masks.append(pair_ok[np.asarray(seg.doc_pair)] if len(seg.pairs) else np.zeros(seg.n_docs, dtype=bool))
        newer.update(seg.pairs)
    return masks[::-1]


def covered_pairs(segments: Sequence[Segment]) -> set[tuple[str, str]]:
    return {p for seg in segments for p in seg.pairs}


class KeywordIndex:
    """The committed segment set as one BM25 index; `search` returns (chunk id, score) best first."""

    def __init__(self, segments: list[Segment], live: dict[str, str]) -> None:
        self.segments = segments
        self._alive = live_masks(segments, live)
        self._masked = [not bool(a.all()) for a in self._alive]
        self.n_live = int(sum(int(a.sum()) for a in self._alive))
        self._df: dict[str, int] = {}

    def __len__(self) -> int:
        """Live documents."""
        return self.n_live

    @property
    def meta(self) -> list[DocMeta]:
        """Filter fields of every live document, in search order (loaded on first use)."""
        return [m for seg, alive in zip(self.segments, self._alive) for m, a in zip(seg.meta, alive) if a]

    def doc_freq(self, term: str) -> int:
        """How many live chunks contain a (stemmed) term: the IDF every segment's scores are weighed with."""
        if term not in self._df:
            df = 0
            for seg, alive, masked in zip(self.segments, self._alive, self._masked):
                hit = seg.postings(term)
                if hit is not None:
                    df += int(np.count_nonzero(alive[hit[0]])) if masked else len(hit[0])
            if len(self._df) > 50_000:
                self._df.clear()
            self._df[term] = df
        return self._df[term]

    def idf(self, term: str) -> float:
        """Lucene's BM25 IDF, as bm25s computes it."""
        df = self.doc_freq(term)
        return math.log(1 + (self.n_live - df + 0.5) / (df + 0.5)) if df else 0.0

    def search(self, query: str, n: int, keep: Callable[[DocMeta], bool] | None = None) -> list[tuple[str, float]]:
        """The n best live chunks for `query`; `keep`, if given, must accept a chunk's filter fields."""
        tokens = tokenize([query])
        if n <= 0 or not self.n_live or not tokens or not tokens[0]:
            return []
        # a term repeated in the query counts once per occurrence, as in bm25s (the index before segments)
        weights = {t: count * w for t, count in Counter(tokens[0]).items() if (w := self.idf(t)) > 0}
        found: list[tuple[float, int, int]] = []  # (score, segment, doc)
        for s, (seg, alive, masked) in enumerate(zip(self.segments, self._alive, self._masked)):
            hits = [(h, np.float32(w)) for t, w in weights.items() if (h := seg.postings(t)) is not None]
            if not hits:
                continue
            # one pass over all the query terms' postings (docs repeat across terms, so bincount adds them up)
            docs = np.concatenate([h[0] for h, _ in hits])
            scores = np.bincount(docs, weights=np.concatenate([h[1] * w for h, w in hits]), minlength=seg.n_docs)
            if masked:
                scores[~alive] = 0
            if keep is not None:
                scores *= np.fromiter((keep(m) for m in seg.meta), dtype=bool, count=seg.n_docs)
            top = np.argpartition(scores, -n)[-n:] if seg.n_docs > n else np.arange(seg.n_docs)
            found += [(float(scores[d]), s, int(d)) for d in top if scores[d] > 0]
        found.sort(key=lambda x: -x[0])
        return [(self.segments[s].id_of(d), score) for score, s, d in found[:n]]


class LegacyIndex(KeywordIndex):
    """A keyword index written by kbqa before segments: one bm25s index (IDF baked into its scores).

    Read as it is until the next ingest replaces it with segments.
    """

    def __init__(self, folder: Path) -> None:
        import bm25s

        self.folder = folder
        self.ids: list[str] = json.loads((folder / "kbqa_ids.json").read_text())
        self._meta_file = open(folder / "kbqa_meta.json", encoding="utf-8")  # noqa: SIM115 - read on first use
        self._bm25 = bm25s.BM25.load(str(folder), mmap=True) if self.ids else None
        self._meta_rows: list[DocMeta] | None = None
        self.segments, self.n_live = [], len(self.ids)

    @property
    def meta(self) -> list[DocMeta]:
        if self._meta_rows is None:
            self._meta_file.seek(0)
            self._meta_rows = [DocMeta(*row) for row in json.loads(self._meta_file.read())]
            self._meta_file.close()
        return self._meta_rows

    def doc_freq(self, term: str) -> int:
        if self._bm25 is None or (tid := self._bm25.vocab_dict.get(term)) is None:
            return 0
        indptr = self._bm25.scores["indptr"]
        return int(indptr[tid + 1] - indptr[tid])

    def search(self, query: str, n: int, keep: Callable[[DocMeta], bool] | None = None) -> list[tuple[str, float]]:
        tokens = tokenize([query])
        if self._bm25 is None or n <= 0 or not tokens or not tokens[0]:
            return []
        mask = None
        if keep is not None:
            mask = np.fromiter((keep(m) for m in self.meta), dtype=np.float32, count=len(self.ids))
            if not mask.any():
                return []
        n = min(n, len(self.ids))
        docs, scores = self._bm25.retrieve(tokens, k=n, weight_mask=mask, show_progress=False, n_threads=1)
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]


def exists(data_dir: Path, names: Iterable[str]) -> bool:
    return all((data_dir / name / "segment.json").exists() for name in names)


def open_segments(data_dir: Path, names: Iterable[str]) -> list[Segment]:
    """Open committed segments; FileNotFoundError if a folder is gone."""
    return [Segment(data_dir / name) for name in names]


def load(data_dir: Path, state: dict[str, Any], live: dict[str, str]) -> KeywordIndex:
    """The keyword index a manifest's `bm25` record names; FileNotFoundError if a folder is gone."""
    if "segments" not in state:  # written by kbqa before segments
        folder = data_dir / state["dir"]
        if not (folder / "kbqa_ids.json").exists():
            raise FileNotFoundError(folder)
        return LegacyIndex(folder)
    return KeywordIndex(open_segments(data_dir, state["segments"]), live)
