"""The keyword index: BM25 over chunk texts (with their titles), built with bm25s and saved beside Chroma.

llama-index's BM25Retriever wraps the same bm25s engine but persists a full copy
of every node and rebuilds per process; at 100k chunks that costs seconds per
cold start. Here we persist only the bm25s matrices (memory-mapped on load),
the chunk ids, and the few metadata fields the filters need; texts come from Chroma.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kbqa.schema import Chunk
from kbqa.text import tokenize


@dataclass
class DocMeta:
    """The filterable fields of one indexed chunk."""

    source: str
    year_start: int | None
    year_end: int | None
    keywords: list[str]
    people: list[str]  # contributors and their affiliations, lower-cased


def build(chunks: list[Chunk], data_dir: Path) -> str:
    """Index `chunks` into a new folder under data_dir and return its name (the caller commits it)."""
    import bm25s

    name = f"bm25-{uuid.uuid4().hex[:12]}"
    folder = data_dir / name
    folder.mkdir(parents=True)
    retriever = bm25s.BM25()
    if chunks:
        retriever.index(tokenize([c.embed_text for c in chunks]), show_progress=False)
        retriever.save(str(folder))
    meta = [
        [
            c.source,
            c.metadata.get("year_start"),
            c.metadata.get("year_end"),
            c.metadata.get("keywords", []),
            c.metadata.get("contributors", []) + c.metadata.get("affiliations", []),
        ]
        for c in chunks
    ]
    (folder / "kbqa_ids.json").write_text(json.dumps([c.id for c in chunks]))
    (folder / "kbqa_meta.json").write_text(json.dumps(meta))
    return name


def remove_other_indexes(data_dir: Path, keep: set[str | None]) -> None:
    """Delete keyword-index folders other than those in `keep` (left over from earlier or killed runs)."""
    for folder in data_dir.glob("bm25-*"):
        if folder.name not in keep and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


class KeywordIndex:
    """A loaded keyword index; `search` returns (chunk id, score) best first."""

    def __init__(self, folder: Path) -> None:
        """Open every file of the index now (raises FileNotFoundError if the folder is gone): an ingest
        may delete the folder later, and open files and memory maps outlive that."""
        import bm25s

        self.folder = folder
        self.ids: list[str] = json.loads((folder / "kbqa_ids.json").read_text())
        self._meta_file = open(folder / "kbqa_meta.json", encoding="utf-8")  # noqa: SIM115 - read on first use
        self._bm25 = bm25s.BM25.load(str(folder), mmap=True) if self.ids else None
        self._meta: list[DocMeta] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def meta(self) -> list[DocMeta]:
        if self._meta is None:  # only filters need it; loaded on first use
            self._meta_file.seek(0)
            self._meta = [DocMeta(*row) for row in json.loads(self._meta_file.read())]
            self._meta_file.close()
        return self._meta

    def search(self, query: str, n: int, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        if self._bm25 is None or n <= 0:
            return []
        tokens = tokenize([query])
        if not tokens or not tokens[0]:
            return []
        n = min(n, len(self.ids))
        docs, scores = self._bm25.retrieve(tokens, k=n, weight_mask=mask, show_progress=False, n_threads=1)
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    def doc_freq(self, term: str) -> int:
        """How many chunks contain a (stemmed) term; used to weight question words."""
        if self._bm25 is None:
            return 0
        tid = self._bm25.vocab_dict.get(term)
        if tid is None:
            return 0
        indptr = self._bm25.scores["indptr"]
        return int(indptr[tid + 1] - indptr[tid])


def exists(data_dir: Path, name: str | None) -> bool:
    return bool(name) and (data_dir / str(name) / "kbqa_ids.json").exists()


def load(data_dir: Path, name: str) -> KeywordIndex:
    """Open a committed keyword index; FileNotFoundError if its folder is gone."""
    return KeywordIndex(data_dir / name)
