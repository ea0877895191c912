"""Hybrid (dense + BM25) retrieval latency at 100k chunks: `Retriever.search` p50/p95 vs a 200 ms target.

    python benchmarks/retrieval_scale.py [--n 100000] [--questions 50] [--json]

Embedding 100k real chunks would take hours here, so the index is synthetic but
built through kbqa's own store: chunk texts of ~150 words made of corpus sentences
(so BM25 sees the corpus' vocabulary and term frequencies), random unit 384-d
vectors, written with Store.upsert, the keyword index built with bm25.build, and a
manifest that makes every chunk live, committed as ingestion does. Then a fresh
Store + Retriever answer real questions from evals/sets/dev.jsonl; the query
embedding goes through the real embedder and is reported separately too.

Random vectors have no cluster structure, which is the hard case for HNSW, and a
small vocabulary gives longer BM25 posting lists than a real corpus of this size:
both make these figures conservative.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import PhaseTimer, corpus_pieces, emit, log, machine, machine_line, parser, questions, summary_ms

TARGET_MS = 200.0
SLOW_BUILD_S = 300.0
WORDS_PER_CHUNK = 150


def synthetic_index(n: int, per_source: int, seed: int, data_dir: Path, settings) -> dict:  # noqa: ANN001
    """Write n live chunks into the store at settings.data_dir; returns the build timings."""
    from kbqa.index import keyword as bm25
    from kbqa.index.store import Store
    from kbqa.ingestion.pipeline import index_config
    from kbqa.schema import Chunk, Entry

    rng = random.Random(seed)
    pieces = corpus_pieces()
    sentences = pieces["sentences"]
    titles = [t.rsplit("(", 1)[0].strip().rstrip(".") for t in pieces["titles"]]
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
    config = index_config(settings)
    config_digest = hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()

    timings: dict[str, float] = {}
    started = time.perf_counter()
    chunks: list[Chunk] = []
    sources: list[tuple[str, str, str, list[Chunk], list[Entry]]] = []
    entries_per_source = max(1, per_source // 5)
    for s in range((n + per_source - 1) // per_source):
        source = f"synthetic_{s:05d}.txt"
        count = min(per_source, n - s * per_source)
        texts = []
        for _ in range(count):
            words: list[str] = []
            while len(words) < WORDS_PER_CHUNK:
                words += rng.choice(sentences).split()
            texts.append(" ".join(words))
        sha = hashlib.sha256("\n\n".join(texts).encode()).hexdigest()
        version = hashlib.sha1(f"{sha}:{config_digest}".encode()).hexdigest()[:16]
        entries = []
        for e in range(min(entries_per_source, count)):
            year = rng.randint(2005, 2020)
            entries.append(
                Entry(
                    entry_id=f"{source}#{e}",
                    source=source,
                    title=rng.choice(titles),
                    year_start=year,
                    year_end=year + rng.randint(0, 3),
                    keywords=rng.sample(keywords, rng.randint(2, 5)),
                    contributors=rng.sample(people, rng.randint(1, 3)),
                )
            )
        own = []
        for i, text in enumerate(texts):
            entry = entries[i * len(entries) // count]
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
            own.append(Chunk(id=cid, text=text, source=source, title=entry.title, metadata=meta))
        chunks += own
        sources.append((source, sha, version, own, entries))
    vectors = np.random.default_rng(seed).standard_normal((n, 384), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    timings["generate_s"] = time.perf_counter() - started
    log(f"generated {n} chunks in {len(sources)} sources ({timings['generate_s']:.1f} s)")

    # As ingestion does: write the chunks, then commit the manifest that makes them live.
    store = Store(settings)
    started = time.perf_counter()
    step = 10_000
    for start in range(0, n, step):
        store.upsert(chunks[start : start + step], vectors[start : start + step])
        log(f"  chroma upsert {min(start + step, n)}/{n} ({time.perf_counter() - started:.0f} s)")
    timings["chroma_upsert_s"] = time.perf_counter() - started

    started = time.perf_counter()
    name = bm25.build(chunks, data_dir)
    timings["bm25_build_s"] = time.perf_counter() - started
    log(f"  bm25 build {timings['bm25_build_s']:.1f} s")

    started = time.perf_counter()
    manifest = store.manifest
    manifest.data["config"] = config
    for source, sha, version, own, entries in sources:
        manifest.set_file(source, data_dir / "sources" / source, sha, version, own, entries)
    generation = hashlib.sha1(
        json.dumps(sorted((s, i.get("version")) for s, i in manifest.files.items())).encode()
    ).hexdigest()
    manifest.data["bm25"] = {"dir": name, "generation": generation}
    manifest.save()
    bm25.remove_other_indexes(data_dir, keep=name)
    timings["manifest_s"] = time.perf_counter() - started
    timings["count"] = store.count()
    return timings


def main() -> int:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000, help="synthetic chunks (default 100000)")
    p.add_argument("--questions", type=int, default=50, help="real questions to time (default 50)")
    p.add_argument("--per-source", type=int, default=20, help="chunks per synthetic source file (default 20)")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()

    from kbqa.config import Settings, offline
    from kbqa.index.embed import Embedder
    from kbqa.index.keyword import KeywordIndex
    from kbqa.index.store import Store
    from kbqa.retrieve import Retriever

    offline()
    qs = [q["question"] for q in questions(args.questions)]
    with tempfile.TemporaryDirectory(prefix="kbqa-bench-scale-") as tmp:
        data_dir = Path(tmp) / "data"
        settings = Settings(data_dir=data_dir, corpus_dir=Path(tmp) / "corpus")
        embedder = Embedder(Path(settings.model_cache_dir), settings.embed_threads)
        embedder.embed_one("warm up")

        log(f"building a synthetic index of {args.n} chunks…")
        started, cpu = time.perf_counter(), time.process_time()
        build = synthetic_index(args.n, args.per_source, args.seed, data_dir, settings)
        build_s, build_cpu = time.perf_counter() - started, time.process_time() - cpu
        log(f"built in {build_s:.0f} s; {build['count']} chunks in Chroma")
        disk_mb = sum(f.stat().st_size for f in data_dir.rglob("*") if f.is_file()) / 1e6

        # A fresh store and retriever, as a new process would have (the embedder stays loaded).
        retriever = Retriever(settings, Store(settings), lambda: embedder)
        timer = PhaseTimer()
        with timer.active():
            timer.wrap(Embedder, "embed_one", "query embedding")
            timer.wrap(Store, "query", "dense (chroma)")
            timer.wrap(KeywordIndex, "search", "bm25")
            timer.wrap(Store, "get", "fetch bm25-only hits")

            def search(q: str) -> tuple[float, dict[str, float], int]:
                before = dict(timer.seconds)
                started = time.perf_counter()
                hits = retriever.search(q)
                total = (time.perf_counter() - started) * 1000
                phases = {k: (v - before.get(k, 0.0)) * 1000 for k, v in timer.seconds.items()}
                phases["fusion and rest"] = total - sum(phases.values())
                return total, phases, len(hits)

            first_ms, first_phases, _ = search(qs[0])
            log(f"first search (loads the indexes): {first_ms:.0f} ms")
            for q in qs[1:4]:
                search(q)
            rows = [search(q) for q in qs]

        # What every ingest that changes anything pays at this size: _refresh_keyword_index reads
        # every live chunk back from Chroma (Store.iter_live) and rebuilds BM25 (timed above).
        log("reading every live chunk back (as ingest's BM25 refresh does)…")
        started = time.perf_counter()
        live = sum(1 for _ in Store(settings).iter_live())
        readback_s = time.perf_counter() - started

    totals = [r[0] for r in rows]
    names = list(rows[0][1])
    per_phase = {name: summary_ms([r[1].get(name, 0.0) for r in rows]) for name in names}
    without_embed = [r[0] - r[1].get("query embedding", 0.0) for r in rows]
    total = summary_ms(totals)
    rest = summary_ms(without_embed)
    hits_ok = all(r[2] == settings.k for r in rows)
    slow_build = build_s > SLOW_BUILD_S

    result = {
        "benchmark": "retrieval_scale",
        "machine": machine(),
        "chunks": args.n,
        "questions": len(rows),
        "k": settings.k,
        "every_search_returned_k_hits": hits_ok,
        "build_s": {k: round(v, 2) for k, v in build.items() if k != "count"} | {"total": round(build_s, 1)},
        "build_cpu_s": round(build_cpu, 1),
        "bm25_refresh_floor_s": {"iter_live": round(readback_s, 2), "bm25_build": round(build["bm25_build_s"], 2)},
        "live_chunks_read_back": live,
        "build_over_5_min": slow_build,
        "index_disk_mb": round(disk_mb, 1),
        "first_search_ms": round(first_ms, 1),
        "first_search_phases_ms": {k: round(v, 1) for k, v in first_phases.items()},
        "search_ms": total,
        "search_without_query_embedding_ms": rest,
        "phases_ms": per_phase,
        "target_ms": TARGET_MS,
        "p50_to_target": round(total["p50"] / TARGET_MS, 3),
        "p95_to_target": round(total["p95"] / TARGET_MS, 3),
        "meets_target": total["p50"] < TARGET_MS,
    }
    lines = [
        f"hybrid retrieval at scale: Retriever.search (k={settings.k}) over {args.n} synthetic chunks, "
        f"{len(rows)} real questions",
        f"  build            {build_s:.0f} s total: generate {build['generate_s']:.1f} s, chroma upsert "
        f"{build['chroma_upsert_s']:.1f} s ({args.n / build['chroma_upsert_s']:.0f} chunks/s), bm25 build "
        f"{build['bm25_build_s']:.1f} s, manifest {build['manifest_s']:.1f} s; {disk_mb:.0f} MB on disk"
        + ("  (over 5 min: use --n for quicker runs)" if slow_build else ""),
        f"                   process CPU {build_cpu:.0f} s for {build_s:.0f} s wall "
        f"({build_cpu / build_s:.2f} cores busy on average)",
        f"  first search     {first_ms:.0f} ms (opens Chroma's index and maps the BM25 matrices)",
        f"  search           p50 {total['p50']:6.1f} ms  p95 {total['p95']:6.1f} ms  max {total['max']:6.1f} ms",
        f"  vs target {TARGET_MS:.0f} ms  p50 {total['p50'] / TARGET_MS:.2f}×, p95 {total['p95'] / TARGET_MS:.2f}×"
        f"  ({'PASS' if total['p50'] < TARGET_MS else 'FAIL'})",
        f"  without query embedding  p50 {rest['p50']:6.1f} ms  p95 {rest['p95']:6.1f} ms",
        "  phases (p50 / p95 ms, share of summed time):",
    ]
    sums = {name: sum(r[1].get(name, 0.0) for r in rows) for name in names}
    grand = sum(totals)
    for name in names:
        s = per_phase[name]
        lines.append(f"    {name:<22} {s['p50']:6.1f} / {s['p95']:6.1f}  {sums[name] / grand:5.1%}")
    lines.append(
        f"  BM25 refresh after any ingest at this size: iter_live {readback_s:.1f} s ({live} chunks) "
        f"+ bm25 build {build['bm25_build_s']:.1f} s"
    )
    if not hits_ok:
        lines.append("  WARNING: some searches returned fewer than k hits")
    lines.append(machine_line())
    emit(args, result, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
