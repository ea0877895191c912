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

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from kbqa.config import Settings
from kbqa.errors import StoreError
from kbqa.index.embed import DIM, MODEL_NAME, same_model
from kbqa.index.manifest import MANIFEST_FORMAT, Manifest
from kbqa.schema import Chunk

LEGACY_COLLECTION = "kbqa"  # the collection every format-1 index shared; read until the next ingest repairs it
_CHROMA_BATCH = 4000
# How many chunks of the entries in focus a follow-up reads (the corpus's longest entry has 15).
ENTRY_CHUNKS_LIMIT = 24
# Nearest-neighbour queries ask for this many more than wanted, growing by QUERY_GROWTH while dead chunks
# (replaced versions not yet deleted) fill the results.
QUERY_SPARE = 8
QUERY_GROWTH = 4
# Pauses (seconds) before reading again, through a new client, an embedded index that showed fewer chunks
# than the manifest committed: another process's writes can take a moment to reach what a new client
# reads (measured: up to a few hundred milliseconds while it ingests). After the last, the view is used.
STALE_VIEW_WAITS = (0.0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6)


class Store:
    """Chroma collection + manifest in `settings.data_dir` (or a Chroma server at `settings.chroma_url`).

    Each data folder owns one collection, named in its manifest (`kbqa-<random id>`), so several
    data folders can share one Chroma server: a clean-up only ever touches its own collection.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        self.manifest = Manifest(self.data_dir / "manifest.json")
        self._manifest_stamp = _stamp(self.manifest.path)
        self._client: Any = None
        self._client_stamp: tuple[int, ...] | None = None  # the manifest loaded when the client was opened
        self._collection: Any = None
        self._collection_key: tuple[str, Any] | None = None  # (name, client) the collection was opened with
        # Threads sharing a KnowledgeBase (the web UI's users) may all open the store at once; Chroma fails
        # when two threads create a client for one folder together ("Could not connect to tenant").
        self._open_lock = threading.RLock()
        # Chroma's count() scans its metadata (80 ms at 1M chunks): a search reuses the count taken with the same
        # client and manifest; a write in this process, a commit or a new client takes it again.
        self._counted: tuple[Any, tuple[int, ...] | None, int] | None = None  # (client, manifest stamp, count)

    # ------------------------------------------------------------ chroma
    @property
    def where(self) -> str:
        """Where the vectors live, for messages."""
        return self.settings.chroma_url or str(self.data_dir / "chroma")

    @property
    def collection_name(self) -> str:
        return self.manifest.collection or LEGACY_COLLECTION

    @property
    def collection(self) -> Any:  # chromadb.Collection, imported lazily
        name, client = self.collection_name, self.client
        if self._collection is None or self._collection_key != (name, client):
            with self._open_lock, self.chroma_errors():
                if self._collection is None or self._collection_key != (name, client):
                    collection = client.get_or_create_collection(
                        name,
                        embedding_function=None,
                        metadata={"hnsw:space": "cosine", "embed_model": "all-MiniLM-L6-v2"},
                    )
                    self._collection, self._collection_key = collection, (name, client)
        return self._collection

    @property
    def client(self) -> Any:  # a chromadb client, imported lazily
        """The Chroma client; an embedded one is reopened once the manifest was reloaded after its opening.

        An embedded client keeps the vector index it loaded and never sees what another process wrote
        since (see `_fresh_persistent_client`). The check is made on every use, not when the manifest is
        reloaded: between one thread's reloading the manifest and its dropping the client, another thread
        could search with the new manifest and the old client, whose chunks were all dead to it (found by
        the concurrency property: a full listing came back empty). A server always answers with its
        current state.
        """
        client = self._client
        if client is not None and (self.settings.chroma_url or self._client_stamp == self._manifest_stamp):
            return client
        with self._open_lock:
            if self._client is None or (not self.settings.chroma_url and self._client_stamp != self._manifest_stamp):
                stamp = self._manifest_stamp  # read before opening: the client sees at least this commit
                self._client = self._open_client()
                self._client_stamp = stamp
            return self._client

    def _reopen(self, seen: Any) -> None:
        """Open a new embedded client on next use, unless another thread already replaced `seen`."""
        with self._open_lock:
            if self._client is seen:
                self._client = None
            _forget_client(self.data_dir / "chroma", seen)

    def _open_client(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        with self.chroma_errors(opening=True):
            if self.settings.chroma_url:
                from urllib.parse import urlparse

                url = urlparse(self.settings.chroma_url)
                return chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return _fresh_persistent_client(self.data_dir / "chroma", chroma_settings, self._manifest_stamp)

    @contextmanager
    def chroma_errors(self, opening: bool = False) -> Iterator[None]:
        """Turn the errors Chroma raises (connection, server, value) into one-line StoreErrors."""
        import httpx
        from chromadb.errors import ChromaError

        try:
            yield
        except (httpx.HTTPError, ChromaError, ValueError, OSError) as exc:
            detail = " ".join(str(exc).split())[:200] or type(exc).__name__
            if isinstance(exc, httpx.TransportError):
                raise StoreError(
                    f"cannot open the Chroma index at {self.where}: the server cannot be reached ({detail}); "
                    "is it running?"
                ) from None
            if opening:
                raise StoreError(f"cannot open the Chroma index at {self.where}: {detail}") from None
            raise StoreError(f"the Chroma index at {self.where} failed: {detail}") from None

    def _op(self, method: str, **kwargs: Any) -> Any:
        """Call one method of this index's Chroma collection, with Chroma's errors as StoreErrors.

        If the collection is gone because `kbqa compact` in another process replaced it, the
        manifest (which names the new one) is read again and the call retried once.
        """
        from chromadb.errors import NotFoundError

        with self.chroma_errors():
            try:
                return getattr(self.collection, method)(**kwargs)
            except NotFoundError:
                self.reload_manifest()
                self._collection = None
                return getattr(self.collection, method)(**kwargs)

    def upsert(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        self._counted = None
        for start in range(0, len(chunks), _CHROMA_BATCH):
            batch = chunks[start : start + _CHROMA_BATCH]
            self._op(
                "upsert",
                ids=[c.id for c in batch],
                embeddings=vectors[start : start + len(batch)],
                documents=[c.text for c in batch],
                metadatas=[{"source": c.source, "title": c.title, **c.metadata} for c in batch],
            )

    def delete(self, ids: list[str]) -> None:
        self._counted = None
        for start in range(0, len(ids), _CHROMA_BATCH):
            self._op("delete", ids=ids[start : start + _CHROMA_BATCH])

    def ids_of_source(self, source: str) -> list[str]:
        ids: list[str] = self._op("get", where={"source": source}, include=[])["ids"]
        return ids

    def present(self, ids: list[str]) -> set[str]:
        """Which of `ids` are stored (live or not)."""
        found: set[str] = set()
        for start in range(0, len(ids), _CHROMA_BATCH):
            found.update(self._op("get", ids=ids[start : start + _CHROMA_BATCH], include=[])["ids"])
        return found

    def missing_chunks(self) -> dict[str, int]:
        """Committed files whose chunks are not all in the store (a deleted or emptied Chroma), with counts."""
        expected = {source: self.manifest.expected_ids(source) for source in self.manifest.files}
        have = self.present([cid for ids in expected.values() for cid in ids])
        missing = {source: sum(cid not in have for cid in ids) for source, ids in expected.items()}
        return {source: n for source, n in missing.items() if n}

    def count(self) -> int:
        return int(self._op("count"))

    def _search_count(self) -> int:
        """`count()`, reused while the client and the manifest are the ones it was taken with."""
        client, stamp = self.client, self._manifest_stamp
        counted = self._counted
        if counted is not None and counted[0] is client and counted[1] == stamp:
            return counted[2]
        total = self.count()
        self._counted = (client, stamp, total)
        return total

    def get(self, ids: list[str], with_vectors: bool = False) -> dict[str, tuple[Chunk, np.ndarray | None]]:
        """Live chunks by id (dead or missing ids are left out); asked for in batches Chroma accepts."""
        include = ["documents", "metadatas"] + (["embeddings"] if with_vectors else [])
        manifest = self.manifest  # one committed state for the whole call
        out: dict[str, tuple[Chunk, np.ndarray | None]] = {}
        for start in range(0, len(ids), _CHROMA_BATCH):
            got = self._op("get", ids=list(ids[start : start + _CHROMA_BATCH]), include=include)
            vectors = got.get("embeddings") if with_vectors else None
            for i, (cid, text, meta) in enumerate(zip(got["ids"], got["documents"], got["metadatas"])):
                chunk = to_chunk(cid, text, meta)
                if _live(manifest, chunk):
                    out[cid] = (chunk, np.asarray(vectors[i]) if vectors is not None else None)
        return out

    def chunks_of_entries(self, entry_ids: list[str], limit: int = ENTRY_CHUNKS_LIMIT) -> list[Chunk]:
        """The live chunks of some entries, in document order."""
        if not entry_ids:
            return []
        manifest = self.manifest
        got = self._op(
            "get", where={"entry_id": {"$in": list(entry_ids)}}, include=["documents", "metadatas"], limit=limit
        )
        chunks = [to_chunk(i, t, m) for i, t, m in zip(got["ids"], got["documents"], got["metadatas"])]
        return sorted((c for c in chunks if _live(manifest, c)), key=lambda c: c.metadata.get("chunk_index", 0))

    def query(self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None) -> list[tuple[Chunk, float]]:
        """Nearest live chunks with their cosine similarity; over-fetches to make up for dead ones.

        An embedded Chroma is not safe across processes: a client opened while another process (or another
        client of this one) writes may, for a moment, see fewer chunks than the manifest committed, or
        vectors behind its own metadata. Such a view is detected (found by the concurrency property: a full
        listing missing a committed file) and read again through a new client.
        """
        hits: list[tuple[Chunk, float]] = []
        for wait in (*STALE_VIEW_WAITS, None):
            client = self._client
            hits, whole = self._query_once(vector, n, where)
            if whole or self.settings.chroma_url or wait is None:
                break
            self._reopen(client)
            time.sleep(wait)
        return hits

    def _query_once(
        self, vector: np.ndarray, n: int, where: dict[str, Any] | None
    ) -> tuple[list[tuple[Chunk, float]], bool]:
        """The hits, and whether Chroma's view held every chunk the manifest committed."""
        manifest = self.manifest
        if not manifest.files:
            return [], True
        total = self._search_count()
        live_total = sum(info["chunks"] for info in manifest.files.values())
        whole = total >= live_total
        if total == 0:
            return [], whole
        fetch = min(total, n + QUERY_SPARE)
        while True:
            res = self._op(
                "query",
                query_embeddings=[vector],
                n_results=fetch,
                where=where,
                include=["documents", "metadatas", "distances"],
            )
            rows = list(zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0]))
            # liveness by the manifest read above: another thread may reload it while this loop runs
            hits = [(c, 1.0 - d) for c, d in ((to_chunk(i, t, m), d) for i, t, m, d in rows) if _live(manifest, c)]
            if where is None and len(rows) < fetch:
                whole = False  # the vector index holds fewer chunks than the metadata counted
            if where is None and fetch >= total and len(hits) < live_total:
                whole = False  # every stored chunk was read, and some committed ones are not among them
            if len(hits) >= n or len(rows) < fetch or fetch >= total:
                return hits[:n], whole
            fetch = min(total, fetch * QUERY_GROWTH)

    def _pages(self, include: list[str], page: int = _CHROMA_BATCH) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every stored chunk as (id, text, metadata), read in pages."""
        offset = 0
        while True:
            got = self._op("get", include=include, limit=page, offset=offset)
            if not got["ids"]:
                return
            texts = got.get("documents") or [""] * len(got["ids"])
            yield from zip(got["ids"], texts, got["metadatas"])
            offset += len(got["ids"])

    def iter_live(self) -> Iterator[Chunk]:
        """Every live chunk, in pages (used to rebuild the keyword index)."""
        for cid, text, meta in self._pages(["documents", "metadatas"]):
            chunk = to_chunk(cid, text, meta)
            if self.is_live(chunk):
                yield chunk

    # ------------------------------------------------------------ the embedding model
    def embedding(self) -> dict[str, Any] | None:
        """The model and vector size this index holds vectors of (None while nothing was ever indexed)."""
        record = self.manifest.data.get("embedding")
        if record is None and self.manifest.files:
            return {"model": MODEL_NAME, "dim": DIM}  # written before indexes recorded their model: the packaged one
        return record

    def check_embedding(self, model: str, dim: int | None = None) -> None:
        """A one-line StoreError unless vectors of `model` (and `dim`, when known) belong in this index."""
        record = self.embedding()
        if record is None or (same_model(record["model"], model) and dim in (None, record["dim"])):
            return
        used = f"{model} ({dim}-d)" if dim else model
        raise StoreError(
            f"the index in {self.data_dir} holds vectors of {record['model']} ({record['dim']}-d), not of {used}; "
            f"vectors of two models cannot be mixed: use another KBQA_DATA_DIR for {model}, or set KBQA_EMBED_URL "
            f"and KBQA_EMBED_MODEL back to {record['model']}"
        )

    def record_embedding(self, model: str, dim: int) -> None:
        """Note the index's model and vector size in the manifest (committed with the next save)."""
        self.check_embedding(model, dim)
        self.manifest.data["embedding"] = {"model": model, "dim": dim}

    # ------------------------------------------------------------ liveness
    def is_live(self, chunk: Chunk) -> bool:
        return _live(self.manifest, chunk)

    @contextmanager
    def writer_lock(self, wait: Callable[[], None] | None = None) -> Iterator[None]:
        """Only one ingest at a time per data folder.

        Without `wait`, a second writer fails at once; with it, `wait()` is called (to say so) and
        the writer blocks until the first one finishes.
        """
        import fcntl

        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / "ingest.lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if wait is None:
                    raise StoreError(
                        f"another `kbqa ingest` is running on {self.data_dir}; wait for it to finish"
                    ) from None
                wait()
                fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def begin_write(self) -> bool:
        """Mark an ingest as under way; True if the previous one never finished (it may have left dead chunks).

        An index without a collection of its own (new, or written by an older kbqa that shared one
        collection between data folders) gets one here, before anything is written to Chroma.
        """
        marker = self.data_dir / "ingest.dirty"
        dirty = marker.exists()
        for tmp in self.data_dir.glob("*.tmp"):  # left by a run killed mid-save
            tmp.unlink(missing_ok=True)
        if self.manifest.collection is None or self.manifest.data.get("format") != MANIFEST_FORMAT:
            self.manifest.data["format"] = MANIFEST_FORMAT
            self.manifest.data["collection"] = new_collection_name(self.settings.collection)
            self.manifest.save()
        marker.touch()
        return dirty

    def end_write(self) -> None:
        (self.data_dir / "ingest.dirty").unlink(missing_ok=True)

    def delete_dead(self) -> int:
        """Delete every chunk of this index's collection that is not live (left by a killed run)."""
        dead = [cid for cid, _, meta in self._pages(["metadatas"]) if not self.is_live(to_chunk(cid, "", meta))]
        self.delete(dead)
        return len(dead)

    def drop_legacy_collection(self) -> bool:
        """Delete the collection older kbqa versions shared, if this index is embedded (so it was ours alone)."""
        if self.settings.chroma_url or self.collection_name == LEGACY_COLLECTION:
            return False
        with self.chroma_errors():
            if LEGACY_COLLECTION not in [c.name if hasattr(c, "name") else c for c in self.client.list_collections()]:
                return False
            self.client.delete_collection(LEGACY_COLLECTION)
        return True

    def reload_manifest(self) -> None:
        stamp = _stamp(self.manifest.path)  # before reading: a commit in between only costs one more reload
        self.manifest = Manifest(self.manifest.path)
        self._manifest_stamp = stamp

    def sync(self) -> None:
        """Pick up an ingest made by another process since the manifest was read (one open and fstat)."""
        if self.committed_since_read():
            self.reload_manifest()

    @property
    def read_stamp(self) -> tuple[int, ...] | None:
        """Identifies the manifest this store holds (it changes when any thread reloads it)."""
        return self._manifest_stamp

    def committed_since_read(self) -> bool:
        """True if a manifest was committed (by any process) since this one was read (one stat call)."""
        return _stamp(self.manifest.path) != self._manifest_stamp

    def compact(self) -> dict[str, Any]:
        """Rewrite the index's live chunks into a fresh collection and drop the old one, so text of
        removed files leaves Chroma (its log keeps deleted documents); then VACUUM an embedded database.

        Copy, then commit the manifest naming the new collection, then delete the old one: a run
        killed on the way leaves the old, complete collection in use.
        """
        with self.writer_lock():
            self.reload_manifest()
            old = self.collection_name
            new = new_collection_name(self.settings.collection)
            with self.chroma_errors():
                target = self.client.get_or_create_collection(
                    new, embedding_function=None, metadata={"hnsw:space": "cosine", "embed_model": "all-MiniLM-L6-v2"}
                )
            copied = 0
            for ids, texts, metas, vectors in self._live_pages():
                with self.chroma_errors():
                    target.add(ids=ids, documents=texts, metadatas=metas, embeddings=vectors)
                copied += len(ids)
            self.manifest.data["format"] = MANIFEST_FORMAT
            self.manifest.data["collection"] = new
            self.manifest.save()  # the commit point
            with self.chroma_errors():
                self.client.delete_collection(old)
            self._collection = None
            before = after = None
            if not self.settings.chroma_url:
                before, after = self._vacuum()
        return {"chunks": copied, "collection": new, "bytes_before": before, "bytes_after": after}

    def _live_pages(self, page: int = _CHROMA_BATCH) -> Iterator[tuple[list[Any], list[Any], list[Any], list[Any]]]:
        """Live chunks with their vectors, a page at a time (for copying a collection)."""
        offset = 0
        while True:
            got = self._op("get", include=["documents", "metadatas", "embeddings"], limit=page, offset=offset)
            if not got["ids"]:
                return
            rows = [
                row
                for row in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"])
                if self.is_live(to_chunk(row[0], "", row[2]))
            ]
            if rows:
                yield tuple(list(col) for col in zip(*rows))  # type: ignore[misc]
            offset += len(got["ids"])

    def _vacuum(self) -> tuple[int, int]:
        """SQLite VACUUM of the embedded database, and removal of vector folders of deleted collections."""
        import shutil
        import sqlite3

        db = self.data_dir / "chroma" / "chroma.sqlite3"
        before = db.stat().st_size
        con = sqlite3.connect(db, timeout=30)
        try:
            segments = {row[0] for row in con.execute("SELECT id FROM segments")}
            con.execute("VACUUM")
        finally:
            con.close()
        for folder in (self.data_dir / "chroma").iterdir():
            if folder.is_dir() and _is_uuid(folder.name) and folder.name not in segments:
                shutil.rmtree(folder, ignore_errors=True)
        return before, db.stat().st_size


