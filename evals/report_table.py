"""Print the README's evaluation table from the JSON reports in evals/reports/ (written by `kbqa eval --report`).

Usage: python evals/report_table.py
"""

from __future__ import annotations

import json
from pathlib import Path

REPORTS = Path(__file__).resolve().parent / "reports"
SETS = [("questions", "dev"), ("heldout", "held-out"), ("fresh", "fresh")]
ANSWERERS = [("extractive", "extractive (no LLM)"), ("llamacpp", "LLM: local Qwen2.5-Coder 0.5B")]


def main() -> None:
    print(
        "| answerer | set | answer accuracy | out-of-scope declined | false abstentions | hybrid hit@5 (dense / BM25) | p50 latency |"
    )
    print("|---|---|---|---|---|---|---|")
    for key, answerer in ANSWERERS:
        for name, label in SETS:
            path = REPORTS / f"{key}-{name}.json"
            if not path.exists():
                continue
            s = json.loads(path.read_text())["summary"]
            r = s.get("retrieval_hit@5", {})
            hit = (
                f"{r['hybrid']['hit_evidence']:.2f} ({r['dense']['hit_evidence']:.2f} / {r['bm25']['hit_evidence']:.2f})"
                if r
                else "–"
            )
            print(
                f"| {answerer} | {label} ({s['answerable']} + {s['out_of_scope']}) | {s['answer_accuracy']:.2f} | "
                f"{s['oos_abstention']:.2f} | {s['false_abstention']:.2f} | {hit} | {s['latency_p50_s']:.2f} s |"
            )


if __name__ == "__main__":
    main()
