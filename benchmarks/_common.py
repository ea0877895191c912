"""Helpers shared by the benchmarks (not a test module; the benchmarks are run by hand).

Each benchmark prints a short report on stdout (or one JSON object with `--json`)
and its progress on stderr, and removes every temporary folder it made.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
QUESTIONS = REPO / "evals" / "sets" / "dev.jsonl"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    return p


def log(message: str) -> None:
    """Progress on stderr, so stdout stays the report (or the JSON)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


_LOAD_AT_START = os.getloadavg()[0]


def machine() -> dict[str, Any]:
    """The machine, with its 1-minute load average when the benchmark started and now (other work skews times)."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_1m_start": round(_LOAD_AT_START, 2),
        "loadavg_1m_end": round(os.getloadavg()[0], 2),
    }


def machine_line() -> str:
    m = machine()
    return (
        f"  machine          {m['cpus']} cores, Python {m['python']}, 1-min load average "
        f"{m['loadavg_1m_start']} at start, {m['loadavg_1m_end']} at end"
    )


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): the smallest value with at least q% of values at or below it."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(values: list[float]) -> dict[str, float]:
    """p50/p95/min/max/mean of a list of milliseconds, rounded for printing."""
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
        "mean": round(statistics.fmean(values), 1),
    }


def questions(limit: int | None = None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        row.setdefault("history", [])
    return rows[:limit] if limit else rows


def emit(args: argparse.Namespace, result: dict[str, Any], lines: list[str]) -> None:
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print("\n".join(lines))


# ---------------------------------------------------------------- phase timing by monkeypatching


class PhaseTimer:
    """Wraps functions to add up their *exclusive* wall time per phase name.

    A timed call made inside another timed call is subtracted from the outer one,
    so the phases never count the same second twice and `other` is what is left.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[float] = []  # time spent in timed children of each open call
        self._restore: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, attr: str, phase: str, eager: bool = False) -> None:
        """Replace `owner.attr` with a timed version; `eager` materialises a returned iterator inside the timer."""
        original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
        func = original.__func__ if isinstance(original, (staticmethod, classmethod)) else original
        timer = self

        @functools.wraps(func)
        def timed(*a: Any, **kw: Any) -> Any:
            timer._stack.append(0.0)
            started = time.perf_counter()
            try:
                result = func(*a, **kw)
                if eager:
                    result = iter(list(result))
                return result
            finally:
                elapsed = time.perf_counter() - started
                children = timer._stack.pop()
                timer.seconds[phase] += elapsed - children
                timer.calls[phase] += 1
                if timer._stack:
                    timer._stack[-1] += elapsed

        setattr(owner, attr, timed)
        self._restore.append((owner, attr, original))

    def restore(self) -> None:
        for owner, attr, original in reversed(self._restore):
            setattr(owner, attr, original)
        self._restore.clear()

    @contextmanager
    def active(self) -> Iterator[PhaseTimer]:
        try:
            yield self
        finally:
            self.restore()


def timed(func: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = func()
    return result, time.perf_counter() - started


# ---------------------------------------------------------------- synthetic text from the real corpus

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"'(])")
_ENTRY_TITLE = re.compile(
    r"^\S.{2,300}\((?:[A-Z][a-z]+\.? )?(?:19|20)\d{2}[^()]*\)$|^\S.{2,300}\((?:ongoing|present)\)$"
)


def corpus_texts() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(CORPUS.iterdir()) if p.is_file()}


def corpus_pieces() -> dict[str, list[str]]:
    """The corpus cut into the kinds of lines a knowledge-base page has.

    prose: paragraphs of running text; sentences: their sentences; titles: entry title
    lines such as "Name of project (2014 – 2016)"; keywords / contributors: the field lines.
    """
    from kbqa.ingestion.clean import clean

    prose, titles, keywords, contributors = [], [], [], []
    for text in corpus_texts().values():
        for para in clean(text).split("\n\n"):
            para = para.strip()
            low = para.lower()
            if low.startswith("keywords"):
                keywords.append(para)
            elif low.startswith("contributed by"):
                contributors.append(para)
            elif _ENTRY_TITLE.match(para):
                titles.append(para)
            elif len(para) >= 200 and "\n" not in para:
                prose.append(para)
    sentences = [s for p in prose for s in _SENTENCE_END.split(p) if len(s.split()) >= 5]
    return {
        "prose": prose,
        "sentences": sentences,
        "titles": titles,
        "keywords": keywords,
        "contributors": contributors,
    }


