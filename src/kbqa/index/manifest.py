"""The manifest: which files are indexed, at which version, with which entries; the commit point of every ingest.

A chunk is *live* only if the manifest's version for its source equals the chunk's `version`; the
manifest is replaced atomically, so readers always see one committed state.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kbqa.errors import StoreError
from kbqa.schema import Chunk, Entry

MANIFEST_FORMAT = 2  # 2: each index owns a Chroma collection named in its manifest


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

    @property
    def collection(self) -> str | None:
        """The Chroma collection this index owns (None until its first ingest)."""
        return self.data.get("collection")

    def expected_ids(self, source: str) -> list[str]:
        """The ids of a committed file's chunks (ids are `source:version:n`, n = 0 … chunks-1)."""
        info = self.files[source]
        return [f"{source}:{info['version']}:{n:05d}" for n in range(info["chunks"])]

    def entries(self) -> list[Entry]:
        return [Entry(**e) for info in self.files.values() for e in info.get("entries", [])]

    def save(self) -> None:
        """Atomic: write a temporary file, fsync it, rename it over the old one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.data, fh, ensure_ascii=False, separators=(",", ":"))  # compact: ~7× faster than indented
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
