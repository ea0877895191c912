"""Does a keyword index in segments rank as well as one built in one go? Hit@5 and answer accuracy on the
three sets, for the corpus indexed (a) in one ingest (one main segment) and (b) one file per ingest with
merging off (a main segment and four deltas), then one file changed (its old chunks masked, the new ones
in a fifth delta) and changed back (the old chunks live again, the fifth delta's masked).

Usage: python evals/check_segments.py   (builds both indexes in a temporary folder)
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import kbqa.ingestion.pipeline as pipeline
from kbqa import evaluate
from kbqa.api import KnowledgeBase
from kbqa.config import Settings, offline

EVALS = Path(__file__).resolve().parent
CORPUS = EVALS.parent / "corpus"


def scores(kb: KnowledgeBase, items: list[dict]) -> str:
    r = evaluate.retrieval(kb, items, k=5)
    answers = evaluate.summarize(evaluate.run_answers(kb, items))
    h, d, b = (r[m]["hit_evidence"] for m in ("hybrid", "dense", "bm25"))
    return f"{h:.3f} ({d:.3f}, {b:.3f}) mrr {r['hybrid']['mrr']:.3f} acc {answers['answer_accuracy']:.3f}"


def main() -> None:
    offline()
    sets = {name: evaluate.load_questions(EVALS / f"{name}.jsonl") for name in ("questions", "heldout", "fresh")}
    with tempfile.TemporaryDirectory(prefix="kbqa-segments-") as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(CORPUS, corpus)
        one = KnowledgeBase(Settings(data_dir=Path(tmp) / "one", corpus_dir=corpus))
        one.ingest()
        split = KnowledgeBase(Settings(data_dir=Path(tmp) / "split", corpus_dir=corpus))
        pipeline.MERGE_SHARE, pipeline.MAX_SEGMENTS = float("inf"), 10**6  # keep every delta
        files = sorted(corpus.glob("*.txt"))
        for path in files:
            split.ingest([path])
        original = files[0].read_text(encoding="utf-8")
        files[0].write_text(original + "\n\nA later note on the survey methods used.\n", encoding="utf-8")
        split.ingest([files[0]])
        files[0].write_text(original, encoding="utf-8")
        split.ingest([files[0]])
        state = split.store.manifest.data["bm25"]
        print(
            f"split index: {len(state['segments'])} segments; one index: {len(one.store.manifest.data['bm25']['segments'])}"
        )
        print("index | hybrid hit@5 (dense, bm25), hybrid MRR, answer accuracy per set: " + ", ".join(sets))
        for name, kb in (("one segment", one), ("main + deltas", split)):
            print(f"{name:13s} | " + " | ".join(scores(kb, items) for items in sets.values()), flush=True)


if __name__ == "__main__":
    main()
