"""Embedding throughput of the local model in fp32 and int8, and through a local OpenAI-compatible endpoint.

    python benchmarks/embed_speed.py [--chunks 400] [--rounds 3] [--sweep] [--json]

The texts are the chunker's `embed_text`s of the real corpus plus synthetic knowledge-base pages
recombined from its paragraphs (~170 tokens each), embedded the way ingest embeds them (batches of
`embed_batch_size`, sorted by length). Each round runs every variant once, in turn, so load changes
hit all of them; the report gives each variant's best and median chunks/s and its ratio to fp32
measured in the same rounds. It also reports how closely int8 vectors agree with fp32's.

  fp32      the exported ONNX graph (what every ingest used before)
  int8      the same graph with weights quantized per channel (`kbqa.index.embed.quantize_int8`)
  endpoint  kbqa's EndpointEmbedder talking to a scripted `/v1/embeddings` server on 127.0.0.1 that
            computes with the int8 model in this process: the protocol's overhead (JSON, HTTP,
            concurrency 4), not a GPU's speed.

--sweep adds batch sizes 16 and 64 and a single thread for fp32 and int8.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from _common import CORPUS, corpus_pieces, emit, log, machine, machine_line, parser, synthetic_page


def texts_for(n: int, settings) -> list[str]:
    from kbqa.ingestion.chunking import chunk_parts
    from kbqa.ingestion.clean import clean
    from kbqa.ingestion.loaders import load_text
    from kbqa.ingestion.parse import parse

    def chunks(name: str, text: str) -> list[str]:
        parts = parse(clean(text), name)
        return [c.embed_text for c in chunk_parts(parts, name, "v", settings.chunk_size, settings.chunk_overlap)]

    texts = [t for p in sorted(CORPUS.glob("*.txt")) for t in chunks(p.name, load_text(p))]
    rng, pieces = random.Random(3), corpus_pieces()
    while len(texts) < n:
        texts += chunks(f"s{len(texts)}.txt", synthetic_page(rng, pieces))
    return texts[:n]


def serve(model) -> tuple[ThreadingHTTPServer, str]:
    """A minimal OpenAI-compatible embeddings server computing with `model`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            vectors = model.embed(body["input"], len(body["input"]))
            data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
            reply = json.dumps({"object": "list", "model": body["model"], "data": data}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


def main() -> int:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--chunks", type=int, default=400, help="texts per variant per round (default 400)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sweep", action="store_true", help="also batch sizes 16/64 and one thread")
    args = p.parse_args()

    from kbqa.config import Settings, offline
    from kbqa.index.embed import Embedder
    from kbqa.index.embed_endpoint import EndpointEmbedder

    offline()
    settings = Settings()
    batch = settings.embed_batch_size
    texts = texts_for(args.chunks, settings)
    log(f"{len(texts)} texts; loading the models (the int8 one is made on first use)…")
    fp32 = Embedder(settings.model_cache_dir, settings.embed_threads, "fp32")
    int8 = Embedder(settings.model_cache_dir, settings.embed_threads, "int8")
    server, url = serve(int8)
    endpoint = EndpointEmbedder(settings.with_overrides(embed_url=url, embed_model="all-MiniLM-L6-v2"))
    variants = {"fp32": (fp32, batch), "int8": (int8, batch), "endpoint": (endpoint, batch)}
    if args.sweep:
        one = settings.with_overrides(embed_threads=1)
        variants |= {
            "fp32 batch 16": (fp32, 16),
            "fp32 batch 64": (fp32, 64),
            "int8 batch 16": (int8, 16),
            "int8 batch 64": (int8, 64),
            "fp32 1 thread": (Embedder(one.model_cache_dir, 1, "fp32"), batch),
            "int8 1 thread": (Embedder(one.model_cache_dir, 1, "int8"), batch),
        }
    for model, size in variants.values():
        model.embed(texts[:64], size)  # warm up
    rates: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}  # process CPU seconds per text
    for r in range(args.rounds):
        for name, (model, size) in variants.items():
            started, cpu_started = time.perf_counter(), time.process_time()
            model.embed(texts, size)
            rates[name].append(len(texts) / (time.perf_counter() - started))
            cpu[name].append((time.process_time() - cpu_started) / len(texts))
        log(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k} {v[-1]:.1f}/s" for k, v in rates.items()))
    server.shutdown()

    a, b = fp32.embed(texts, batch), int8.embed(texts, batch)
    cosine = (a * b).sum(axis=1)
    best = {name: max(v) for name, v in rates.items()}
    # ratios per round (the variants of one round ran back to back), then their median
    ratio = {name: statistics.median(x / f for x, f in zip(v, rates["fp32"])) for name, v in rates.items()}
    result = {
        "benchmark": "embed_speed",
        "machine": machine(),
        "texts": len(texts),
        "batch_size": batch,
        "rounds": args.rounds,
        "chunks_per_s_best": {k: round(v, 1) for k, v in best.items()},
        "chunks_per_s_median": {k: round(statistics.median(v), 1) for k, v in rates.items()},
        "ratio_to_fp32_median": {k: round(v, 2) for k, v in ratio.items()},
        "cpu_ms_per_text_median": {k: round(1000 * statistics.median(v), 1) for k, v in cpu.items()},
        "int8_cosine_to_fp32": {"mean": round(float(cosine.mean()), 4), "min": round(float(cosine.min()), 4)},
    }
    lines = [
        f"embedding throughput: {len(texts)} chunk texts, batch {batch}, {args.rounds} rounds (variants interleaved)",
        f"  {'variant':<16} {'best':>8} {'median':>8}   ratio to fp32 (median of per-round ratios)",
    ]
    for name in variants:
        lines.append(f"  {name:<16} {best[name]:8.1f} {statistics.median(rates[name]):8.1f}   {ratio[name]:.2f}×")
    cpu_ratio = statistics.median(cpu["fp32"]) / statistics.median(cpu["int8"])
    lines.append(
        f"  process CPU per text (less sensitive to other load): fp32 {1000 * statistics.median(cpu['fp32']):.0f} ms, "
        f"int8 {1000 * statistics.median(cpu['int8']):.0f} ms ({cpu_ratio:.2f}× less)"
    )
    lines.append(f"  int8 vs fp32 vectors: cosine mean {cosine.mean():.4f}, min {cosine.min():.4f}")
    lines.append(machine_line())
    emit(args, result, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
