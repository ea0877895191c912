"""Feedback on answers (thumbs up/down and a comment), kept in SQLite under the data folder.

The web UI records one row per rated answer, with everything needed to replay and judge it
later (question, earlier questions, the answer's JSON with its citations, answerer, options);
`kbqa feedback export` turns rows into items of the eval question-set format
(evals/sets/README.md) for a maintainer to check and add to a set.

Each call opens its own connection: the UI's users rate answers from different threads, and
SQLite (WAL mode) serialises the writes. The table and the journal mode are set up once per store,
under a lock: changing the journal mode while another connection writes fails instead of waiting.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kbqa.errors import StoreError, UsageError
from kbqa.schema import Answer

FILE_NAME = "feedback.sqlite3"
BUSY_TIMEOUT_S = 30  # how long a write waits for another one (many users, a loaded machine)
RATINGS = ("up", "down")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    turn INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    rating TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    history TEXT NOT NULL,
    answer TEXT NOT NULL,
    answerer TEXT,
    options TEXT NOT NULL,
    UNIQUE (session, turn)
)
"""


@dataclass
class Feedback:
    """One rated answer."""

    id: int
    session: str
    turn: int
    created_at: str
    rating: str
    comment: str
    question: str
    history: list[str]  # the conversation's earlier questions, oldest first
    answer: dict[str, Any]  # Answer.to_json()
    answerer: str | None
    options: dict[str, Any]  # how it was asked: answer mode, k, abstention level, filters


class FeedbackStore:
    """The feedback database of one data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / FILE_NAME
        self._setup_lock = threading.Lock()
        self._set_up = False

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
            with self._setup_lock:
                if not self._set_up:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute(_SCHEMA)
                    self._set_up = True
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{self.path}: cannot open the feedback database ({exc})") from None
        with closing(conn), conn:  # one transaction
            yield conn

    def rate(
        self,
        *,
        session: str,
        turn: int,
        rating: str,
        question: str,
        history: list[str],
        answer: Answer,
        options: dict[str, Any],
        comment: str | None = None,
    ) -> int:
        """Record (or change) the rating of answer `turn` of a session; a comment given replaces the old one."""
        if rating not in RATINGS:
            raise UsageError(f"rating {rating!r}: must be one of {', '.join(RATINGS)}")
        row = (
            session,
            turn,
            datetime.now(UTC).isoformat(timespec="seconds"),
            rating,
            (comment or "").strip(),
            question,
            json.dumps(history, ensure_ascii=False),
            json.dumps(answer.to_json(), ensure_ascii=False),
            answer.answerer,
            json.dumps(options, ensure_ascii=False),
        )
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO feedback (session, turn, created_at, rating, comment, question, history, answer,"
                " answerer, options) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (session, turn) DO UPDATE SET rating = excluded.rating, created_at = excluded.created_at,"
                " comment = CASE WHEN ? IS NULL THEN feedback.comment ELSE excluded.comment END",
                (*row, comment),
            )
            (rid,) = conn.execute("SELECT id FROM feedback WHERE session = ? AND turn = ?", (session, turn)).fetchone()
        return int(rid)

    def unrate(self, session: str, turn: int) -> None:
        """Forget the rating of an answer (the user clicked the same thumb again)."""
        with self._connect() as conn:
            conn.execute("DELETE FROM feedback WHERE session = ? AND turn = ?", (session, turn))

    def all(self, only: str | None = None) -> list[Feedback]:
        """Every rating, oldest first; `only="down"` (or "up") keeps one kind."""
        if only is not None and only not in RATINGS:
            raise UsageError(f"--only {only}: must be one of {', '.join(RATINGS)}")
        if not self.path.exists():
            return []
        query = "SELECT * FROM feedback" + (" WHERE rating = ?" if only else "") + " ORDER BY id"
        with self._connect() as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(query, (only,) if only else ()).fetchall()
        return [_from_row(r) for r in rows]


def _from_row(row: sqlite3.Row) -> Feedback:
    data = dict(row)
    for key in ("history", "answer", "options"):
        data[key] = json.loads(data[key])
    return Feedback(**data)


# ------------------------------------------------------------------ export as eval items


def to_eval_item(fb: Feedback) -> dict[str, Any]:
    """An item of the eval question-set format (evals/sets/README.md), pre-filled from the rated answer.

    A thumbs-up answer gives its cited sources, the cited sentences as evidence and its text as the
    reference; `must` is left for the maintainer to fill. A thumbs-down answer gives only the question:
    the maintainer decides what the right answer (or a refusal) would have been. `abstain` is the
    system's behaviour for an up, its opposite for a down. Everything the user saw and said is kept
    under `feedback`, to be deleted once the item is checked.
    """
    answer = fb.answer
    up = fb.rating == "up"
    abstained = bool(answer.get("abstained"))
    citations = answer.get("citations") or []
    answered_up = up and not abstained
    return {
        "id": f"fb{fb.id:04d}",
        "question": fb.question,
        "history": list(fb.history),
        "category": {0: "single_fact", 1: "follow_up"}.get(len(fb.history), "follow_up_3"),
        "sources": sorted({c["source"] for c in citations}) if answered_up else [],
        "evidence": _evidence(citations) if answered_up else [],
        "reference": _strip_markers(answer.get("answer", "")) if answered_up else "",
        "must": [],
        "abstain": abstained if up else not abstained,
        "feedback": {
            "rating": fb.rating,
            "comment": fb.comment,
            "answer": answer.get("answer"),
            "status": answer.get("status"),
            "answerer": fb.answerer,
            "model": answer.get("model"),
            "citations": [{k: c.get(k) for k in ("n", "source", "title", "verified")} for c in citations],
            "options": fb.options,
            "created_at": fb.created_at,
            "to_check": "category, sources, evidence, reference, must and abstain; then delete this field",
        },
    }


def _evidence(citations: list[dict[str, Any]]) -> list[str]:
    """The cited sentences, verbatim from their passages (a passage's start when nothing is highlighted)."""
    spans: list[str] = []
    for c in citations:
        text = c.get("text") or ""
        marks = c.get("highlights") or []
        pieces = [text[s:e].strip() for s, e in marks] if marks else [text.strip().splitlines()[0] if text else ""]
        spans += [p for p in pieces if p and p not in spans]
    return spans


def _strip_markers(text: str) -> str:
    return re.sub(r"\s*\[\d+\]", "", text).strip()
