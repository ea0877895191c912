"""Answer-quality evaluation on a JSONL question set (see evals/README.md for the format).

Metrics, all computed here from the questions and the system's outputs:
- retrieval hit@k for dense, BM25 and hybrid: a top-k passage contains the gold evidence
  (and, looser, comes from the gold source file);
- answer accuracy: every `must` key is in the answer *and* a citation's passage contains the evidence;
- abstention: the share of out-of-scope questions declined, and of answerable ones wrongly declined.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kbqa.api import KnowledgeBase
from kbqa.errors import UsageError
from kbqa.schema import Answer
from kbqa.text import normalize_space

REQUIRED = ("id", "question", "source", "evidence", "must", "abstain")


def load_questions(path: Path) -> list[dict[str, Any]]:
    """Read and check a question file; a bad line is reported with its number."""
    items = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
        missing = [k for k in REQUIRED if k not in item]
        if missing:
            raise UsageError(f"{path}:{n}: missing field(s) {', '.join(missing)}")
        item.setdefault("history", [])
        item.setdefault("kind", "oos" if item["abstain"] else "fact")
        items.append(item)
    return items


def norm(text: str) -> str:
    return normalize_space(text).lower()


def contains_evidence(text: str, evidence: str | None) -> bool:
    return bool(evidence) and norm(evidence) in norm(text)


@dataclass
class Result:
    id: str
    kind: str
    question: str
    expect_abstain: bool
    abstained: bool
    answer: str
    keys_ok: bool
    evidence_cited: bool
    correct: bool
    standalone_question: str | None
    seconds: float
    citations: list[dict[str, Any]] = field(default_factory=list)


def answer_item(
    kb: KnowledgeBase, item: dict[str, Any], llm: str | None = None, k: int | None = None, **options: Any
) -> tuple[Answer, float]:
    """Ask an item's question after replaying its history as a conversation."""
    chat = kb.conversation()
    for earlier in item.get("history", []):
        chat.ask(earlier, llm=llm, k=k, **options)
    started = time.perf_counter()
    answer = chat.ask(item["question"], llm=llm, k=k, **options)
    return answer, time.perf_counter() - started


def score(item: dict[str, Any], answer: Answer, seconds: float) -> Result:
    keys_ok = all(norm(key) in norm(answer.answer) for key in item["must"])
    cited = any(contains_evidence(c.text, item["evidence"]) for c in answer.citations)
    correct = answer.abstained if item["abstain"] else (not answer.abstained and keys_ok and cited)
    return Result(
        id=item["id"],
        kind=item.get("kind", ""),
        question=item["question"],
        expect_abstain=item["abstain"],
        abstained=answer.abstained,
        answer=answer.answer,
        keys_ok=keys_ok,
        evidence_cited=cited,
        correct=correct,
        standalone_question=answer.standalone_question,
        seconds=seconds,
        citations=[{"n": c.n, "source": c.source, "title": c.title} for c in answer.citations],
    )


def run_answers(
    kb: KnowledgeBase, items: list[dict[str, Any]], llm: str | None = None, k: int | None = None
) -> list[Result]:
    return [score(item, *answer_item(kb, item, llm, k)) for item in items]


def summarize(results: list[Result]) -> dict[str, Any]:
    answerable = [r for r in results if not r.expect_abstain]
    oos = [r for r in results if r.expect_abstain]
    latencies = sorted(r.seconds for r in results)

    def share(rows: list[Result], pred) -> float | None:  # noqa: ANN001
        return round(sum(1 for r in rows if pred(r)) / len(rows), 3) if rows else None

    by_kind: dict[str, Any] = {}
    for kind in sorted({r.kind for r in answerable}):
        rows = [r for r in answerable if r.kind == kind]
        by_kind[kind] = {"n": len(rows), "accuracy": share(rows, lambda r: r.correct)}
    return {
        "questions": len(results),
        "answerable": len(answerable),
        "out_of_scope": len(oos),
        "answer_accuracy": share(answerable, lambda r: r.correct),
        "keys_in_answer": share(answerable, lambda r: r.keys_ok and not r.abstained),
        "evidence_cited": share(answerable, lambda r: r.evidence_cited and not r.abstained),
        "false_abstention": share(answerable, lambda r: r.abstained),
        "oos_abstention": share(oos, lambda r: r.abstained),
        "by_kind": by_kind,
        "latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "latency_p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 3) if latencies else None,
    }


def retrieval(kb: KnowledgeBase, items: list[dict[str, Any]], k: int = 5) -> dict[str, dict[str, float]]:
    """hit@k (evidence in a top-k passage; gold source in top-k) and MRR, per retrieval mode."""
    rows = [i for i in items if not i["abstain"] and i.get("evidence")]
    out = {}
    for mode in ("dense", "bm25", "hybrid"):
        ev = src = rr = 0.0
        for item in rows:
            query = " ".join([*item.get("history", [])[-1:], item["question"]])
            hits = kb.retrieve(query, k=k, mode=mode)
            ranks = [n for n, h in enumerate(hits, 1) if contains_evidence(h.chunk.text, item["evidence"])]
            ev += bool(ranks)
            rr += 1 / ranks[0] if ranks else 0
            src += any(h.chunk.source == item["source"] for h in hits)
        n = len(rows) or 1
        out[mode] = {"hit_evidence": round(ev / n, 3), "hit_source": round(src / n, 3), "mrr": round(rr / n, 3)}
    return out


def calibrate(kb: KnowledgeBase, items: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Sweep the abstention threshold of the extractive answerer; one row per threshold."""
    rows = []
    answers = []
    for item in items:
        answer, _ = answer_item(kb, item, abstain_threshold=0.0)  # every confidence passes; the sweep decides
        answers.append((item, answer, score(item, answer, 0.0)))
    for t in [x / 100 for x in range(20, 71, 2)]:
        ok_answer = [r.correct and a.confidence >= t for i, a, r in answers if not i["abstain"]]
        ok_oos = [a.confidence < t for i, a, _ in answers if i["abstain"]]
        rows.append(
            {
                "threshold": t,
                "answer_accuracy": round(sum(ok_answer) / max(1, len(ok_answer)), 3),
                "oos_abstention": round(sum(ok_oos) / max(1, len(ok_oos)), 3),
            }
        )
    return rows


def write_report(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=lambda o: asdict(o)))
