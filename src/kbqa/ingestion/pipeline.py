"""Files → parts → chunks → vectors → index, incrementally and safely.

A manifest of content hashes decides the work: unchanged files are skipped,
changed ones re-embedded, deleted ones removed. Bad files are reported in one
line each and skipped. See store.py for why a killed run leaves a usable index.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kbqa.config import Settings
from kbqa.errors import CorpusMissingError, DocumentError
from kbqa.index import keyword as bm25
from kbqa.index.embed import BaseEmbedder, make_embedder, model_name
from kbqa.index.store import Store
from kbqa.ingestion.chunking import chunk_parts
from kbqa.ingestion.clean import clean
from kbqa.ingestion.loaders import SUPPORTED_SUFFIXES, hard_wrapped, load_text
from kbqa.ingestion.parse import parse
from kbqa.schema import Chunk, Entry, IngestReport

PARSER_VERSION = 4  # bump when loading, cleaning, parsing or chunking change what they produce
EMBED_GROUP = 256  # chunks embedded together (across small files) for full batches
STORE_BATCH = 512  # chunks embedded then written to Chroma at a time: bounds memory, and what a killed run keeps
KEYWORD_BATCH = 50_000  # chunks read back from Chroma and tokenized per keyword segment built (bounds memory)
MERGE_SHARE = 0.25  # merge keyword segments when deltas and masked chunks exceed this share of the live chunks
MAX_SEGMENTS = 8  # … or when there are more segments than this (each adds a pass per query term)
RETIRED_KEEP_S = 600.0  # keyword segments replaced by a commit stay this long for readers still using them


class Progress:
    """Receives ingest events; the CLI draws bars from them, the API ignores them."""

    def start(self, files: int) -> None: ...
    def embedding(self, chunks: int) -> None: ...
    def embedded(self, chunks: int) -> None: ...
    def file_done(self, name: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def notice(self, message: str) -> None: ...
    def waiting(self) -> None: ...


@dataclass
class _Parsed:
    path: Path
    source: str
    sha256: str
    version: str
    chunks: list[Chunk]
    entries: list[Entry]


def index_config(settings: Settings) -> dict[str, Any]:
    """Everything that changes what gets stored; a change re-indexes every file."""
    return {
        "embed_model": model_name(settings),
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "parser_version": PARSER_VERSION,
    }


def ingest(
    settings: Settings,
    paths: list[Path] | None = None,
    progress: Progress | None = None,
    wait: bool = False,
    embedder: Callable[[], BaseEmbedder] | None = None,
) -> IngestReport:
    """Bring the index up to date with `paths` (default: the corpus folder).

    With `wait`, a run that finds another ingest under way waits for it (saying so through
    `progress.waiting`) instead of failing. `embedder` supplies the model (loaded only if
    something needs embedding); without it, one is loaded for this run.
    """
    started = time.perf_counter()
    progress = progress or Progress()
    report = IngestReport()
    store = Store(settings)
    with store.writer_lock(wait=progress.waiting if wait else None):
        store.sync()  # another writer may have committed before we got the lock
        store.check_embedding(model_name(settings))  # before anything changes
        manifest = store.manifest
        legacy = bool(manifest.files) and manifest.collection is None
        store.count()  # an unreachable Chroma server fails here, before any work
        dirty = store.begin_write()
        config = index_config(settings)
        config_digest = hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()
        manifest.data["config"] = config  # file versions below include its digest

        files = discover(paths or [Path(settings.corpus_dir)], report, progress)
        report.files_seen = len(files)
        progress.start(len(files))

        repair = _missing_from_store(store, dirty, report, progress)
        # Files that are gone leave the manifest with the first commit below, not in commits of their own:
        # when every file was replaced, readers would otherwise see an empty index in between.
        gone = [source for source, info in manifest.files.items() if _gone(Path(info["path"]))]
        for source in gone:
            manifest.remove_file(source)

        todo: list[tuple[Path, str, str, str]] = []
        for path, source in files:
            old = manifest.files.get(source)
            if old and Path(old["path"]) != path.resolve() and not _gone(Path(old["path"])):
                _warn(report, progress, f"{path}: skipped, a different file named {source} is indexed ({old['path']})")
                continue
            try:
                sha = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError as exc:
                _warn(report, progress, f"{path}: skipped, cannot read ({exc.strerror})")
                continue
            version = hashlib.sha1(f"{sha}:{config_digest}".encode()).hexdigest()[:16]
            unchanged = old and old.get("version") == version and Path(old["path"]) == path.resolve()
            if unchanged and source not in repair:
                report.files_unchanged += 1
                progress.file_done(source)
                continue
            todo.append((path, source, sha, version))

        if todo:
            model = embedder() if embedder else make_embedder(settings, documents=True)
            store.record_embedding(model_name(settings), model.probe())
            group: list[_Parsed] = []
            for path, source, sha, version in todo:
                parsed = _parse_file(path, source, sha, version, settings, report, progress)
                if parsed is None:
                    continue
                group.append(parsed)
                if sum(len(p.chunks) for p in group) >= EMBED_GROUP:
                    _index_group(store, model, group, settings, report, progress)
                    group = []
            if group:
                _index_group(store, model, group, settings, report, progress)

        if gone:
            if not report.files_indexed:  # else the first group's commit carried the removals
                manifest.save()
            _delete_chunks_of(store, gone, report)
        if dirty:  # the last run died between writing and cleaning up: drop what it left behind
            report.chunks_removed += store.delete_dead()
        if legacy and store.drop_legacy_collection():
            _notice(report, progress, "moved the index to a collection of its own (older kbqa versions shared one)")
        _update_keyword_index(store)
        report.chunks_total = sum(info["chunks"] for info in manifest.files.values())
        store.end_write()
    report.seconds = time.perf_counter() - started
    return report


def _missing_from_store(store: Store, dirty: bool, report: IngestReport, progress: Progress) -> set[str]:
    """Committed files whose chunks are missing from Chroma (a deleted `chroma/` folder, an emptied or
    different server); they are indexed again. Ids are only compared when the counts disagree."""
    expected = sum(info["chunks"] for info in store.manifest.files.values())
    if not expected or (not dirty and store.count() == expected):
        return set()
    missing = store.missing_chunks()
    if missing:
        message = (
            f"{sum(missing.values())} chunk(s) of {len(missing)} indexed file(s) are missing from {store.where}; "
            "indexing those files again"
        )
        _notice(report, progress, message)
    return set(missing)


def discover(paths: list[Path], report: IngestReport, progress: Progress) -> list[tuple[Path, str]]:
    """Supported files under `paths` as (path, source name); everything skipped gets a warning."""
    found: dict[str, Path] = {}
    for root in paths:
        root = Path(root).expanduser()
        if not root.exists():
            raise CorpusMissingError(f"{root}: no such file or folder")
        for path in [root] if root.is_file() else _files_under(root, report, progress):
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                _warn(report, progress, f"{path}: skipped, unsupported file type {path.suffix or '(none)'!r}")
                continue
            if path.name in found and found[path.name] != path.resolve():
                _warn(report, progress, f"{path}: skipped, another file is also named {path.name} ({found[path.name]})")
                continue
            found[path.name] = path.resolve()
    return [(path, name) for name, path in found.items()]


def _files_under(root: Path, report: IngestReport, progress: Progress) -> list[Path]:
    """The regular files under `root`, hidden names left out, in path order. Folders reached through a
    symbolic link are followed; a link leading back to a folder it is in (a loop), a broken link, an
    unreadable folder and a special file (FIFO, socket, device) each get one warning line and are skipped.

    Our own walk rather than `Path.rglob`, which skips all of these silently.
    """
    files: list[Path] = []

    def visit(folder: Path, ancestors: frozenset[tuple[int, int]]) -> None:
        try:
            with os.scandir(folder) as entries:
                names = sorted(entry.name for entry in entries)
        except OSError as exc:
            _warn(report, progress, f"{folder}: skipped, cannot read folder ({exc.strerror or exc})")
            return
        for name in names:
            if name.startswith("."):
                continue
            path = folder / name
            try:
                info = path.stat()  # follows symbolic links
            except OSError as exc:
                _warn(report, progress, f"{path}: skipped, {_stat_problem(path, exc)}")
                continue
            if stat.S_ISDIR(info.st_mode):
                key = (info.st_dev, info.st_ino)
                if key in ancestors:
                    _warn(report, progress, f"{path}: skipped, symbolic link loop (leads back to {path.resolve()})")
                    continue
                visit(path, ancestors | {key})
            elif stat.S_ISREG(info.st_mode):
                files.append(path)
            else:
                _warn(report, progress, f"{path}: skipped, not a regular file")

    top = root.stat()
    visit(root, frozenset({(top.st_dev, top.st_ino)}))
    return sorted(files)


def _stat_problem(path: Path, exc: OSError) -> str:
    """Why a folder entry cannot be followed, in a few words."""
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if path.is_symlink() and exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return f"broken symbolic link (its target {os.readlink(path)} does not exist)"
    return f"cannot read ({exc.strerror or exc})"


def _gone(path: Path) -> bool:
    """True when an indexed file no longer exists. A file we may not look at (an unreadable folder) is not
    gone: its chunks stay until it can be read again."""
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def read_text(path: Path, max_bytes: int | None = None) -> str:
    """A file's clean text: loaded by its format's loader, then cleaned (printed lines re-joined)."""
    return clean(load_text(path, max_bytes), hard_wrapped=True if hard_wrapped(path) else None)


def _parse_file(
    path: Path, source: str, sha: str, version: str, settings: Settings, report: IngestReport, progress: Progress
) -> _Parsed | None:
    try:
        text = read_text(path, int(settings.max_file_mb * 1_000_000))
        if not text:
            raise DocumentError("no text left after removing boilerplate")
        parts = parse(text, source)
        chunks = chunk_parts(parts, source, version, settings.chunk_size, settings.chunk_overlap)
        if not chunks:
            raise DocumentError("no text to index")
    except DocumentError as exc:  # only the loaders' reports: a bug in kbqa's own parsing surfaces as a bug
        _warn(report, progress, f"{path}: skipped, {exc}")
        progress.file_done(source)
        return None
    entries = list({id(p.entry): p.entry for p in parts}.values())
    return _Parsed(path.resolve(), source, sha, version, chunks, entries)


def _index_group(
    store: Store,
    embedder: BaseEmbedder,
    group: list[_Parsed],
    settings: Settings,
    report: IngestReport,
    progress: Progress,
) -> None:
    """Embed and store a group of files in batches, then commit them together with their keyword segment
    (one manifest save), then delete their old versions' chunks.

    Chunks already in Chroma under the same id (so the same content and settings: ids carry the
    file's version) were stored by an interrupted run and are kept, not embedded again; so a large
    file that was half-embedded when its ingest was killed resumes where it stopped, and memory
    stays bounded by one batch. Committing files and keyword segment at once means a committed file
    is always keyword-searchable, even if the run dies right after.
    """
    chunks = [c for p in group for c in p.chunks]
    progress.embedding(len(chunks))
    stored = store.present([c.id for c in chunks])
    if stored:
        progress.embedded(len(stored))
    todo = [c for c in chunks if c.id not in stored]
    for start in range(0, len(todo), STORE_BATCH):
        batch = todo[start : start + STORE_BATCH]
        vectors = embedder.embed([c.embed_text for c in batch], settings.embed_batch_size, on_batch=progress.embedded)
        store.upsert(batch, vectors)
    old_ids = {parsed.source: set(store.ids_of_source(parsed.source)) for parsed in group}
    for parsed in group:
        store.manifest.set_file(
            parsed.source, parsed.path, parsed.sha256, parsed.version, parsed.chunks, parsed.entries
        )
    _stage_keyword_index(store)
    store.manifest.save()  # the commit point
    for parsed in group:
        stale = sorted(old_ids[parsed.source] - {c.id for c in parsed.chunks})
        store.delete(stale)
        report.files_indexed += 1
        report.chunks_added += len(parsed.chunks)
        report.chunks_removed += len(stale)
        progress.file_done(parsed.source)


def remove(settings: Settings, source: str) -> IngestReport:
    """Drop one indexed file from the index: commit the manifest without it (which masks its chunks in
    the keyword index), then delete its chunks. The file itself is not touched."""
    started = time.perf_counter()
    report = IngestReport()
    store = Store(settings)
    with store.writer_lock():
        store.sync()
        store.begin_write()
        if source in store.manifest.files:
            store.manifest.remove_file(source)
            store.manifest.save()
            _delete_chunks_of(store, [source], report)
            _update_keyword_index(store)
        report.chunks_total = sum(info["chunks"] for info in store.manifest.files.values())
        store.end_write()
    report.seconds = time.perf_counter() - started
    return report


def _delete_chunks_of(store: Store, sources: list[str], report: IngestReport) -> None:
    """Delete the chunks of files a commit has just dropped from the manifest; a file of the same name
    indexed again in the same run (moved to another folder) keeps the chunks of its committed version."""
    for source in sources:
        kept = (store.manifest.files.get(source) or {}).get("version")
        ids = [cid for cid in store.ids_of_source(source) if cid.rsplit(":", 2)[1] != kept]
        store.delete(ids)
        report.files_removed += 1
        report.chunks_removed += len(ids)


def _update_keyword_index(store: Store) -> None:
    """Commit the keyword index if it is behind the manifest (removed files to merge away, an index
    written before segments, lost segment folders), then delete segment folders no reader needs."""
    if _stage_keyword_index(store):
        store.manifest.save()
    state = store.manifest.data.get("bm25") or {}
    data_dir = Path(store.settings.data_dir)
    bm25.remove_other_indexes(data_dir, keep=[*(state.get("segments") or []), *(state.get("retired") or {})])


def _stage_keyword_index(store: Store) -> bool:
    """Bring the manifest's keyword-index record up to date with its files, in time proportional to the
    change (the caller saves the manifest: that commits both); True if it changed.

    The chunks of every (source, version) in the manifest that no segment holds yet are read back from
    Chroma into a new delta segment; replaced and removed ones are masked by the manifest alone. When
    deltas and masked chunks outgrow MERGE_SHARE of the index, or there are more than MAX_SEGMENTS,
    everything is merged into one main segment. What to add is derived from the manifest, not from
    this run, so whatever an earlier run left behind is caught up too. Segments this retires stay on
    disk for RETIRED_KEEP_S (and at least one more commit): a reader, maybe on another machine
    sharing the folder, may still be using them.
    """
    manifest = store.manifest
    data_dir = Path(store.settings.data_dir)
    state = manifest.data.get("bm25") or {}
    live = {source: info["version"] for source, info in manifest.files.items()}
    names: list[str] = list(state.get("segments") or [])
    avgdl: float | None = state.get("avgdl")
    if not names or not bm25.exists(data_dir, names):  # none yet, written before segments, or lost: build anew
        names, avgdl = [], None
    segments = bm25.open_segments(data_dir, names)
    uncovered = sorted({(s, v) for s, v in live.items()} - bm25.covered_pairs(segments))
    for batch in _live_chunks_of(store, [s for s, _ in uncovered]):
        name, measured = bm25.build(batch, data_dir, avgdl)
        avgdl = avgdl if avgdl is not None else measured
        names.append(name)
        segments.append(bm25.Segment(data_dir / name))
    if not segments:  # an empty index still has a (empty) main segment: "no segment" means "lost"
        name, avgdl = bm25.build([], data_dir)
        names, segments = [name], [bm25.Segment(data_dir / name)]
    if _should_merge(segments, live):
        name, avgdl = bm25.merge(segments, live, data_dir)
        names, segments = [name], [bm25.Segment(data_dir / name)]
    if names == state.get("segments"):
        return False
    now = time.time()
    retired = {n: t for n, t in (state.get("retired") or {}).items() if now - t < RETIRED_KEEP_S and n not in names}
    retired.update({n: now for n in (state.get("segments") or []) if n not in names})
    if state.get("dir"):  # the single index of kbqa before segments
        retired.setdefault(state["dir"], now)
    manifest.data["bm25"] = {"segments": names, "avgdl": avgdl, "retired": retired}
    return True


def _should_merge(segments: list[bm25.Segment], live: dict[str, str]) -> bool:
    """Merge when deltas and masked chunks outweigh MERGE_SHARE of the live ones, or segments pile up."""
    if len(segments) > MAX_SEGMENTS:
        return True
    n_live = sum(int(m.sum()) for m in bm25.live_masks(segments, live))
    masked = sum(s.n_docs for s in segments) - n_live
    deltas = sum(s.n_docs for s in segments[1:])
    return len(segments) > MAX_SEGMENTS or masked + deltas > MERGE_SHARE * max(n_live, 1)


def _live_chunks_of(store: Store, sources: list[str]) -> Iterator[list[Chunk]]:
    """The committed chunks of `sources`, read back from Chroma in batches of KEYWORD_BATCH."""
    ids = [cid for source in sources for cid in store.manifest.expected_ids(source)]
    for start in range(0, len(ids), KEYWORD_BATCH):
        batch = ids[start : start + KEYWORD_BATCH]
        got = store.get(batch)
        yield [got[cid][0] for cid in batch if cid in got]


def _notice(report: IngestReport, progress: Progress, message: str) -> None:
    report.notices.append(message)
    progress.notice(message)


def _warn(report: IngestReport, progress: Progress, message: str) -> None:
    report.warnings.append(message)
    report.files_skipped += 1
    progress.warn(message)
