"""Index building as the web UI shows it: the first build in the background, ingest progress as text.

`IndexStatus` receives kbqa's ingest progress events and keeps a one-line description that the
page polls while the first build runs; questions asked meanwhile wait for it.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

from kbqa import KnowledgeBase, Progress
from kbqa.errors import KBQAError


class IngestProgress(Progress):
    """kbqa ingest progress events → counts and a one-line description (thread-safe)."""

    def __init__(self, on_change: Callable[[IngestProgress], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._on_change = on_change
        self.files = self.files_total = self.chunks = self.chunks_total = 0
        self.warnings: list[str] = []
        self.waiting_for_other = False

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self)

    def start(self, files: int) -> None:
        with self._lock:
            self.files_total = files
        self._changed()

    def embedding(self, chunks: int) -> None:
        with self._lock:
            self.chunks_total += chunks
        self._changed()

    def embedded(self, chunks: int) -> None:
        with self._lock:
            self.chunks += chunks
        self._changed()

    def file_done(self, name: str) -> None:
        with self._lock:
            self.files += 1
        self._changed()

    def warn(self, message: str) -> None:
        with self._lock:
            self.warnings.append(message)

    def notice(self, message: str) -> None:
        pass

    def waiting(self) -> None:
        with self._lock:
            self.waiting_for_other = True
        self._changed()

    def fraction(self) -> float | None:
        if self.chunks_total:
            return min(1.0, self.chunks / self.chunks_total)
        return self.files / self.files_total if self.files_total else None

    def describe(self) -> str:
        if self.waiting_for_other and not self.files_total:
            return "waiting for another kbqa process that is indexing this data folder"
        text = f"{self.files}/{self.files_total} files"
        if self.chunks_total:
            text += f", {self.chunks}/{self.chunks_total} passages embedded"
        return text


class IndexStatus:
    """Whether the index is ready; builds it from the corpus folder in the background if it is empty."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.ready = threading.Event()
        self.progress: IngestProgress | None = None
        self.error: str | None = None
        self.summary: str | None = None
        self.started = time.monotonic()

    def start(self) -> None:
        """Build the index if it is empty, then warm the models up, in a background thread."""
        threading.Thread(target=self._run, name="kbqa-first-build", daemon=True).start()

    def _run(self) -> None:
        try:
            self.progress = IngestProgress()
            if not self.kb.sources():
                corpus = self.kb.settings.corpus_dir
                print(
                    f"kbqa ui: no index yet: building it from {corpus}/ (first run only)…", file=sys.stderr, flush=True
                )
            report = self.kb.ensure_index(progress=self.progress)
            if report is not None:
                self.summary = report.summary()
                print(f"kbqa ui: index built: {self.summary}", file=sys.stderr, flush=True)
        except KBQAError as exc:
            self.error = str(exc)
            print(f"kbqa ui: error: cannot build the index: {exc}", file=sys.stderr, flush=True)
        finally:
            self.ready.set()
        if self.error is None:
            self._warm_up()

    def _warm_up(self) -> None:
        """Load the embedding model and the indexes now, so the first question is not the slow one."""
        try:
            self.kb.retrieve("co-production", k=1)
        except KBQAError as exc:  # the first real question will report it
            print(f"kbqa ui: warning: warm-up failed: {exc}", file=sys.stderr, flush=True)

    def describe(self) -> str:
        """One line for the page: building (with progress), failed, or ready."""
        if self.error:
            return f"The index could not be built: {self.error}"
        if not self.ready.is_set():
            progress = self.progress.describe() if self.progress else "starting"
            seconds = time.monotonic() - self.started
            return f"Building the index from the corpus folder (first run only): {progress}, {seconds:.0f} s…"
        return ""
