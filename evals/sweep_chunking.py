"""Measure chunk size and overlap on the evaluation sets (the README's "Choices" table comes from this).

Usage: python evals/sweep_chunking.py [--sizes 128,192,256,384] [--overlaps 0,32,64]

For each setting the corpus is indexed into a temporary folder, then retrieval
(hybrid hit@5 on the evidence, MRR) and extractive answer accuracy are measured
on evals/questions.jsonl (dev) and evals/heldout.jsonl.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from kbqa import evaluate
from kbqa.api import KnowledgeBase
from kbqa.config import Settings

EVALS = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="128,192,256,384")
    ap.add_argument("--overlaps", default="0,32,64")
    args = ap.parse_args()
    sets = {name: evaluate.load_questions(EVALS / f"{name}.jsonl") for name in ("questions", "heldout")}
    print("size overlap chunks | dev: hit@5 mrr acc oos | heldout: hit@5 mrr acc oos")
    for size in map(int, args.sizes.split(",")):
        for overlap in map(int, args.overlaps.split(",")):
            if overlap >= size:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                settings = Settings().with_overrides(data_dir=Path(tmp), chunk_size=size, chunk_overlap=overlap)
                kb = KnowledgeBase(settings)
                report = kb.ingest()
                row = [f"{size:4d} {overlap:7d} {report.chunks_total:6d} |"]
                for items in sets.values():
                    r = evaluate.retrieval(kb, items, k=5)["hybrid"]
                    s = evaluate.summarize(evaluate.run_answers(kb, items))
                    row.append(
                        f"{r['hit_evidence']:.3f} {r['mrr']:.3f} {s['answer_accuracy']:.3f} {s['oos_abstention']:.3f} |"
                    )
                print(" ".join(row), flush=True)


if __name__ == "__main__":
    main()
