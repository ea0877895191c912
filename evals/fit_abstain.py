"""Fit the extractive answerer's abstention model and show how it separates the questions.

Usage: python evals/fit_abstain.py evals/sets/dev.jsonl [--check evals/sets/heldout.jsonl]

Each question gives one row: the signals of the best candidate sentence
(`Extractive.judge`) and a label: 1 if the question is answerable and the best
sentence answers it (its passage has the evidence and the sentence an answer key),
0 if it is out of scope. Answerable questions whose best sentence is wrong are
left out: declining them is neither right nor wrong; so are questions the
hard checks already decline (the asked kind of fact is missing). Prints the fitted weights
(to copy into kbqa/answer.py) and, per file, the abstention/answer trade-off.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from kbqa.answer.extractive import ABSTAIN_BIAS, ABSTAIN_WEIGHTS
from kbqa.api import KnowledgeBase
from kbqa.conversation import Conversation
from kbqa.eval.dataset import evidence_in, load_set, norm

NAMES = list(ABSTAIN_WEIGHTS)


def rows(kb: KnowledgeBase, path: Path):
    out = []
    for item in (i.model_dump() for i in load_set(path).items):
        if item["category"] == "listing":
            continue
        convo = Conversation()
        for earlier in item.get("history", []):
            convo.add(kb.ask(earlier, history=convo.messages()))
        follow = kb.follow_up(item["question"], convo.messages())
        hits = kb.retrieve_for(follow)
        answerer = kb.answerer()
        cands = answerer.ranked(item["question"], hits, follow.context)
        verdict = answerer.judge(item["question"], hits, cands)
        sig = verdict.signals
        if item["abstain"]:
            label = 0.0
        else:
            best = cands[0] if cands else None
            good = (
                best is not None
                and evidence_in(best.hit.chunk.text, item["evidence"])
                and any(norm(k) in norm(best.text) for k in item["must"])
            )
            label = 1.0 if good else None
        out.append((item["id"], np.array([sig[n] for n in NAMES]), label, verdict.missing))
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
        print(f"  threshold {t:.1f}: out-of-scope declined {np.mean(oos):.2f}, good answers kept {np.mean(ok):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("questions", type=Path)
    ap.add_argument("--check", type=Path)
    args = ap.parse_args()
    kb = KnowledgeBase()
    kb.ensure_index()
    train = rows(kb, args.questions)
    w, b = fit(train)
    print("fitted:", {n: round(float(v), 2) for n, v in zip(NAMES, w)}, "bias", round(float(b), 2))
    current = np.array([ABSTAIN_WEIGHTS[n] for n in NAMES])
    report(f"{args.questions} (current)", train, current, ABSTAIN_BIAS)
    report(f"{args.questions} (fitted)", train, w, b)
    if args.check:
        test = rows(kb, args.check)
        report(f"{args.check} (current)", test, current, ABSTAIN_BIAS)
        report(f"{args.check} (fitted)", test, w, b)


if __name__ == "__main__":
    main()
