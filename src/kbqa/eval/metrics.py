"""Metrics by name, computed from a run's per-item records without any LLM (judge scores aside).

Each `Metric` has a per-item function (None = does not apply to this item; the aggregate is the mean of
the values that apply) or an aggregate over all records (abstention precision, latency percentiles,
token and cost totals). Adding a metric is one function and one `register` call; reports, comparison
and the gate pick it up by name. The exact definitions are in evals/README.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from kbqa.eval import citations
from kbqa.eval.dataset import Item, evidence_in, norm

DEPTH = 10  # passages retrieved per mode for the retrieval metrics


class Retrieved(BaseModel):
    """One retrieved passage: where it comes from and which gold evidence spans it contains."""

    source: str
    chunk_id: str
    spans: list[int] = Field(default_factory=list)  # indices into item.evidence

    @property
    def relevant(self) -> bool:
        return bool(self.spans)


class JudgeVerdict(BaseModel):
    """One judge prompt's verdict on one item; `score` None = unjudged (see `error`)."""

    score: float | None = None
    verdict: str | None = None
    reason: str = ""
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Record(BaseModel):
    """Everything measured for one item of a run (one line of items.jsonl)."""

    set: str
    item: Item
    answer: dict[str, Any]  # Answer.to_json() of the last turn
    seconds: float  # time to answer the last turn (earlier turns replayed untimed)
    llm: str | None = None  # the answering LLM of the run (None = extractive)
    retrieval: dict[str, list[Retrieved]] = Field(default_factory=dict)  # mode → top DEPTH passages
    contexts: list[str] = Field(default_factory=list)  # texts of the top-k hybrid passages (for exports)
    relevant_in_index: int = 0  # passages of the whole index that contain a gold evidence span
    statements: list[dict[str, Any]] = Field(default_factory=list)  # citations.Statement as JSON
    judge: dict[str, JudgeVerdict] = Field(default_factory=dict)
    usage: dict[str, int] = Field(default_factory=dict)  # prompt/completion tokens of the answer (LLM runs)
    cost_usd: float | None = None
    metrics: dict[str, float | None] = Field(default_factory=dict)

    @property
    def abstained(self) -> bool:
        return bool(self.answer.get("abstained"))

    @property
    def answerable(self) -> bool:
        return not self.item.abstain


Value = float | None


@dataclass(frozen=True)
class Metric:
    """A named metric; `item` gives per-item values, `aggregate` (if set) the whole-run value instead of their mean."""

    name: str
    group: str  # retrieval, answer, abstention, citation, llm, latency, cost, judge
    description: str
    item: Callable[[Record], Value] | None = None
    aggregate: Callable[[list[Record]], Value] | None = None
    higher_is_better: bool = True
    binary: bool = False  # per-item values are 0/1 (paired comparison by exact McNemar)


METRICS: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    if metric.name in METRICS:
        raise ValueError(f"metric {metric.name!r} registered twice")
    METRICS[metric.name] = metric
    return metric


def item_values(record: Record) -> dict[str, Value]:
    """Every per-item metric of one record."""
    return {m.name: _round(m.item(record)) for m in METRICS.values() if m.item is not None}


def aggregate(records: list[Record]) -> dict[str, Value]:
    """Every metric over a group of records (items where a metric does not apply are left out)."""
    out: dict[str, Value] = {}
    for m in METRICS.values():
        if m.aggregate is not None:
            out[m.name] = _round(m.aggregate(records))
        else:
            values = [v for r in records if (v := m.item(r)) is not None]  # type: ignore[misc]
            out[m.name] = _round(sum(values) / len(values)) if values else None
    return out


def applies(name: str, records: list[Record]) -> int:
    """How many records a per-item metric applies to (the n behind its mean)."""
    m = METRICS[name]
    if m.item is None:
        return len(records)
    return sum(1 for r in records if m.item(r) is not None)


def _round(v: Value) -> Value:
    return None if v is None else round(float(v), 4)


# ------------------------------------------------------------------ retrieval


def ranks(record: Record, mode: str = "hybrid") -> list[int] | None:
    """1-based ranks of the relevant passages in `mode`'s list; None when the metric does not apply."""
    if not record.answerable or mode not in record.retrieval:
        return None
    return [i for i, p in enumerate(record.retrieval[mode], 1) if p.relevant]


