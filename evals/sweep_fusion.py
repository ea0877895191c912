"""Measure reciprocal-rank-fusion settings: hit@5 of hybrid next to dense and BM25 alone, on the three sets.

Usage: python evals/sweep_fusion.py   (uses the index in KBQA_DATA_DIR, building it from corpus/ if needed)
"""

from __future__ import annotations

from pathlib import Path

from kbqa import evaluate
from kbqa.api import KnowledgeBase
from kbqa.config import Settings

EVALS = Path(__file__).resolve().parent
SETTINGS = [(60, 1.0), (60, 1.5), (20, 1.0), (10, 1.0), (5, 1.0), (5, 1.5), (3, 1.0)]


def main() -> None:
    sets = {name: evaluate.load_questions(EVALS / f"{name}.jsonl") for name in ("questions", "heldout", "fresh")}
    print("rrf_k bm25_weight | hybrid hit@5 (dense, bm25) mrr  per set: " + ", ".join(sets))
    for rrf_k, weight in SETTINGS:
        kb = KnowledgeBase(Settings().with_overrides(rrf_k=rrf_k, bm25_weight=weight))
        kb.ensure_index()
        cells = []
        for items in sets.values():
            r = evaluate.retrieval(kb, items, k=5)
            h, d, b = (r[m]["hit_evidence"] for m in ("hybrid", "dense", "bm25"))
            cells.append(f"{h:.3f} ({d:.3f}, {b:.3f}) {r['hybrid']['mrr']:.3f}")
        print(f"{rrf_k:5d} {weight:11.1f} | " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
