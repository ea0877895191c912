"""Question sets: the item schema (evals/sets/README.md), loading, and validation against the documents.

A set is a JSONL file of `Item`s. `validate` checks the schema, unique ids, the category rules and that
every evidence span occurs verbatim within one line of one of the item's gold sources; each problem is
one line naming the file, the line number and the item.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from kbqa.errors import UsageError
from kbqa.text import normalize_space

Category = Literal[
    "single_fact",
    "multi_part",
    "listing",
    "bibliographic",
    "comparison",
    "follow_up",
    "follow_up_3",
    "out_of_scope",
    "near_domain",
    "vague_or_misspelled",
    "instruction_override",
    "overview",
    "how_many",
    "paraphrase",
]
Shape = Literal["how_many", "pronoun", "tell_me_about", "prose_not_metadata", "follow_up", "broad", "listing_by_time"]
HISTORY_LENGTH = {"follow_up": 1, "follow_up_3": 2}


class Item(BaseModel):
    """One evaluation question with its gold answer (see evals/sets/README.md for each field)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    question: str
    history: list[str]
    category: Category
    sources: list[str]
    evidence: list[str]
    reference: str
    must: list[str]
    abstain: bool
    shape: Shape | None = None  # trial.jsonl only
    notes: str | None = None  # free text, e.g. where a feedback item came from

    @model_validator(mode="after")
    def _rules(self) -> Item:
        if not self.id.strip() or not self.question.strip():
            raise ValueError("id and question must not be empty")
        want = HISTORY_LENGTH.get(self.category, 0)
        if len(self.history) != want:
            raise ValueError(f"category {self.category} needs {want} earlier question(s) in history")
        if self.abstain and (self.sources or self.evidence or self.must):
            raise ValueError("abstain items have empty sources, evidence and must")
        if not self.abstain:
            if not self.sources or not self.evidence:
                raise ValueError("answerable items need sources and evidence")
            joined = norm(" ".join(self.evidence))
            missing = [key for key in self.must if norm(key) not in joined]
            if missing:
                raise ValueError(f"must key(s) {missing} not in the evidence spans")
        return self


@dataclass(frozen=True)
class QuestionSet:
    """A loaded set: its name (file stem), path and items."""

    name: str
    path: Path
    items: list[Item]


def norm(text: str) -> str:
    """Case- and whitespace-insensitive form used for every containment check."""
    return normalize_space(text).lower()


TABLE_CELLS = " | "  # a table-row span: "Eastfield | 40 | 2019"


def span_in(span: str, text: str) -> bool:
    """Does `text` contain a gold evidence span (case- and whitespace-insensitive)? A table-row span
    matches its cells in order within one line, however a loader joins them ("Site: Eastfield; Plots: 40")."""
    if TABLE_CELLS not in span:
        return norm(span) in norm(text)
    cells = [re.escape(norm(c)) for c in span.split(TABLE_CELLS)]
    pattern = re.compile(r"\b" + r"\b.*?\b".join(cells) + r"\b")
    return any(pattern.search(norm(line)) for line in text.splitlines())


def evidence_in(text: str, spans: list[str]) -> bool:
    """Does `text` contain one of the gold evidence spans?"""
    return any(span_in(span, text) for span in spans)