def hit_at(k: int, mode: str = "hybrid") -> Callable[[Record], Value]:
    def f(r: Record) -> Value:
        found = ranks(r, mode)
        return None if found is None else float(any(rank <= k for rank in found))

    return f


def recall_at(k: int) -> Callable[[Record], Value]:
    """Share of the item's evidence spans contained in some top-k passage."""

    def f(r: Record) -> Value:
        if ranks(r) is None:
            return None
        spans = {s for p in r.retrieval["hybrid"][:k] for s in p.spans}
        return len(spans) / len(r.item.evidence)

    return f


def mrr(r: Record) -> Value:
    found = ranks(r)
    if found is None:
        return None
    return 1 / found[0] if found else 0.0


def ndcg_at(k: int) -> Callable[[Record], Value]:
    """Binary relevance (contains a gold span); the ideal ranking puts every relevant passage of the index first."""

    def f(r: Record) -> Value:
        found = ranks(r)
        if found is None:
            return None
        dcg = sum(1 / math.log2(rank + 1) for rank in found if rank <= k)
        ideal_n = min(k, max(r.relevant_in_index, len(found)))
        idcg = sum(1 / math.log2(i + 1) for i in range(1, ideal_n + 1))
        return dcg / idcg if idcg else 0.0

    return f


def source_hit_at(k: int) -> Callable[[Record], Value]:
    def f(r: Record) -> Value:
        if ranks(r) is None:
            return None
        return float(any(p.source in r.item.sources for p in r.retrieval["hybrid"][:k]))

    return f


register(Metric("hit@1", "retrieval", "the top passage contains a gold evidence span", hit_at(1), binary=True))
register(Metric("hit@5", "retrieval", "a top-5 passage contains a gold evidence span", hit_at(5), binary=True))
register(Metric("recall@5", "retrieval", "share of the gold evidence spans found in the top 5", recall_at(5)))
register(Metric("mrr", "retrieval", "1 / rank of the first passage with gold evidence (0 if not in the top 10)", mrr))
register(Metric("ndcg@10", "retrieval", "nDCG of the top 10, binary relevance = contains gold evidence", ndcg_at(10)))
register(Metric("source_hit@5", "retrieval", "a top-5 passage comes from a gold source", source_hit_at(5), binary=True))
register(Metric("dense_hit@5", "retrieval", "hit@5 of dense retrieval alone", hit_at(5, "dense"), binary=True))
register(Metric("bm25_hit@5", "retrieval", "hit@5 of BM25 alone", hit_at(5, "bm25"), binary=True))


# ------------------------------------------------------------------ answers


def _cited_texts(r: Record) -> list[str]:
    """Each cited passage as the reader sees it: under its page's title (a page title is evidence too)."""
    return [f"{c.get('title', '')}\n{c.get('text', '')}" for c in r.answer.get("citations", [])]


def keys_in_answer(r: Record) -> Value:
    if not r.answerable:
        return None
    text = norm(r.answer.get("answer", ""))
    return float(not r.abstained and all(norm(key) in text for key in r.item.must))


def evidence_cited(r: Record) -> Value:
    if not r.answerable:
        return None
    return float(not r.abstained and any(evidence_in(t, r.item.evidence) for t in _cited_texts(r)))


def answer_accuracy(r: Record) -> Value:
    if not r.answerable:
        return None
    return float(bool(keys_in_answer(r)) and bool(evidence_cited(r)))


def correct(r: Record) -> Value:
    """An answerable item answered accurately, or an abstain item declined."""
    return float(r.abstained) if not r.answerable else answer_accuracy(r)


def false_abstention(r: Record) -> Value:
    return float(r.abstained) if r.answerable else None


def abstention_precision(records: list[Record]) -> Value:
    declined = [r for r in records if r.abstained]
    return sum(not r.answerable for r in declined) / len(declined) if declined else None


def abstention_recall(records: list[Record]) -> Value:
    should = [r for r in records if not r.answerable]
    return sum(r.abstained for r in should) / len(should) if should else None


