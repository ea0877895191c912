"""The index on disk: chunks and vectors in Chroma, and a manifest that says which are live.

Crash safety comes from one rule: a chunk is *live* only if the manifest's
version for its source (a hash of the file's bytes and the index settings)
equals the chunk's `version`. Ingest writes new chunks first,
then commits the manifest (an atomic file replace), then deletes the old
chunks. A run killed at any point leaves the previous, consistent view.

We use chromadb directly rather than llama-index's ChromaVectorStore because that
store flattens metadata (it rejects the keyword and contributor lists that our
filters need, Chroma 1.x stores lists natively) and copies every chunk's text a
second time into a `_node_content` field.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from kbqa.config import Settings, configure_offline
from kbqa.errors import StoreError
from kbqa.schema import Chunk, Entry

MANIFEST_FORMAT = 1
PARSER_VERSION = 1  # bump when documents.py or chunking.py change what they produce
_CHROMA_BATCH = 4000


class Manifest:
    """What is indexed: per source file its path, content hash, chunk count and entries."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"format": MANIFEST_FORMAT, "config": {}, "files": {}, "bm25": None}
        if path.exists():
            try:
                self.data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise StoreError(
                    f"{path}: unreadable manifest ({exc}); delete the data folder and ingest again"
                ) from None

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return self.data["files"]

    def entries(self) -> list[Entry]:
        return [Entry(**e) for info in self.files.values() for e in info.get("entries", [])]

    def save(self) -> None:
        """Atomic: write a temporary file, fsync it, rename it over the old one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.data, fh, ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def set_file(
        self, source: str, path: Path, sha256: str, version: str, chunks: list[Chunk], entries: list[Entry]
    ) -> None:
        self.files[source] = {
            "path": str(path),
            "sha256": sha256,
            "version": version,
            "chunks": len(chunks),
            "ingested_at": time.time(),
            "entries": [asdict(e) for e in entries],
        }


class Store:
    """Chroma collection + manifest in `settings.data_dir` (or a Chroma server at `settings.chroma_url`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        self.manifest = Manifest(self.data_dir / "manifest.json")
        self._manifest_stamp = _stamp(self.manifest.path)
        self._collection = None

    # ------------------------------------------------------------ chroma
    @property
    def collection(self):  # noqa: ANN201 - chromadb.Collection, imported lazily
        if self._collection is None:
            self._collection = self._open_collection()
        return self._collection

    def _open_collection(self):  # noqa: ANN202
        configure_offline()
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if self.settings.chroma_url:
                from urllib.parse import urlparse

                url = urlparse(self.settings.chroma_url)
                client = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
            else:
                self.data_dir.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=str(self.data_dir / "chroma"), settings=chroma_settings)
            return client.get_or_create_collection(
                self.settings.collection,
                embedding_function=None,
                metadata={"hnsw:space": "cosine", "embed_model": "all-MiniLM-L6-v2"},
            )
        except Exception as exc:  # chromadb raises many types (connection, value, internal)
            where = self.settings.chroma_url or str(self.data_dir / "chroma")
            raise StoreError(f"cannot open the Chroma index at {where}: {exc}") from None

    def upsert(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        for start in range(0, len(chunks), _CHROMA_BATCH):
            batch = chunks[start : start + _CHROMA_BATCH]
            self.collection.upsert(
                ids=[c.id for c in batch],
                embeddings=vectors[start : start + len(batch)],
                documents=[c.text for c in batch],
                metadatas=[{"source": c.source, "title": c.title, **c.metadata} for c in batch],
            )

    def delete(self, ids: list[str]) -> None:
        for start in range(0, len(ids), _CHROMA_BATCH):
            self.collection.delete(ids=ids[start : start + _CHROMA_BATCH])

    def ids_of_source(self, source: str) -> list[str]:
        return self.collection.get(where={"source": source}, include=[])["ids"]

    def count(self) -> int:
        return self.collection.count()

    def get(self, ids: list[str], with_vectors: bool = False) -> dict[str, tuple[Chunk, np.ndarray | None]]:
        """Live chunks by id (dead or missing ids are left out)."""
        if not ids:
            return {}
        include = ["documents", "metadatas"] + (["embeddings"] if with_vectors else [])
        got = self.collection.get(ids=list(ids), include=include)
        vectors = got.get("embeddings") if with_vectors else None
        out = {}
        for i, (cid, text, meta) in enumerate(zip(got["ids"], got["documents"], got["metadatas"])):
            chunk = to_chunk(cid, text, meta)
            if self.is_live(chunk):
                out[cid] = (chunk, np.asarray(vectors[i]) if vectors is not None else None)
        return out

    def chunks_of_entries(self, entry_ids: list[str], limit: int = 24) -> list[Chunk]:
        """The live chunks of some entries, in document order."""
        if not entry_ids:
            return []
        got = self.collection.get(
            where={"entry_id": {"$in": list(entry_ids)}}, include=["documents", "metadatas"], limit=limit
        )
        chunks = [to_chunk(i, t, m) for i, t, m in zip(got["ids"], got["documents"], got["metadatas"])]
        return sorted((c for c in chunks if self.is_live(c)), key=lambda c: c.metadata.get("chunk_index", 0))

    def query(self, vector: np.ndarray, n: int, where: dict | None = None) -> list[tuple[Chunk, float]]:
        """Nearest live chunks with their cosine similarity; over-fetches to make up for dead ones."""
        total = self.count()
        if total == 0:
            return []
        fetch = min(total, n + 8)
        while True:
            res = self.collection.query(
                query_embeddings=[vector], n_results=fetch, where=where, include=["documents", "metadatas", "distances"]
            )
            rows = list(zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0]))
            hits = [(c, 1.0 - d) for c, d in ((to_chunk(i, t, m), d) for i, t, m, d in rows) if self.is_live(c)]
            if len(hits) >= n or len(rows) < fetch or fetch >= total:
                return hits[:n]
            fetch = min(total, fetch * 4)

    def iter_live(self, page: int = 5000) -> Iterator[Chunk]:
        """Every live chunk, in pages (used to rebuild the keyword index)."""
        offset = 0
        while True:
            got = self.collection.get(include=["documents", "metadatas"], limit=page, offset=offset)
            if not got["ids"]:
                return
            for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"]):
                chunk = to_chunk(cid, text, meta)
                if self.is_live(chunk):
                    yield chunk
            offset += len(got["ids"])

    # ------------------------------------------------------------ liveness
    def is_live(self, chunk: Chunk) -> bool:
        info = self.manifest.files.get(chunk.source)
        return info is not None and info.get("version") == chunk.metadata.get("version")

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Only one ingest at a time per data folder."""
        import fcntl

        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / "ingest.lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(
                    f"another `kbqa ingest` is running on {self.data_dir}; wait for it to finish"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def begin_write(self) -> bool:
        """Mark an ingest as under way; True if the previous one never finished (it may have left dead chunks)."""
        marker = self.data_dir / "ingest.dirty"
        dirty = marker.exists()
        for tmp in self.data_dir.glob("manifest.*.tmp"):  # left by a run killed mid-save
            tmp.unlink(missing_ok=True)
        marker.touch()
        return dirty

    def end_write(self) -> None:
        (self.data_dir / "ingest.dirty").unlink(missing_ok=True)

    def delete_dead(self, page: int = 5000) -> int:
        """Delete every chunk that is not live (orphans of a killed run); returns how many."""
        dead: list[str] = []
        offset = 0
        while True:
            got = self.collection.get(include=["metadatas"], limit=page, offset=offset)
            if not got["ids"]:
                break
            dead += [
                cid for cid, meta in zip(got["ids"], got["metadatas"]) if not self.is_live(to_chunk(cid, "", meta))
            ]
            offset += len(got["ids"])
        self.delete(dead)
        return len(dead)

    def reload_manifest(self) -> None:
        self.manifest = Manifest(self.manifest.path)
        self._manifest_stamp = _stamp(self.manifest.path)

    def sync(self) -> None:
        """Pick up an ingest made by another process since the manifest was read (one stat call)."""
        if _stamp(self.manifest.path) != self._manifest_stamp:
            self.reload_manifest()


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def to_chunk(cid: str, text: str, meta: dict[str, Any]) -> Chunk:
    meta = dict(meta or {})
    source = meta.pop("source", "")
    title = meta.pop("title", "")
    return Chunk(id=cid, text=text or "", source=source, title=title, metadata=meta)