# Chroma keeps one client state per folder per process; opening one is serialised here because two threads
# opening the same folder at once fail ("Could not connect to tenant").
_EMBEDDED_OPEN_LOCK = threading.Lock()


# Per folder, the embedded client last opened in this process and the manifest commit it was opened after.
_CURRENT: dict[str, tuple[tuple[int, ...] | None, Any]] = {}


def _forget_client(path: Path, client: Any) -> None:
    """Never hand out `client` again (it showed a stale view)."""
    with _EMBEDDED_OPEN_LOCK:
        if _CURRENT.get(str(path), (None, None))[1] is client:
            _CURRENT.pop(str(path), None)


def _fresh_persistent_client(path: Path, settings: Any, stamp: tuple[int, ...] | None = None) -> Any:
    """A client of the embedded Chroma in `path` that reads the folder as it is now: the one this process
    opened last if no commit came since (`stamp` is the manifest's; loading a million vectors takes seconds),
    else a new one.

    Chroma shares one `System` per folder between all the clients of a process, and that System keeps the
    vector index it loaded: chunks another process (a `kbqa ingest` beside `kbqa ui` or `kbqa chat`) added
    since are missing from queries, and fetching their vectors fails ("Error finding id"); Chroma's log,
    which it replays on its own writes, is purged once applied, so it cannot catch up. Forgetting the
    shared System makes Chroma load the folder afresh for this client; clients opened earlier keep theirs.
    `_identifier_to_system` is Chroma's private cache (chromadb 1.x; tests/test_index_safety.py fails if
    this stops working).
    """
    import chromadb
    from chromadb.api.shared_system_client import SharedSystemClient

    with _EMBEDDED_OPEN_LOCK:
        opened = _CURRENT.get(str(path))
        if opened is not None and stamp is not None and opened[0] == stamp:
            return opened[1]
        SharedSystemClient._identifier_to_system.pop(str(path), None)
        client = chromadb.PersistentClient(path=str(path), settings=settings)
        _CURRENT[str(path)] = (stamp, client)
        return client


def _live(manifest: Manifest, chunk: Chunk) -> bool:
    """Whether `manifest` commits the chunk's version of its file."""
    info = manifest.files.get(chunk.source)
    return info is not None and info.get("version") == chunk.metadata.get("version")


def _is_uuid(name: str) -> bool:
    try:
        uuid.UUID(name)
    except ValueError:
        return False
    return True


def new_collection_name(prefix: str) -> str:
    """A collection name no other data folder uses (Chroma wants 3–512 characters of [a-zA-Z0-9._-])."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """Which manifest file is there now. Opened rather than stat'ed: on NFS, opening revalidates cached
    attributes (close-to-open consistency), so a commit made on another machine is seen at once.
    A commit replaces the file, so its inode changes even when size and time happen to match."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
    finally:
        os.close(fd)
    return st.st_ino, st.st_mtime_ns, st.st_size


def to_chunk(cid: str, text: str, meta: dict[str, Any]) -> Chunk:
    meta = dict(meta or {})
    source = meta.pop("source", "")
    title = meta.pop("title", "")
    return Chunk(id=cid, text=text or "", source=source, title=title, metadata=meta)
