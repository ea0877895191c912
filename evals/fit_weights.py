"""Fit the extractive answerer's sentence-score weights by logistic regression.

Usage: python evals/fit_weights.py evals/sets/dev.jsonl [--check evals/sets/heldout.jsonl]

For each answerable, non-listing question, every candidate sentence is labelled
1 if it contains one of the question's answer keys and its passage contains the
gold evidence. Prints the fitted weights (to copy into kbqa/answer.py WEIGHTS,
rescaled) and top-1 accuracy of the current and fitted weights on each file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from kbqa.answer.extractive import WEIGHTS
from kbqa.api import KnowledgeBase
from kbqa.eval.dataset import evidence_in, load_set, norm

FEATURES = list(WEIGHTS)


def rows(kb: KnowledgeBase, path: Path):
    out = []
    for item in (i.model_dump() for i in load_set(path).items):
        if item["abstain"] or item["category"] == "listing" or item.get("history"):
            continue
        hits = kb.retrieve(item["question"])
        cands = kb.answerer().candidates(item["question"], hits)
        X = np.array([[getattr(c, f) for f in FEATURES] for c in cands])
        y = np.array(
            [
                any(norm(k) in norm(c.text) for k in item["must"]) and evidence_in(c.hit.chunk.text, item["evidence"])
                for c in cands
            ],
            dtype=float,
        )
        if len(cands):
            out.append((item["id"], X, y))
    return out


def top1(data, w: np.ndarray) -> float:
    return float(np.mean([y[np.argmax(X @ w)] for _, X, y in data]))


def fit(data, l2: float = 0.001, steps: int = 3000, lr: float = 0.3) -> np.ndarray:
    """Listwise: maximise the softmax probability of the good sentences within each question's candidates."""
    data = [(X, y) for _, X, y in data if y.any()]
    w = np.zeros(data[0][0].shape[1])
    for _ in range(steps):
        grad = l2 * w
        for X, y in data:
            z = X @ w * 10
            p = np.exp(z - z.max())
            p /= p.sum()
            target = y / y.sum()
            grad += 10 * X.T @ (p - target) / len(data)
        w -= lr * grad
    return w


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("questions", type=Path)
    ap.add_argument("--check", type=Path)
    args = ap.parse_args()
    kb = KnowledgeBase()
    kb.ensure_index()
    train = rows(kb, args.questions)
    current = np.array([WEIGHTS[f] for f in FEATURES])
    w = fit(train)
    scale = 1.0 / np.abs(w).sum()
    print("fitted (scaled):", {f: round(float(v * scale), 3) for f, v in zip(FEATURES, w)})
    print(f"top-1 on {args.questions}: current {top1(train, current):.3f}  fitted {top1(train, w):.3f}")
    if args.check:
        test = rows(kb, args.check)
        print(f"top-1 on {args.check}: current {top1(test, current):.3f}  fitted {top1(test, w):.3f}")


if __name__ == "__main__":
    main()
