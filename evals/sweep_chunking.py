"""Measure chunk size and overlap on the evaluation sets (the README's "Choices" table comes from this).

Usage: python evals/sweep_chunking.py [--sizes 128,192,256,384] [--overlaps 0,32,64] [--sets dev,heldout]

Each setting is one eval run (kbqa.eval) of the extractive answerer with that chunking: the corpus is
indexed once per setting under KBQA_EVAL_DATA_DIR, and the runs are written to a temporary folder.
Per set: hybrid hit@5 on the gold evidence, MRR, answer accuracy, out-of-scope questions declined.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from kbqa.api import KnowledgeBase
from kbqa.config import Settings, offline
from kbqa.eval.run import LoadedConfig, RunConfig, run

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="128,192,256,384")
    ap.add_argument("--overlaps", default="0,32,64")
    ap.add_argument("--sets", default="dev,heldout")
    args = ap.parse_args()
    offline()
    sets = args.sets.split(",")
    base = Settings()
    print("size overlap chunks | " + " | ".join(f"{s}: hit@5 mrr acc declined" for s in sets))
    with tempfile.TemporaryDirectory() as runs:
        for size in map(int, args.sizes.split(",")):
            for overlap in map(int, args.overlaps.split(",")):
                if overlap >= size:
                    continue
                config = RunConfig(
                    name=f"chunking-{size}-{overlap}",
                    sets=sets,
                    retrieval_modes=["hybrid"],
                    settings={"chunk_size": size, "chunk_overlap": overlap},
                )
                result = run(LoadedConfig.inline(config, ROOT), base, runs_dir=Path(runs))
                index = json.loads((result.folder / "run.json").read_text())["index"]
                chunks = sum(s["chunks"] for s in KnowledgeBase(base.with_overrides(data_dir=Path(index))).sources())
                cells = []
                for s in sets:
                    f = result.summary["by_set"][s]
                    cells.append(
                        f"{f['hit@5']:.3f} {f['mrr']:.3f} {f['answer_accuracy']:.3f} {f['abstention_recall']:.3f}"
                    )
                print(f"{size:4d} {overlap:7d} {chunks:6d} | " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
