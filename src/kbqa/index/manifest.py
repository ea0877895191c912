"""The manifest: which files are indexed, at which version, with which entries; the commit point of every ingest.

A chunk is *live* only if the manifest's version for its source equals the chunk's `version`; the
manifest is replaced atomically, so readers always see one committed state.

At scale the manifest is tens of MB (a million chunks: ~1 KB per file and ~10 bytes per chunk), read
by every process and rewritten at every commit: it is compact JSON written and read with orjson
(several times faster than the json module), and an entry's chunks are stored as their numbers
within the file rather than as full chunk ids.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from kbqa.errors import StoreError
from kbqa.schema import Chunk, Entry

MANIFEST_FORMAT = 2  # 2: each index owns a Chroma collection named in its manifest


class Manifest:
    """What is indexed: per source file its path, content hash, chunk count and entries."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"format": MANIFEST_FORMAT, "config": {}, "files": {}, "bm25": None}
        self._entries: list[Entry] | None = None
        if path.exists():
            try:
                self.data = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError) as exc:
                raise StoreError(
                    f"{path}: unreadable manifest ({exc}); delete the data folder and ingest again"
                ) from None

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        files: dict[str, dict[str, Any]] = self.data["files"]
        return files

    @property
    def collection(self) -> str | None:
        """The Chroma collection this index owns (None until its first ingest)."""
        return self.data.get("collection")

    def expected_ids(self, source: str) -> list[str]:
        """The ids of a committed file's chunks (ids are `source:version:n`, n = 0 … chunks-1)."""
        info = self.files[source]
        return [f"{source}:{info['version']}:{n:05d}" for n in range(info["chunks"])]

    def entries(self) -> list[Entry]:
        """Every committed entry (built once per manifest read: listing questions look at all of them)."""
        if self._entries is None:
            self._entries = [
                _entry(source, info["version"], e) for source, info in self.files.items() for e in stored_entries(info)
            ]
        return self._entries

    def save(self) -> None:
        """Atomic: write a temporary file, fsync it, rename it over the old one."""
        for info in self.files.values():  # entries read from a manifest written before they were kept as strings
            if isinstance(info.get("entries"), list):
                info["entries"] = orjson.dumps(info["entries"]).decode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(orjson.dumps(self.data))
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
            # one JSON string per file: opening a manifest of 50,000 files parses 50,000 strings, not 200,000
            # entry objects (0.2 s instead of 3 s at a million chunks); they are parsed when the catalogue is read
            "entries": orjson.dumps([_stored_entry(e, source, version) for e in entries]).decode(),
        }
        self._entries = None

    def remove_file(self, source: str) -> None:
        self.files.pop(source)
        self._entries = None


def stored_entries(info: dict[str, Any]) -> list[dict[str, Any]]:
    """A manifest file record's entries, as stored (a JSON string; a list in manifests written before)."""
    raw = info.get("entries", [])
    entries: list[dict[str, Any]] = orjson.loads(raw) if isinstance(raw, str) else raw
    return entries


def _stored_entry(entry: Entry, source: str, version: str) -> dict[str, Any]:
    """An entry as the manifest keeps it: chunk ids as numbers within the file when they follow the
    `source:version:n` pattern (they always do; anything else is kept whole)."""
    data = asdict(entry)
    prefix = f"{source}:{version}:"
    numbers = [cid[len(prefix) :] for cid in entry.chunk_ids if cid.startswith(prefix)]
    if len(numbers) == len(entry.chunk_ids) and all(n.isdigit() for n in numbers):
        data["chunk_ids"] = None
        data["chunks"] = [int(n) for n in numbers]
    return data


def _entry(source: str, version: str, data: dict[str, Any]) -> Entry:
    data = dict(data)
    numbers = data.pop("chunks", None)
    if numbers is not None:
        data["chunk_ids"] = [f"{source}:{version}:{n:05d}" for n in numbers]
    return Entry(**data)
