"""Where the time of an LLM answer goes: retrieval vs the extractive gate vs generation, on the local server.

Starts `kbqa llm-server`'s llama.cpp server with the packaged Qwen2.5-Coder 0.5B on a free port, indexes the
corpus into a temporary folder, and asks N answerable questions of evals/sets/dev.jsonl through
`KnowledgeBase.ask_stream(llm=...)`. Reports per question (p50/p95): retrieval, the extractive gate,
time to first token (from the question), generation, prompt size, output tokens/s after the first token,
and each part's share of the total.

    python benchmarks/llm_ask.py [--n 12] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from kbqa.api import KnowledgeBase
from kbqa.config import Settings
from kbqa.eval.dataset import load_set
from kbqa.llm.server import free_port, start_server, stop_server
from kbqa.schema import Answer

ROOT = Path(__file__).resolve().parent.parent


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    dev = load_set(ROOT / "evals" / "sets" / "dev.jsonl").items
    items = [i.model_dump() for i in dev if not i.abstain and not i.history and i.category != "listing"][: args.n]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings().with_overrides(data_dir=Path(tmp) / "data", corpus_dir=ROOT / "corpus")
        kb = KnowledgeBase(settings)
        kb.ingest()
        print("starting the llama.cpp server…", file=sys.stderr)
        proc = start_server(settings, port=free_port(), wait=180)
        rows = []
        try:
            kb.ask(items[0]["question"], llm=proc.base_url)  # warm-up: model pages, prompt cache of the fixed prefix
            for item in items:
                started = time.perf_counter()
                first = None
                for piece in kb.ask_stream(item["question"], llm=proc.base_url):
                    if isinstance(piece, str) and piece and first is None:
                        first = time.perf_counter() - started
                    if isinstance(piece, Answer):
                        answer = piece
                total = time.perf_counter() - started
                if answer.model is None:  # declined by the gate or fell back: no generation to time
                    continue
                t = answer.timings
                gen_s = t["answer_ms"] / 1000
                first = first or total
                decode_s = max(total - first, 1e-6)  # after the first token: output speed proper
                rows.append(
                    {
                        "total_s": total,
                        "retrieve_s": t["retrieve_ms"] / 1000,
                        "gate_s": t["gate_ms"] / 1000,
                        "first_token_s": first,
                        "generate_s": gen_s,
                        "prompt_tokens": answer.usage["prompt_tokens"],
                        "tokens_per_s": max(answer.usage["completion_tokens"] - 1, 0) / decode_s,
                    }
                )
        finally:
            stop_server(proc)
    keys = ["total_s", "retrieve_s", "gate_s", "first_token_s", "generate_s", "prompt_tokens", "tokens_per_s"]
    summary = {k: {"p50": statistics.median(r[k] for r in rows), "p95": pct([r[k] for r in rows], 0.95)} for k in keys}
    total = sum(r["total_s"] for r in rows)
    shares = {k: sum(r[k] for r in rows) / total for k in ("retrieve_s", "gate_s", "generate_s")}
    if args.json:
        print(json.dumps({"answers": len(rows), "summary": summary, "share_of_total": shares}, indent=2))
        return
    print(
        f"LLM answers on the local server: {len(rows)} of {len(items)} questions generated (the rest declined or fell back)"
    )
    for k in keys:
        print(f"  {k:<14} p50 {summary[k]['p50']:7.2f}   p95 {summary[k]['p95']:7.2f}")
    print("  share of total: " + ", ".join(f"{k[:-2]} {v:.0%}" for k, v in shares.items()))


if __name__ == "__main__":
    main()
