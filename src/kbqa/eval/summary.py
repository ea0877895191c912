"""The summary of a run: every metric overall, per set and per category, judge agreement, distributions."""

from __future__ import annotations

from collections import Counter
from typing import Any

from kbqa.eval.judge import agreement, unjudged
from kbqa.eval.metrics import DEPTH, METRICS, Record, aggregate, applies, ranks

# What `kbqa eval run` prints and the web UI's Quality tab shows, overall and per set.
HEADLINE_METRICS = ["correct", "answer_accuracy", "abstention_recall", "false_abstention", "hit@5", "mrr", "citation_recall", "citation_precision", "latency_p50_s"]  # fmt: skip


def summarize(records: list[Record], meta: dict[str, Any], judge: dict[str, Any] | None = None) -> dict[str, Any]:
    """summary.json: figures computed from the records (never typed in)."""
    sets = list(dict.fromkeys(r.set for r in records))
    categories = sorted({r.item.category for r in records})
    summary: dict[str, Any] = {
        "name": meta.get("name"),
        "started": meta.get("started"),
        "git_commit": meta.get("git_commit"),
        "answerer": (meta.get("config", {}).get("answer") or {}).get("llm") or "extractive",
        "items": len(records),
        "answerable": sum(r.answerable for r in records),
        "abstain_items": sum(not r.answerable for r in records),
        "metrics": aggregate(records),
        "n": {name: applies(name, records) for name in METRICS},
        "by_set": {s: _group([r for r in records if r.set == s]) for s in sets},
        "by_category": {c: _group([r for r in records if r.item.category == c]) for c in categories},
        "distributions": distributions(records),
    }
    if judge is not None:
        summary["judge"] = {**judge, "agreement": agreement(records), "unjudged": unjudged(records)}
    return summary


def _group(records: list[Record]) -> dict[str, Any]:
    return {"items": len(records), **aggregate(records)}


def distributions(records: list[Record]) -> dict[str, Any]:
    """What the report plots: last-turn latencies and the rank of the first passage with gold evidence."""
    first: Counter[str] = Counter()
    for r in records:
        found = ranks(r)
        if found is not None:
            first[str(found[0]) if found else "none"] += 1
    order = [str(i) for i in range(1, DEPTH + 1)] + ["none"]
    return {
        "latency_s": sorted(r.seconds for r in records),
        "first_relevant_rank": {k: first.get(k, 0) for k in order},
    }
