"""Measure reciprocal-rank-fusion settings: hit@5 of hybrid next to dense and BM25 alone, per set.

Usage: python evals/sweep_fusion.py [--sets dev,heldout,fresh]

Each setting is one eval run (kbqa.eval) of the extractive answerer; the index (under
KBQA_EVAL_DATA_DIR) is shared by all of them, the runs go to a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from kbqa.config import Settings, offline
from kbqa.eval.run import LoadedConfig, RunConfig, run

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = [(60, 1.0), (60, 1.5), (20, 1.0), (10, 1.0), (5, 1.0), (5, 1.5), (3, 1.0)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="dev,heldout,fresh")
    args = ap.parse_args()
    offline()
    sets = args.sets.split(",")
    print("rrf_k bm25_weight | hybrid hit@5 (dense, bm25) mrr  per set: " + ", ".join(sets))
    with tempfile.TemporaryDirectory() as runs:
        for rrf_k, weight in SETTINGS:
            config = RunConfig(
                name=f"fusion-{rrf_k}-{weight}", sets=sets, settings={"rrf_k": rrf_k, "bm25_weight": weight}
            )
            summary = run(LoadedConfig.inline(config, ROOT), Settings(), runs_dir=Path(runs)).summary
            cells = []
            for s in sets:
                f = summary["by_set"][s]
                cells.append(f"{f['hit@5']:.3f} ({f['dense_hit@5']:.3f}, {f['bm25_hit@5']:.3f}) {f['mrr']:.3f}")
            print(f"{rrf_k:5d} {weight:11.1f} | " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