def read_items(path: Path) -> tuple[list[tuple[int, Item]], list[str]]:
    """Parse a set file: (line number, item) pairs and one problem line per bad line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    items, problems = [], []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{n}: not valid JSON ({exc.msg})")
            continue
        label = raw.get("id", "?") if isinstance(raw, dict) else "?"
        if isinstance(raw, dict) and ("source" in raw or "kind" in raw) and "sources" not in raw:
            problems.append(f"{path}:{n} ({label}): old format (source/kind); see evals/sets/README.md")
            continue
        if isinstance(raw, dict) and "feedback" in raw:  # `kbqa feedback export` output not yet checked by hand
            problems.append(f"{path}:{n} ({label}): feedback: check the item against its `to_check`, then delete this field")  # fmt: skip
            continue
        try:
            items.append((n, Item.model_validate(raw)))
        except ValidationError as exc:
            problems.append(f"{path}:{n} ({label}): {_first_error(exc)}")
    return items, problems


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    message = err["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def load_set(path: Path) -> QuestionSet:
    """Load a set for a run; the first bad line is a UsageError (run `kbqa eval validate` for all of them)."""
    items, problems = read_items(path)
    if problems:
        more = f" (and {len(problems) - 1} more; run `kbqa eval validate {path}`)" if len(problems) > 1 else ""
        raise UsageError(problems[0] + more)
    ids = [item.id for _, item in items]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise UsageError(f"{path}: duplicate id(s) {', '.join(dupes)}")
    return QuestionSet(Path(path).stem, Path(path), [item for _, item in items])


# ------------------------------------------------------------------ documents as lines

# How a gold source file is read into lines for the evidence check, by how its name ends. Raw sources
# of documents the harness renders (`x.pdf.txt` → `x.pdf`) are read as their text; anything else goes
# through kbqa's own loaders.
LineReader = Callable[[Path], list[str]]


def _plain_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _html_lines(path: Path) -> list[str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    blocks = soup.find_all(["title", "h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "th", "dt", "dd"])
    return [block.get_text(" ") for block in blocks]


def _docx_json_lines(path: Path) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    lines = [data.get("title", "")]
    for block in data.get("blocks", []):
        if block.get("type") == "table":
            lines += [" | ".join(row) for row in block.get("rows", [])]
        else:
            lines.append(block.get("text", ""))
    return lines


def _loader_lines(path: Path) -> list[str]:
    from kbqa.ingestion.loaders import load_text

    return load_text(path).splitlines()


# (name ending, source-name ending it stands for, reader)
LINE_READERS: list[tuple[str, str, LineReader]] = [
    (".pdf.txt", ".pdf", _plain_lines),
    (".docx.json", ".docx", _docx_json_lines),
    (".txt", ".txt", _plain_lines),
    (".md", ".md", _plain_lines),
    (".html", ".html", _html_lines),
    (".htm", ".htm", _html_lines),
]


def source_name(path: Path) -> str:
    """The citation name a file is indexed under (`report.pdf.txt` is rendered to `report.pdf`)."""
    for ending, stands_for, _ in LINE_READERS:
        if path.name.endswith(ending):
            return path.name[: -len(ending)] + stands_for
    return path.name


class DocumentLines:
    """Lines of every document under some folders, by source name, read on first use."""

    def __init__(self, folders: Iterable[Path]) -> None:
        self.paths: dict[str, Path] = {}
        for folder in folders:
            folder = Path(folder)
            if not folder.is_dir():
                raise UsageError(f"{folder}: no such folder (documents to check evidence against)")
            for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
                self.paths.setdefault(source_name(path), path)
        self._lines: dict[str, list[str]] = {}

    def lines(self, source: str) -> list[str] | None:
        """Whitespace-normalised lines of a source, or None when no folder holds it."""
        if source not in self._lines:
            path = self.paths.get(source)
            if path is None:
                return None
            reader = next((r for end, _, r in LINE_READERS if path.name.endswith(end)), _loader_lines)
            self._lines[source] = [normalize_space(line) for line in reader(path)]
        return self._lines[source]

    def contains(self, sources: list[str], span: str) -> bool:
        """Does `span` occur within one line of one of `sources`?"""
        want = normalize_space(span)
        return any(want in line for s in sources for line in self.lines(s) or [])


def validate(paths: list[Path], documents: DocumentLines) -> tuple[int, list[str]]:
    """Check set files: schema, ids unique across them, gold sources present, evidence verbatim.

    Returns (items checked, one problem line per bad item)."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    count = 0
    for path in paths:
        items, bad = read_items(path)
        problems += bad
        for n, item in items:
            count += 1
            where = f"{path}:{n} ({item.id})"
            if item.id in seen:
                problems.append(f"{where}: id already used at {seen[item.id]}")
            seen.setdefault(item.id, f"{path}:{n}")
            missing = [s for s in item.sources if documents.lines(s) is None]
            if missing:
                problems.append(f"{where}: source(s) {', '.join(missing)} not in the document folders")
                continue
            for i, span in enumerate(item.evidence):
                if not documents.contains(item.sources, span):
                    problems.append(f"{where}: evidence[{i}] not found within a line of {', '.join(item.sources)}")
    return count, problems


def merge(source: Path, into: Path, documents: DocumentLines) -> int:
    """Validate the items of `source` (e.g. `kbqa feedback export` output, completed by hand) and append
    them to the set `into`; nothing is written unless every item passes. Returns the number added."""
    others = sorted(p for p in Path(into).parent.glob("*.jsonl") if p.resolve() != Path(into).resolve())
    existing = [p for p in [Path(into)] if p.exists()]
    _, problems = validate([*others, *existing, Path(source)], documents)
    if problems:
        raise UsageError(f"{len(problems)} problem(s), nothing added; the first: {problems[0]}")
    items, _ = read_items(Path(source))
    text = Path(into).read_text(encoding="utf-8") if Path(into).exists() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    lines = [item.model_dump_json(exclude_none=True) for _, item in items]
    Path(into).write_text(text + "".join(line + "\n" for line in lines), encoding="utf-8")
    return len(items)
