"""The small typed records that cross module boundaries."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

OPEN_END = 9999  # year_end stored for entries still running ("2015 – present"), so year filters match them


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


@dataclass(frozen=True)
class FollowUp:
    """A question resolved against its conversation (see `kbqa.conversation`)."""

    standalone: str  # what retrieval searches for
    context: str | None = None  # the earlier question it leans on (weighs less than the question itself)
    topic: str | None = None  # the title of the entry the conversation is about
    entry_ids: tuple[str, ...] = ()  # entries the conversation is about: their passages are offered first
    anchor: str | None = None  # the sentence the last answer opened with ("What did that package focus on?")


SCHEMA_VERSION = "1.0"  # of Answer.to_json() and IngestReport.to_json(); docs/answer.schema.json describes it
STATUSES = ("answered", "abstained", "fallback", "unsupported")


@dataclass
class Citation:
    """One numbered citation: the whole passage behind an `[n]` marker, and where in it the answer relies.

    `score` is the cosine similarity (0–1) of the question and the passage, whichever answerer cited it.
    `verified` says whether every answer sentence citing the passage is supported by it (None: not checked;
    extractive answers quote the passage verbatim). `highlights` are [start, end) offsets in `text` of the
    sentence(s) the answer relies on.
    """

    n: int
    source: str
    title: str
    text: str
    score: float
    verified: bool | None = None
    entry_id: str | None = None
    highlights: list[tuple[int, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "source": self.source,
            "title": self.title,
            "text": self.text,
            "score": round(min(1.0, max(0.0, self.score)), 4),
            "verified": self.verified,
            "entry_id": self.entry_id,
            "highlights": [list(h) for h in self.highlights],
        }


@dataclass
class Answer:
    """What every answerer returns; `to_json()` is the versioned `--json` contract (docs/answer.schema.json)."""

    question: str
    answer: str
    citations: list[Citation]
    status: str = "answered"  # one of STATUSES
    answerer: str = "extractive"  # the registered answerer that produced the text shown
    timings: dict[str, float] = field(default_factory=dict)
    standalone_question: str | None = None  # the question as searched, when it differs (a follow-up)
    model: str | None = None  # the LLM that wrote it; None for extractive and catalogue answers
    usage: dict[str, int] | None = None
    notice: str | None = None  # one line: why a fallback, an unsupported answer, text left out
    confidence: float = 0.0  # the answerer's confidence in its best evidence (0–1)
    # an LLM's answer: the extractive answer it rewords, which the conversation reads its state from (so a
    # follow-up means the same whichever path answered); kept in memory only, not in `to_json()`
    quoted: str | None = field(default=None, compare=False)

    @property
    def abstained(self) -> bool:
        return self.status == "abstained"

    @property
    def fallback(self) -> bool:
        return self.status == "fallback"

    @property
    def unsupported(self) -> bool:
        return self.status == "unsupported"

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object: every field present, null when not applicable."""
        return {
            "schema_version": SCHEMA_VERSION,
            "question": self.question,
            "answer": self.answer,
            "answerer": self.answerer,
            "status": self.status,
            "abstained": self.abstained,
            "fallback": self.fallback,
            "unsupported": self.unsupported,
            "citations": [c.to_json() for c in self.citations],
            "standalone_question": self.standalone_question or self.question,
            "model": self.model,
            "usage": self.usage,
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
            "notice": self.notice,
            "confidence": round(self.confidence, 4),
        }


@dataclass
class TextDelta:
    """A piece of answer text, as it is produced."""

    text: str


@dataclass
class Reset:
    """Discard the answer text shown so far: the LLM's stream was cut and is retried."""

    reason: str


@dataclass
class Final:
    """The last event of every answer stream."""

    answer: Answer


Event = TextDelta | Reset | Final


@dataclass
class Record:
    """One structured line of an entry: a related publication, a report, a chapter, a presentation.

    Parsed from the entry's text (kbqa.ingestion.parse), kept in the catalogue with the entry, so that
    "who wrote …", "which journal …", "which publisher …" are answered from fields and cited to `line`.
    """

    line: str  # the line of the entry's text it was read from, as it reads there
    title: str
    label: str | None = None  # the list or field it sits under: "Related publications", "Policy Papers", "chapter"
    authors: list[str] = field(default_factory=list)  # people
    organisations: list[str] = field(default_factory=list)  # organisations named as authors or affiliations
    year: int | None = None
    date: str | None = None  # as written, when more than a year: "July 2018", "March & April 2018"
    venue: str | None = None  # the journal, book or series it appeared in
    publisher: str | None = None
    place: str | None = None  # of publication: "Bristol"
    volume: str | None = None  # "38:7"
    url: str | None = None


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
    records: list[Record] = field(default_factory=list)  # its related publications and other structured lines
    dated_by: str | None = None  # where year_start/year_end come from: "title" (its title line) or "text"
    section: str | None = None  # the page heading it is listed under ("Research – co-production practice")

    def __post_init__(self) -> None:  # from the manifest's JSON: records come back as dicts
        self.records = [r if isinstance(r, Record) else Record(**r) for r in self.records]


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

    def to_json(self) -> dict[str, Any]:
        """The documented object of `kbqa ingest --json` (docs/ingest.schema.json)."""
        return {"schema_version": SCHEMA_VERSION, **asdict(self), "summary": self.summary()}

    def summary(self) -> str:
        return (
            f"{self.files_indexed} file(s) indexed, {self.files_unchanged} unchanged, "
            f"{self.files_removed} removed, {self.files_skipped} skipped; "
            f"{self.chunks_added} chunks added, {self.chunks_removed} removed, "
            f"{self.chunks_total} in the index; {self.seconds:.1f} s"
        )


@dataclass
class SourceInfo:
    """One indexed file, as `kbqa sources` lists it."""

    source: str
    title: str
    entries: int
    chunks: int
    path: str
    ingested_at: float


@dataclass
class Facets:
    """The values the index's metadata holds: the choices of the filters."""

    sources: list[str]
    keywords: list[str]
    contributors: list[str]
    year_min: int | None
    year_max: int | None


@dataclass
class EntryText:
    """A whole entry (a knowledge-base project, or a plain document): its metadata and its text."""

    entry: Entry
    text: str
