"""The question-set schema and `kbqa eval validate` / `kbqa eval add`: every evidence span is checked
against the documents, and every bad item gets one line naming the file, line and item."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbqa.errors import UsageError
from kbqa.eval.dataset import DocumentLines, load_set, merge, validate
from tests.support import CORPUS, EVALS, SRC_000

SETS = EVALS / "sets"
TUNED_AND_MEASURED = ["dev", "heldout", "fresh", "extra", "trial"]  # unseen.jsonl is left to the lead
GOOD = {
    "id": "z001",
    "question": "Which universities are partners in Phase 2 of the Enabling Social Action programme?",
    "history": [],
    "category": "single_fact",
    "sources": [SRC_000],
    "evidence": ["working in partnership with the universities of Sheffield and Hull on Phase 2"],
    "reference": "Sheffield and Hull.",
    "must": ["Sheffield", "Hull"],
    "abstain": False,
}


def documents() -> DocumentLines:
    return DocumentLines([CORPUS, EVALS / "trial_docs"])


def write(path: Path, *items: dict) -> Path:
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    return path


def test_the_shipped_sets_are_valid_cover_every_category_and_hold_200_items():
    count, problems = validate([SETS / f"{n}.jsonl" for n in TUNED_AND_MEASURED], documents())
    assert problems == []
    assert count >= 200
    items = [i for n in TUNED_AND_MEASURED for i in load_set(SETS / f"{n}.jsonl").items]
    wanted = {"single_fact", "multi_part", "listing", "bibliographic", "comparison", "follow_up", "follow_up_3",
              "out_of_scope", "near_domain", "vague_or_misspelled", "instruction_override"}  # fmt: skip
    assert wanted <= {i.category for i in items}


def test_a_wrong_evidence_span_is_one_line_naming_file_line_and_item(tmp_path):
    bad = {**GOOD, "id": "z002", "evidence": ["working in partnership with the universities of Leeds and Hull"], "must": ["Hull"]}  # fmt: skip
    path = write(tmp_path / "mine.jsonl", GOOD, bad)
    count, problems = validate([path], documents())
    assert count == 2
    assert problems == [f"{path}:2 (z002): evidence[0] not found within a line of {SRC_000}"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"category": "trivia"}, "category: Input should be"),
        ({"history": ["earlier"]}, "category single_fact needs"),
        ({"must": ["Glasgow"]}, "must key(s) ['Glasgow'] not in the evidence spans"),
        ({"abstain": True}, "abstain items have empty sources"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"sources": ["nowhere.txt"]}, "source(s) nowhere.txt not in the document folders"),
    ],
)
def test_schema_problems_are_named(tmp_path, change, message):
    path = write(tmp_path / "mine.jsonl", {**GOOD, **change})
    _, problems = validate([path], documents())
    assert len(problems) == 1 and message in problems[0] and problems[0].startswith(f"{path}:1 (z001)")


def test_duplicate_ids_across_files_and_old_format_lines_are_reported(tmp_path):
    a = write(tmp_path / "a.jsonl", GOOD)
    b = write(tmp_path / "b.jsonl", GOOD, {"id": "q1", "question": "?", "source": SRC_000, "kind": "fact"})
    _, problems = validate([a, b], documents())
    assert problems[0] == f"{b}:2 (q1): old format (source/kind); see evals/sets/README.md"
    assert problems[1] == f"{b}:1 (z001): id already used at {a}:1"


def test_evidence_in_a_table_row_of_a_trial_document_is_found():
    docs = documents()
    assert docs.contains(["allotments.docx"], "Eastfield | 40 | 2019")
    assert docs.contains(["tresco_choir.html"], "It was founded in March 2016")
    assert not docs.contains(["tresco_choir.html"], "<p>It was founded")


def test_add_appends_valid_items_and_writes_nothing_when_one_is_bad(tmp_path):
    sets = tmp_path / "sets"
    sets.mkdir()
    target = write(sets / "extra.jsonl", GOOD)
    new = {**GOOD, "id": "fb001", "notes": "from UI feedback"}
    assert merge(write(tmp_path / "feedback.jsonl", new), target, documents()) == 1
    assert [i.id for i in load_set(target).items] == ["z001", "fb001"]

    before = target.read_text(encoding="utf-8")
    clash = write(tmp_path / "again.jsonl", {**GOOD, "id": "fb002"}, {**GOOD, "id": "z001"})
    with pytest.raises(UsageError, match=r"1 problem\(s\), nothing added; the first: .*again.jsonl:2 \(z001\): id already used"):  # fmt: skip
        merge(clash, target, documents())
    assert target.read_text(encoding="utf-8") == before


def test_validate_command_prints_one_line_per_problem_and_fails(run_cli, tmp_path):
    bad = write(tmp_path / "bad.jsonl", GOOD, {**GOOD, "id": "z9", "evidence": ["not in any file at all"], "must": []})  # fmt: skip
    proc = run_cli("eval", "validate", bad, "--documents", CORPUS)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [f"{bad}:2 (z9): evidence[0] not found within a line of {SRC_000}"]
    assert "2 item(s) in 1 file(s): 1 problem(s)" in proc.stderr


def test_feedback_items_must_be_checked_by_hand_before_they_are_added(tmp_path):
    exported = {**GOOD, "id": "fb0001", "feedback": {"rating": "up", "to_check": "category, …; then delete this field"}}  # fmt: skip
    _, problems = validate([write(tmp_path / "fb.jsonl", exported)], documents())
    assert problems == [f"{tmp_path / 'fb.jsonl'}:1 (fb0001): feedback: check the item against its `to_check`, then delete this field"]  # fmt: skip