register(Metric("correct", "answer", "answerable: answer_accuracy; abstain items: declined", correct, binary=True))
register(
    Metric(
        "answer_accuracy",
        "answer",
        "answerable items: every `must` key in the answer and a cited passage holding a gold span",
        answer_accuracy,
        binary=True,
    )
)
register(Metric("keys_in_answer", "answer", "answerable items: every `must` key in the answer", keys_in_answer))
register(Metric("evidence_cited", "answer", "answerable items: a cited passage holds a gold span", evidence_cited))
register(
    Metric(
        "false_abstention",
        "abstention",
        "answerable items declined",
        false_abstention,
        higher_is_better=False,
        binary=True,
    )
)
register(
    Metric(
        "abstention_precision", "abstention", "declined items that should be declined", aggregate=abstention_precision
    )
)
register(
    Metric("abstention_recall", "abstention", "items that should be declined that were", aggregate=abstention_recall)
)


# ------------------------------------------------------------------ citations


def _statements(r: Record) -> list[citations.Statement] | None:
    if r.abstained:
        return None
    return citations.from_json(r.statements)


def citation_recall(r: Record) -> Value:
    checked = _statements(r)
    return None if checked is None else citations.recall(checked)


def citation_precision(r: Record) -> Value:
    checked = _statements(r)
    return None if checked is None else citations.precision(checked)


register(
    Metric("citation_recall", "citation", "answered items: statements supported by their citations", citation_recall)
)
register(
    Metric(
        "citation_precision",
        "citation",
        "answered items: citations needed by a supported statement",
        citation_precision,
    )
)


# ------------------------------------------------------------------ LLM runs


def _llm_only(value: Callable[[Record], Value]) -> Callable[[Record], Value]:
    return lambda r: value(r) if r.llm else None


def citations_verified(r: Record) -> Value:
    flags = [c.get("verified") for c in r.answer.get("citations", []) if c.get("verified") is not None]
    return sum(bool(f) for f in flags) / len(flags) if flags else None


register(Metric("fallback", "llm", "LLM runs: the extractive fallback was shown", _llm_only(lambda r: float(bool(r.answer.get("fallback")))), higher_is_better=False, binary=True))  # fmt: skip
register(Metric("unsupported", "llm", "LLM runs: no citation verified", _llm_only(lambda r: float(bool(r.answer.get("unsupported")))), higher_is_better=False, binary=True))  # fmt: skip
register(Metric("citations_verified", "llm", "LLM runs: citations kbqa marked verified", _llm_only(citations_verified)))


# ------------------------------------------------------------------ latency, tokens, cost


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def tokens(kind: str) -> Callable[[Record], Value]:
    def f(r: Record) -> Value:
        return float(r.usage[kind]) if kind in r.usage else None

    return f


register(Metric("latency_p50_s", "latency", "median seconds to answer the last turn", aggregate=lambda rs: percentile([r.seconds for r in rs], 0.5), higher_is_better=False))  # fmt: skip
register(Metric("latency_p95_s", "latency", "95th-percentile seconds to answer the last turn", aggregate=lambda rs: percentile([r.seconds for r in rs], 0.95), higher_is_better=False))  # fmt: skip
register(Metric("prompt_tokens", "cost", "mean prompt tokens per answer (as the endpoint reports them)", tokens("prompt_tokens"), higher_is_better=False))  # fmt: skip
register(Metric("completion_tokens", "cost", "mean output tokens per answer (endpoint, else tiktoken)", tokens("completion_tokens"), higher_is_better=False))  # fmt: skip
register(Metric("cost_usd", "cost", "estimated cost of the run's answers and judging (price table in the config)", aggregate=lambda rs: sum(r.cost_usd for r in rs if r.cost_usd is not None) if any(r.cost_usd is not None for r in rs) else None, higher_is_better=False))  # fmt: skip


# ------------------------------------------------------------------ judges


def judged(name: str) -> Callable[[Record], Value]:
    def f(r: Record) -> Value:
        verdict = r.judge.get(name)
        return verdict.score if verdict else None

    return f


register(Metric("judge_faithfulness", "judge", "judge: every claim supported by the cited passages (1, 0.5, 0)", judged("faithfulness")))  # fmt: skip
register(Metric("judge_correctness", "judge", "judge: the answer agrees with the reference (1, 0.5, 0)", judged("correctness")))  # fmt: skip
