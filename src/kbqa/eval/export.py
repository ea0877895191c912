"""Export a run's items in the columns other evaluation tools read, to cross-check kbqa's figures.

- ragas (0.2+ `EvaluationDataset.from_list` / `SingleTurnSample`): user_input, response,
  retrieved_contexts, reference, reference_contexts — one JSON object per line.
- deepeval (`LLMTestCase`; `EvaluationDataset.add_test_cases_from_json_file` with these key names):
  input, actual_output, expected_output, retrieval_context, context — one JSON array.

A multi-turn item's input is its earlier questions and the question, one per line. Contexts are the
passages the harness retrieved for the question as searched (hybrid, top k); the reference contexts
are the gold evidence spans.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kbqa.errors import UsageError
from kbqa.eval.metrics import Record
from kbqa.eval.run import read_records


def _input(r: Record) -> str:
    return "\n".join([*r.item.history, r.item.question])


def ragas_row(r: Record) -> dict[str, Any]:
    return {
        "user_input": _input(r),
        "response": r.answer.get("answer", ""),
        "retrieved_contexts": r.contexts,
        "reference": r.item.reference,
        "reference_contexts": r.item.evidence,
    }


def deepeval_row(r: Record) -> dict[str, Any]:
    return {
        "input": _input(r),
        "actual_output": r.answer.get("answer", ""),
        "expected_output": r.item.reference,
        "retrieval_context": r.contexts,
        "context": r.item.evidence,
    }


# format → (row builder, file name, writer)
FORMATS: dict[str, tuple[Callable[[Record], dict[str, Any]], str, str]] = {
    "ragas": (ragas_row, "ragas.jsonl", "jsonl"),
    "deepeval": (deepeval_row, "deepeval.json", "json"),
}


def export(run_folder: Path, fmt: str, out: Path | None = None) -> Path:
    """Write the run's items in `fmt`; returns the file written (default: inside the run folder)."""
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: one of {', '.join(FORMATS)}")
    records = read_records(Path(run_folder) / "items.jsonl")
    if not records:
        raise UsageError(f"{run_folder}: no items.jsonl with items (is it a run folder?)")
    build, name, kind = FORMATS[fmt]
    rows = [build(r) for r in records]
    path = out or Path(run_folder) / name
    if kind == "jsonl":
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    else:
        text = json.dumps(rows, ensure_ascii=False, indent=1)
    path.write_text(text, encoding="utf-8")
    return path