def synthetic_page(rng: random.Random, pieces: dict[str, list[str]], entries: int = 8) -> str:
    """A knowledge-base page in the corpus' own format, recombined from corpus paragraphs.

    Each entry has a title line with dates, 2-5 paragraphs (sentence order shuffled
    within each, so no two chunks are identical), then Keywords and Contributed by lines.
    """
    lines = ["Search the co-production knowledge base", "", "Research – synthetic benchmark page", ""]
    for _ in range(entries):
        lines += [rng.choice(pieces["titles"]), ""]
        for para in rng.sample(pieces["prose"], min(rng.randint(2, 5), len(pieces["prose"]))):
            sentences = _SENTENCE_END.split(para)
            rng.shuffle(sentences)
            lines += [" ".join(sentences), ""]
        lines += [rng.choice(pieces["keywords"]), "", rng.choice(pieces["contributors"]), "", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- a synthetic index at scale, cached between runs

CACHE_ROOT = Path("/tmp/kbqa-bench-cache")
SYNTHETIC_FORMAT = 1  # bump when the synthetic index's layout or generator changes (old caches are then ignored)
SYNTHETIC_BATCH = 10_000  # chunks generated, stored and committed at a time (a killed build resumes per batch)
WORDS_PER_CHUNK = 150


def synthetic_index(n: int, per_source: int = 20, seed: int = 7, cache: Path | None = CACHE_ROOT) -> dict[str, Any]:
    """An index of n live chunks written through kbqa's own store, manifest and keyword index.

    Real embeddings for 100k+ chunks would take hours, so texts are ~150-word recombinations of corpus
    sentences (the corpus' vocabulary and term frequencies, so BM25 does realistic work) and vectors
    are random unit 384-d vectors. Each source file exists on disk with exactly the content its
    manifest hash says, so `kbqa ingest` treats it as unchanged. Built in batches, each committed as
    ingestion commits (chunks, then the manifest; one keyword segment per batch, merged at the end),
    so a killed build resumes. With `cache`, the finished index is kept under it for later runs;
    returns {"settings", "folder", "cached", "timings"}.
    """
    import shutil
    import tempfile

    from kbqa.config import Settings, offline

    offline()
    name = f"synthetic-{n}-p{per_source}-s{seed}-f{SYNTHETIC_FORMAT}"
    folder = (cache / name) if cache else Path(tempfile.mkdtemp(prefix="kbqa-bench-synthetic-"))
    settings = Settings(data_dir=folder / "data", corpus_dir=folder / "sources", chroma_url=None, llm=None)
    done = folder / "complete.json"
    if done.exists():
        log(f"using the cached synthetic index of {n} chunks in {folder}")
        return {"settings": settings, "folder": folder, "cached": True, "timings": json.loads(done.read_text())}
    if not cache:
        shutil.rmtree(folder, ignore_errors=True)
    timings = _build_synthetic(n, per_source, seed, settings)
    done.write_text(json.dumps(timings))
    return {"settings": settings, "folder": folder, "cached": False, "timings": timings}


def _build_synthetic(n: int, per_source: int, seed: int, settings) -> dict[str, float]:
    import hashlib

    import numpy as np

    from kbqa.index import keyword as bm25
    from kbqa.index.store import Store
    from kbqa.ingestion.pipeline import index_config

    if SYNTHETIC_BATCH % per_source:
        raise SystemExit(f"--per-source must divide {SYNTHETIC_BATCH}")
    vocab = _synthetic_vocabulary()
    config = index_config(settings)
    digest = hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()
    sources = Path(settings.corpus_dir)
    sources.mkdir(parents=True, exist_ok=True)
    store = Store(settings)
    store.begin_write()
    manifest = store.manifest
    manifest.data["config"] = config
    state = manifest.data.get("bm25") or {"segments": [], "avgdl": None}
    timings = dict(manifest.data.get("synthetic_timings") or {})
    batches = (n + SYNTHETIC_BATCH - 1) // SYNTHETIC_BATCH
    first = len(manifest.files) * per_source // SYNTHETIC_BATCH  # batches committed by an earlier, killed run
    if first:
        log(f"resuming the synthetic build at batch {first + 1} of {batches}")
    bm25.remove_other_indexes(Path(settings.data_dir), keep=state["segments"])
    for b in range(first, batches):
        started = time.perf_counter()
        count = min(SYNTHETIC_BATCH, n - b * SYNTHETIC_BATCH)
        files = _synthetic_files(b, count, per_source, seed, digest, vocab)
        chunks = [c for f in files for c in f["chunks"]]
        vectors = np.random.default_rng([seed, b]).standard_normal((len(chunks), 384), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        for f in files:
            (sources / f["source"]).write_text(f["text"], encoding="utf-8")
        _add(timings, "generate_s", time.perf_counter() - started)

        started = time.perf_counter()
        store.upsert(chunks, vectors)
        _add(timings, "chroma_upsert_s", time.perf_counter() - started)

        started = time.perf_counter()
        name, avgdl = bm25.build(chunks, Path(settings.data_dir), state["avgdl"])
        state = {"segments": [*state["segments"], name], "avgdl": state["avgdl"] or avgdl}
        _add(timings, "bm25_build_s", time.perf_counter() - started)

        started = time.perf_counter()
        for f in files:
            manifest.set_file(f["source"], sources / f["source"], f["sha"], f["version"], f["chunks"], f["entries"])
        manifest.data["bm25"] = state
        manifest.data["synthetic_timings"] = timings
        manifest.save()
        _add(timings, "manifest_s", time.perf_counter() - started)
        log(f"  batch {b + 1}/{batches}: {b * SYNTHETIC_BATCH + count} chunks ({sum(timings.values()):.0f} s so far)")

    if len(state["segments"]) > 1:
        started = time.perf_counter()
        live = {s: i["version"] for s, i in manifest.files.items()}
        segments = bm25.open_segments(Path(settings.data_dir), state["segments"])
        name, avgdl = bm25.merge(segments, live, Path(settings.data_dir))
        manifest.data["bm25"] = {"segments": [name], "avgdl": avgdl, "retired": {}}
        manifest.save()
        bm25.remove_other_indexes(Path(settings.data_dir), keep=[name])
        _add(timings, "bm25_merge_s", time.perf_counter() - started)
        log(f"  merged {len(segments)} keyword segments in {timings['bm25_merge_s']:.1f} s")
    manifest.data.pop("synthetic_timings", None)
    manifest.save()
    if store.count() != sum(info["chunks"] for info in manifest.files.values()):
        # a batch killed between its chunks and its commit under an older index config left chunks of another
        # version: dropped as `kbqa ingest` drops what a killed run left (else every ingest checks 1M ids)
        log(f"  removed {store.delete_dead()} chunks no commit holds")
    store.end_write()
    timings["count"] = store.count()
    return timings


def _add(timings: dict[str, float], key: str, seconds: float) -> None:
    timings[key] = timings.get(key, 0.0) + seconds


@functools.lru_cache(maxsize=1)
def _synthetic_vocabulary() -> dict[str, list[str]]:
    pieces = corpus_pieces()
    keywords = sorted(
        {k.strip().lower() for line in pieces["keywords"] for k in line.split(":", 1)[1].split(",")} - {""}
    )
    people = sorted(
        {
            item.split("–")[0].strip()
            for line in pieces["contributors"]
            for item in line.split(":", 1)[1].split(",")
            if item.strip()
        }
    )
    titles = [t.rsplit("(", 1)[0].strip().rstrip(".") for t in pieces["titles"]]
    return {"sentences": pieces["sentences"], "titles": titles, "keywords": keywords, "people": people}


def _synthetic_files(
    batch: int, count: int, per_source: int, seed: int, digest: str, vocab: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """The source files of one batch, deterministic in (seed, batch): text, hash, version, chunks, entries."""
    import hashlib

    from kbqa.schema import Chunk, Entry

    rng = random.Random(f"{seed}:{batch}")
    files = []
    for s in range((count + per_source - 1) // per_source):
        source = f"synthetic_{batch * (SYNTHETIC_BATCH // per_source) + s:06d}.txt"
        size = min(per_source, count - s * per_source)
        texts = []
        for _ in range(size):
            words: list[str] = []
            while len(words) < WORDS_PER_CHUNK:
                words += rng.choice(vocab["sentences"]).split()
            texts.append(" ".join(words))
        text = "\n\n".join(texts)
        sha = hashlib.sha256(text.encode()).hexdigest()
        version = hashlib.sha1(f"{sha}:{digest}".encode()).hexdigest()[:16]
        entries = []
        for e in range(min(max(1, per_source // 5), size)):
            year = rng.randint(2005, 2020)
            entries.append(
                Entry(
                    entry_id=f"{source}#{e}",
                    source=source,
                    title=rng.choice(vocab["titles"]),
                    year_start=year,
                    year_end=year + rng.randint(0, 3),
                    keywords=rng.sample(vocab["keywords"], rng.randint(2, 5)),
                    contributors=rng.sample(vocab["people"], rng.randint(1, 3)),
                )
            )
        chunks = []
        for i, chunk_text in enumerate(texts):
            entry = entries[i * len(entries) // size]
            cid = f"{source}:{version}:{i:05d}"
            entry.chunk_ids.append(cid)
            meta = {
                "entry_id": entry.entry_id,
                "version": version,
                "chunk_index": i,
                "year_start": entry.year_start,
                "year_end": entry.year_end,
                "keywords": [k.lower() for k in entry.keywords],
                "contributors": [c.lower() for c in entry.contributors],
            }
            chunks.append(Chunk(id=cid, text=chunk_text, source=source, title=entry.title, metadata=meta))
        files.append(
            {"source": source, "text": text, "sha": sha, "version": version, "chunks": chunks, "entries": entries}
        )
    return files


def disk_mb(*paths: Path) -> float:
    """Size on disk of files and folders (recursively), in MB."""
    total = 0
    for path in map(Path, paths):
        files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
        total += sum(f.stat().st_size for f in files)
    return total / 1e6


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
