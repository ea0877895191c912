"""Fit the extractive answerer's abstention model on the dev set and show how it separates the questions.

Usage: python evals/fit_abstain.py evals/sets/dev.jsonl [--check evals/sets/heldout.jsonl ...] [--corpus DIR]

Each question the extractive answerer takes gives one row: the signals of the best candidate sentence
(`Extractive.judge`) and a label: 1 if the question is answerable and the best sentence answers it (its
passage holds an evidence span and the sentence an answer key), 0 if the right behaviour is to decline.
Answerable questions whose best sentence is wrong are left out (declining them is neither right nor wrong),
and so are questions the hard checks already decline (the asked kind of fact is missing) and questions
another answerer takes (catalogue, publications, overviews). Prints the fitted weights (to copy into
kbqa/answer/extractive.py) and, per file, the trade-off: out-of-scope declined vs good answers kept.
Fit on the dev set only; the other sets are for checking.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from kbqa.answer import Request
from kbqa.answer.extractive import ABSTAIN_BIAS, ABSTAIN_WEIGHTS, Extractive
from kbqa.api import KnowledgeBase
from kbqa.config import Settings, offline
from kbqa.conversation import resolve
from kbqa.retrieve import Filters

NAMES = list(ABSTAIN_WEIGHTS)


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def rows(kb: KnowledgeBase, path: Path) -> list[tuple[str, np.ndarray, float | None, str | None]]:
    out = []
    for item in load(path):
        chat = kb.conversation()
        for earlier in item.get("history", []):
            chat.ask(earlier)
        follow = resolve(item["question"], chat.turns)
        request = Request(item["question"], follow, kb.settings.k, Filters(), kb.settings.abstain_threshold)
        if kb._choose(request, None).name != "extractive":
            continue
        hits = kb.retrieve_for(follow, kb.settings.k, Filters())
        answerer = Extractive(kb.settings, kb.embedder, kb.keyword_index)
        cands = answerer.ranked(item["question"], hits, follow.context)
        verdict = answerer.judge(item["question"], hits, cands)
        if item["abstain"]:
            label: float | None = 0.0
        else:
            best = cands[0] if cands else None
            good = (
                best is not None
                and any(norm(e) in norm(best.hit.chunk.text) for e in item["evidence"])
                and any(norm(k) in norm(best.text) for k in item["must"])
            )
            label = 1.0 if good else None
        out.append((item["id"], np.array([verdict.signals[n] for n in NAMES]), label, verdict.missing))
    return out


def fit(data, l2: float = 0.05, steps: int = 20000, lr: float = 0.1):
    X = np.array([x for _, x, y, miss in data if y is not None and not miss])
    y = np.array([y for _, _, y, miss in data if y is not None and not miss])
    weight = np.where(y == 0, (y == 1).sum() / max(1, (y == 0).sum()), 1.0)  # balance the classes
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(X @ w + b)))
        g = weight * (p - y)
        w -= lr * (X.T @ g / len(y) + l2 * w)
        b -= lr * g.mean()
    return w, b


def report(name: str, data, w: np.ndarray, b: float) -> None:
    print(f"{name}:")
    for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        p = {qid: 0.0 if miss else 1 / (1 + np.exp(-(x @ w + b))) for qid, x, _, miss in data}
        oos = [p[q] < t for q, _, y, _ in data if y == 0]
        ok = [p[q] >= t for q, _, y, _ in data if y == 1]
        print(
            f"  threshold {t:.1f}: out-of-scope declined {np.mean(oos) if oos else float('nan'):.2f} ({len(oos)}),"
            f" good answers kept {np.mean(ok) if ok else float('nan'):.2f} ({len(ok)})"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("questions", type=Path)
    ap.add_argument("--check", type=Path, action="append", default=[])
    ap.add_argument("--corpus", type=Path, help="corpus folder (default: the Settings one)")
    ap.add_argument("--data", type=Path, help="data folder of the index (default: the Settings one)")
    args = ap.parse_args()
    offline()
    overrides = {k: v for k, v in (("corpus_dir", args.corpus), ("data_dir", args.data)) if v}
    kb = KnowledgeBase(Settings(**overrides))
    kb.ensure_index()
    train = rows(kb, args.questions)
    w, b = fit(train)
    print("fitted:", {n: round(float(v), 2) for n, v in zip(NAMES, w)}, "bias", round(float(b), 2))
    current = np.array([ABSTAIN_WEIGHTS[n] for n in NAMES])
    report(f"{args.questions} (current)", train, current, ABSTAIN_BIAS)
    report(f"{args.questions} (fitted)", train, w, b)
    for path in args.check:
        test = rows(kb, path)
        report(f"{path} (current)", test, current, ABSTAIN_BIAS)
        report(f"{path} (fitted)", test, w, b)


if __name__ == "__main__":
    main()
