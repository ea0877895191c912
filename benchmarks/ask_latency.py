"""Warm `KnowledgeBase.ask` latency (extractive answerer, no LLM) over evals/sets/dev.jsonl.

    python benchmarks/ask_latency.py [--warmup 3] [--json]

Indexes the corpus into a temporary folder, warms up with the first few questions,
then asks every question once, as `kbqa eval` does (earlier turns of follow-up
questions are replayed first and not timed). Reports p50/p95 of the whole call and
of its two parts from `Answer.timings`: retrieve_ms (hybrid retrieval, or the catalogue
lookup for listing questions) and answer_ms (sentence scoring and selection).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import CORPUS, PhaseTimer, emit, log, machine, machine_line, parser, questions, summary_ms


def ask_item(kb, item: dict, counters: dict) -> tuple:
    """As the eval harness (kbqa.eval.run): replay the history untimed, then time the question itself."""
    from kbqa.conversation import Conversation

    convo = Conversation()
    for earlier in item.get("history", []):
        convo.add(kb.ask(earlier, history=convo.messages()))
    before = {k: v.copy() if isinstance(v, dict) else list(v) for k, v in counters.items()}
    started = time.perf_counter()
    answer = kb.ask(item["question"], history=convo.messages())
    total = (time.perf_counter() - started) * 1000
    timer = counters["timer"]
    spent = {k: (v - before["timer"].get(k, 0.0)) * 1000 for k, v in timer.items()}
    return answer, total, spent, counters["texts"][len(before["texts"]) :]


def main() -> int:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--warmup", type=int, default=3, help="questions asked before timing (default 3)")
    args = p.parse_args()

    from kbqa.api import KnowledgeBase
    from kbqa.config import Settings
    from kbqa.index.embed import BaseEmbedder, Embedder

    items = questions()
    texts: list[str] = []
    original_embed = Embedder.embed

    def counting_embed(self, batch, *a, **kw):
        texts.extend(batch)
        return original_embed(self, batch, *a, **kw)

    with tempfile.TemporaryDirectory(prefix="kbqa-bench-ask-") as tmp:
        kb = KnowledgeBase(Settings(corpus_dir=CORPUS, data_dir=Path(tmp) / "data"))
        log("indexing the corpus…")
        report = kb.ingest()
        log(report.summary())

        timer = PhaseTimer()
        Embedder.embed = counting_embed
        try:
            with timer.active():
                timer.wrap(Embedder, "embed", "sentence embedding")
                timer.wrap(BaseEmbedder, "embed_one", "question embedding")
                counters = {"timer": timer.seconds, "texts": texts}
                warmup_ms = [ask_item(kb, item, counters)[1] for item in items[: args.warmup]]
                log(f"warm-up: {', '.join(f'{ms:.0f} ms' for ms in warmup_ms)}")

                rows = []
                timed_texts: list[str] = []
                started = time.perf_counter()
                for item in items:
                    answer, total, spent, embedded = ask_item(kb, item, counters)
                    timed_texts += embedded
                    retrieve = answer.timings.get("retrieve_ms", 0.0)
                    answering = answer.timings.get("answer_ms", 0.0)
                    rows.append(
                        {
                            "id": item["id"],
                            "kind": item.get("category", ""),
                            "total_ms": total,
                            "retrieve_ms": retrieve,
                            "answer_ms": answering,
                            "other_ms": max(0.0, total - retrieve - answering),
                            "sentence_embedding_ms": spent.get("sentence embedding", 0.0),
                            "question_embedding_ms": spent.get("question embedding", 0.0),
                            "sentences_embedded": len(embedded),
                            "abstained": answer.abstained,
                        }
                    )
                run_s = time.perf_counter() - started
        finally:
            Embedder.embed = original_embed

    total = summary_ms([r["total_ms"] for r in rows])
    retrieve = summary_ms([r["retrieve_ms"] for r in rows])
    answering = summary_ms([r["answer_ms"] for r in rows])
    other = summary_ms([r["other_ms"] for r in rows])
    sum_total = sum(r["total_ms"] for r in rows)
    share = {
        "retrieve": sum(r["retrieve_ms"] for r in rows) / sum_total,
        "answer": sum(r["answer_ms"] for r in rows) / sum_total,
        "other": sum(r["other_ms"] for r in rows) / sum_total,
    }
    kinds = {}
    for kind in sorted({r["kind"] for r in rows}):
        sub = [r for r in rows if r["kind"] == kind]
        kinds[kind] = {
            "n": len(sub),
            "total_p50": round(statistics.median(r["total_ms"] for r in sub), 1),
            "retrieve_p50": round(statistics.median(r["retrieve_ms"] for r in sub), 1),
            "answer_p50": round(statistics.median(r["answer_ms"] for r in sub), 1),
        }
    slowest = sorted(rows, key=lambda r: -r["total_ms"])[:3]
    answered = [r for r in rows if r["sentences_embedded"]]  # catalogue answers embed nothing
    sent_ms = summary_ms([r["sentence_embedding_ms"] for r in answered])
    q_ms = summary_ms([r["question_embedding_ms"] for r in answered])
    per_q = statistics.median(r["sentences_embedded"] for r in answered)
    sent_share = sum(r["sentence_embedding_ms"] for r in answered) / max(1e-9, sum(r["answer_ms"] for r in answered))
    distinct = len(set(timed_texts))

    result = {
        "benchmark": "ask_latency",
        "machine": machine(),
        "index": {"chunks": report.chunks_total, "seconds": round(report.seconds, 2)},
        "questions": len(rows),
        "warmup_ms": [round(ms, 1) for ms in warmup_ms],
        "total_ms": total,
        "retrieve_ms": retrieve,
        "answer_ms": answering,
        "other_ms": other,
        "share_of_time": {k: round(v, 3) for k, v in share.items()},
        "p95_to_p50": round(total["p95"] / total["p50"], 2),
        "by_kind": kinds,
        "answerer_embedding": {
            "questions_with_sentence_embedding": len(answered),
            "sentence_embedding_ms": sent_ms,
            "sentences_per_question_p50": per_q,
            "share_of_answer_ms": round(sent_share, 3),
            "question_embedding_ms_per_ask": q_ms,
            "sentences_embedded": len(timed_texts),
            "distinct_sentences": distinct,
        },
        "slowest": [{k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items()} for r in slowest],
        "run_seconds": round(run_s, 2),
    }

    def row(name: str, s: dict) -> str:
        return f"    {name:<10} p50 {s['p50']:7.1f}  p95 {s['p95']:7.1f}  min {s['min']:7.1f}  max {s['max']:7.1f}"

    lines = [
        f"warm ask latency: KnowledgeBase.ask, extractive, {len(rows)} questions from evals/sets/dev.jsonl "
        f"({report.chunks_total} chunks indexed; warm-up {args.warmup})",
        "  milliseconds",
        row("total", total),
        row("retrieve", retrieve),
        row("answer", answering),
        row("other", other),
        f"  share of total time: retrieve {share['retrieve']:.0%}, answer {share['answer']:.0%}, "
        f"other {share['other']:.0%}; p95/p50 = {total['p95'] / total['p50']:.2f}",
        f"  the answerer's sentence embedding: p50 {sent_ms['p50']:.0f} ms for "
        f"{per_q:.0f} sentences = {sent_share:.0%} of answer time;",
        f"    {len(timed_texts)} sentences embedded in the run, {distinct} distinct "
        f"({1 - distinct / max(1, len(timed_texts)):.0%} repeats); question embedded twice per ask, "
        f"p50 {q_ms['p50']:.0f} ms for both",
        "  by kind (p50 total / retrieve / answer):",
    ]
    for kind, k in kinds.items():
        lines.append(
            f"    {kind:<10} n={k['n']:<3} {k['total_p50']:7.1f} / {k['retrieve_p50']:6.1f} / {k['answer_p50']:6.1f}"
        )
    lines.append(
        "  slowest: "
        + ", ".join(
            f"{r['id']} ({r['kind']}) {r['total_ms']:.0f} ms = {r['retrieve_ms']:.0f} + {r['answer_ms']:.0f}"
            for r in slowest
        )
    )
    lines.append(machine_line())
    emit(args, result, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
