"""The small typed records that cross module boundaries."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Chunk:
    """A passage of a source document, as stored in the index.

    `text` is the passage exactly as it reads in the (cleaned) source; `embed_text`
    adds the entry title and section so a chunk of a long entry is still found by
    its title.
    """

    id: str
    text: str
    source: str
    title: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def embed_text(self) -> str:
        head = [h for h in (self.title, self.metadata.get("section")) if h and h not in self.text[:300]]
        return "\n".join([*head, self.text])


@dataclass
class Hit:
    """A chunk found by retrieval, with the scores that put it there."""

    chunk: Chunk
    score: float  # fused (reciprocal rank) score
    dense: float | None = None  # cosine similarity to the question, when dense retrieval saw it
    bm25: float | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None


@dataclass
class Citation:
    """One numbered citation: `text` is the cited passage and contains the cited sentence."""

    n: int
    source: str
    title: str
    text: str
    score: float
    verified: bool | None = None  # set when an LLM answer's claim was checked against `text`


@dataclass
class Answer:
    """What `kbqa.ask` returns; `to_json()` is the CLI's stable `--json` contract."""

    question: str
    answer: str
    citations: list[Citation]
    abstained: bool
    timings: dict[str, float] = field(default_factory=dict)
    standalone_question: str | None = None
    model: str | None = None  # None = the extractive answerer
    usage: dict[str, int] | None = None
    fallback: bool = False  # an LLM was asked for but the extractive answer is shown
    unsupported: bool = False  # an LLM answer with no verified citation
    notice: str | None = None  # one line explaining a fallback or an unsupported answer
    topic: str | None = None  # what the answer was about (carried into follow-ups); not in the JSON
    confidence: float = 0.0  # the answerer's support score for its best evidence (0–1)
    entry_ids: list[str] = field(default_factory=list)  # entries the citations point into; not in the JSON

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object (see README "JSON output")."""
        data = {
            "question": self.question,
            "answer": self.answer,
            "citations": [_citation_json(c) for c in self.citations],
            "abstained": self.abstained,
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
        }
        data["standalone_question"] = self.standalone_question or self.question
        data["model"] = self.model
        data["usage"] = self.usage
        data["fallback"] = self.fallback
        data["unsupported"] = self.unsupported
        if self.notice:
            data["notice"] = self.notice
        return data


def _citation_json(c: Citation) -> dict[str, Any]:
    d = asdict(c)
    d["score"] = round(c.score, 4)
    if c.verified is None:
        del d["verified"]
    return d


@dataclass
class Entry:
    """A knowledge-base entry (or a whole plain document) with its catalogue metadata."""

    entry_id: str
    source: str
    title: str
    year_start: int | None = None
    year_end: int | None = None
    keywords: list[str] = field(default_factory=list)
    contributors: list[str] = field(default_factory=list)
    affiliations: list[str] = field(default_factory=list)
    chunk_ids: list[str] = field(default_factory=list)
    parent: str | None = None  # for a chapter: the title of the book entry it belongs to


@dataclass
class IngestReport:
    """The one-line summary of an ingest run."""

    files_seen: int = 0
    files_indexed: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    files_skipped: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_total: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # repairs made on the way (not problems with files)

    def summary(self) -> str:
        return (
            f"{self.files_indexed} file(s) indexed, {self.files_unchanged} unchanged, "
            f"{self.files_removed} removed, {self.files_skipped} skipped; "
            f"{self.chunks_added} chunks added, {self.chunks_removed} removed, "
            f"{self.chunks_total} in the index; {self.seconds:.1f} s"
        )
