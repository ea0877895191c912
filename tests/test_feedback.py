"""Feedback from the web UI: stored in SQLite, exported as eval-set items by `kbqa feedback export`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbqa.errors import UsageError
from kbqa.feedback import FeedbackStore, to_eval_item
from kbqa.schema import Answer, Citation
from tests.support import in_threads

SET_FIELDS = {"id", "question", "history", "category", "sources", "evidence", "reference", "must", "abstain"}
PASSAGE = "Phase 2 runs to 2020. DCMS works with the universities of Sheffield and Hull on it."


def sample_answer(status: str = "answered") -> Answer:
    start = PASSAGE.index("DCMS")
    citations = [
        Citation(1, "000_a.txt", "Enabling Social Action", PASSAGE, 0.8, None, "000_a.txt#0", [(start, len(PASSAGE))])
    ]
    return Answer(
        question="Which universities are partners?",
        answer="DCMS works with the universities of Sheffield and Hull on it. [1]" if status == "answered" else "No.",
        citations=citations if status == "answered" else [],
        status=status,
    )


def rate(store: FeedbackStore, turn: int = 1, rating: str = "up", **kw) -> int:
    values = {
        "session": "s1",
        "turn": turn,
        "rating": rating,
        "question": "Which universities are partners?",
        "history": ["Tell me about Enabling Social Action."],
        "answer": sample_answer(),
        "options": {"answer_mode": "extractive", "k": 5},
    }
    values.update(kw)
    return store.rate(**values)


def test_rating_is_stored_with_question_history_answer_and_options(tmp_path: Path):
    store = FeedbackStore(tmp_path)
    rate(store, comment="good")
    (fb,) = store.all()
    assert (fb.rating, fb.comment, fb.turn) == ("up", "good", 1)
    assert fb.history == ["Tell me about Enabling Social Action."]
    assert fb.answer["citations"][0]["source"] == "000_a.txt" and fb.answerer == "extractive"
    assert fb.options == {"answer_mode": "extractive", "k": 5}
    assert (tmp_path / "feedback.sqlite3").exists()


def test_changing_a_rating_updates_the_row_and_keeps_the_comment(tmp_path: Path):
    store = FeedbackStore(tmp_path)
    first = rate(store, comment="first thoughts")
    second = rate(store, rating="down")  # thumbs changed, no new comment
    assert first == second
    (fb,) = store.all()
    assert (fb.rating, fb.comment) == ("down", "first thoughts")
    rate(store, rating="down", comment="")  # an explicit empty comment clears it
    assert store.all()[0].comment == ""
    store.unrate("s1", 1)
    assert store.all() == []


def test_only_filters_and_bad_values_are_refused(tmp_path: Path):
    store = FeedbackStore(tmp_path)
    rate(store, turn=0, rating="up")
    rate(store, turn=1, rating="down")
    assert [f.rating for f in store.all(only="down")] == ["down"]
    with pytest.raises(UsageError, match="rating 'meh'"):
        rate(store, rating="meh")
    with pytest.raises(UsageError, match="--only sideways"):
        store.all(only="sideways")


def test_concurrent_ratings_are_all_kept(tmp_path: Path):
    store = FeedbackStore(tmp_path)  # a new database: the first writers also set it up
    assert in_threads(lambda turn: rate(store, turn), [(turn,) for turn in range(16)]) == []
    assert sorted(f.turn for f in store.all()) == list(range(16))


def test_thumbs_up_becomes_a_prefilled_eval_item(tmp_path: Path):
    store = FeedbackStore(tmp_path)
    rate(store)
    item = to_eval_item(store.all()[0])
    assert item.keys() >= SET_FIELDS
    assert item["id"] == "fb0001" and item["category"] == "follow_up"
    assert item["sources"] == ["000_a.txt"] and item["abstain"] is False
    assert item["evidence"] == ["DCMS works with the universities of Sheffield and Hull on it."]
    assert item["evidence"][0] in PASSAGE  # verbatim from the passage
    assert item["reference"] == "DCMS works with the universities of Sheffield and Hull on it."
    assert item["must"] == [] and item["feedback"]["rating"] == "up"


def test_thumbs_down_keeps_the_question_and_what_the_system_said(tmp_path: Path):
    store = FeedbackStore(tmp_path)
    rate(store, rating="down", comment="it should name the council", history=[])
    item = to_eval_item(store.all()[0])
    assert item["category"] == "single_fact" and item["history"] == []
    assert item["sources"] == [] and item["evidence"] == [] and item["reference"] == ""
    assert item["feedback"]["comment"] == "it should name the council"
    assert "Sheffield" in item["feedback"]["answer"]


@pytest.mark.slow
def test_cli_export_writes_items_and_only_down(run_cli, tmp_path: Path):
    data = tmp_path / "data"
    store = FeedbackStore(data)
    rate(store, turn=0, rating="up")
    rate(store, turn=1, rating="down", answer=sample_answer("abstained"))
    proc = run_cli("feedback", "export", data_dir=data)
    assert proc.returncode == 0, proc.stderr
    items = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [i["feedback"]["rating"] for i in items] == ["up", "down"]
    assert items[1]["abstain"] is False  # it declined, the user wanted an answer
    out = tmp_path / "down.jsonl"
    proc = run_cli("feedback", "export", "--only", "down", "--out", out, data_dir=data)
    assert proc.returncode == 0 and "1 item(s) written" in proc.stderr
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["fb0002"]
    empty = run_cli("feedback", "export", data_dir=tmp_path / "none")
    assert empty.returncode == 0 and empty.stdout == "" and "no feedback recorded yet" in empty.stderr
