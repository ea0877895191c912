"""Does a keyword index in segments rank as well as one built in one go? hit@5 (hybrid, dense, bm25), MRR
and answer accuracy per set, for the corpus indexed (a) in one ingest (one main segment) and (b) one file
per ingest with merging off (a main segment and four deltas), then one file changed (its old chunks masked,
the new ones in a fifth delta) and changed back (the old chunks live again, the fifth delta's masked).
Items are answered and measured by the evaluation harness (`kbqa.eval`), as `kbqa eval run` does.

Usage: python evals/check_segments.py   (builds both indexes in a temporary folder; a few minutes)
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import kbqa.ingestion.pipeline as pipeline
from kbqa.api import KnowledgeBase
from kbqa.config import Settings, offline
from kbqa.eval.dataset import QuestionSet, load_set
from kbqa.eval.metrics import aggregate
from kbqa.eval.run import RunConfig, Runner

EVALS = Path(__file__).resolve().parent
CORPUS = EVALS.parent / "corpus"
SETS = ("dev", "heldout", "fresh", "extra")  # the sets over the corpus alone (trial needs the trial documents)


def scores(kb: KnowledgeBase, qs: QuestionSet) -> str:
    runner = Runner(kb, RunConfig(name="segments", sets=[qs.name]))
    runner.count_relevant([qs])
    m = aggregate([runner.measure(qs.name, item) for item in qs.items])
    return (
        f"{m['hit@5']:.3f} ({m['dense_hit@5']:.3f}, {m['bm25_hit@5']:.3f}) "
        f"mrr {m['mrr']:.3f} acc {m['answer_accuracy']:.3f}"
    )


def main() -> None:
    offline()
    sets = [load_set(EVALS / "sets" / f"{name}.jsonl") for name in SETS]
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
        print("index | hybrid hit@5 (dense, bm25), hybrid MRR, answer accuracy per set: " + ", ".join(SETS))
        for name, kb in (("one segment", one), ("main + deltas", split)):
            print(f"{name:13s} | " + " | ".join(scores(kb, qs) for qs in sets), flush=True)


if __name__ == "__main__":
    main()
