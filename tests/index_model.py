"""Generated documents for the property tests of the index, and the model of what the index must hold.

A document (`Doc`) is a plain report (a title and sections) or a knowledge-base page (entries with a dated
title line, `Keywords:` and `Contributed by:`), made of sentences of the real corpus and *facts*: sentences
with a made-up name found nowhere else, so a question about one has exactly one right source. Documents
are rendered into real .txt, .md, .html, .docx (python-docx) and .pdf (fpdf2) files by the renderers the
trial documents use, small enough that a file is one to three chunks: an example runs in seconds.
"""

from __future__ import annotations

import hashlib
import html
import os
import random
import re
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from tests.support import CORPUS, trial_renderer

FORMATS = ("txt", "md", "html", "docx", "pdf")
PAGE_FORMATS = ("txt", "md", "html")  # knowledge-base pages are web pages saved as text, Markdown or HTML
SYLLABLES = ["bar", "cel", "dun", "fen", "gor", "hal", "ket", "lim", "mor", "nev", "pol", "ques", "rin", "sol", "tav"]
SYLLABLES += ["vel", "wic", "yar", "zan", "bro", "cra", "dal", "eth", "fal", "gil", "hor", "isk", "jor", "kal", "lun"]

# Fact sentences and the questions they answer: {name} is a made-up place, {n} a number.
TEMPLATES = [
    (
        "The {name} tenants forum planted {n} hawthorn saplings along the canal path.",
        "How many hawthorn saplings did the {name} tenants forum plant?",
    ),
    (
        "Volunteers at the {name} community kitchen served {n} meals during the winter pilot.",
        "How many meals did volunteers at the {name} community kitchen serve?",
    ),
    (
        "The {name} citizens panel met {n} times before publishing its recommendations.",
        "How many times did the {name} citizens panel meet?",
    ),
    (
        "The {name} youth archive recorded {n} oral history interviews with older residents.",
        "How many oral history interviews did the {name} youth archive record?",
    ),
    (
        "Researchers from the {name} partnership surveyed {n} households about local bus services.",
        "How many households did researchers from the {name} partnership survey?",
    ),
]
MONTHS = ["January", "March", "April", "June", "September", "October"]
PEOPLE = ["Alys Penrose", "Tomasz Wren", "Ifeoma Hale", "Mairead Quill", "Osric Lamb", "Priya Venn"]
ORGS = ["University of Dunmore", "Kelsby Borough Council", "Northvale Housing Trust", "Fenwick Arts Centre"]
TOPICS = ["housing and neighbourhoods", "health and care", "arts and heritage", "transport"]


def made_up_name(serial: int) -> str:
    """A pronounceable word found in no corpus file, a different one for every serial ('Celbarbar',
    'Dunmorhal'): the serial written in base 30 with a syllable for a digit, scrambled so that
    consecutive serials do not share their first syllables."""
    n = (serial * 7919) % len(SYLLABLES) ** 3 if serial < len(SYLLABLES) ** 3 else serial
    digits = []
    for _ in range(3):
        n, d = divmod(n, len(SYLLABLES))
        digits.append(SYLLABLES[d])
    word = "".join(digits).capitalize()
    return word if serial < len(SYLLABLES) ** 3 else f"{word}{serial}"


@cache
def filler_sentences() -> tuple[str, ...]:
    """Sentences of the real corpus that read as ordinary report prose: no brackets, digits, colons or
    quotes (so none can look like an entry's title line or a field), 8 to 30 words, plain characters."""
    found: list[str] = []
    for path in sorted(CORPUS.glob("*.txt")):
        text = " ".join(path.read_text(encoding="utf-8").split())
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            words = sentence.split()
            if not 8 <= len(words) <= 30 or not sentence.endswith("."):
                continue
            if re.search(r"[()\[\]\d:;\"“”‘’'/&•@#*]|\s-|-\s|–|—", sentence) or not sentence.isascii():
                continue
            if not sentence[0].isupper() or sentence.lower().startswith(("keywords", "contributed")):
                continue
            found.append(sentence)
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class Fact:
    """A sentence a question can be asked about; its made-up name appears in no other fact."""

    serial: int
    template: int
    number: int

    @property
    def name(self) -> str:
        return made_up_name(self.serial)

    @property
    def sentence(self) -> str:
        return TEMPLATES[self.template][0].format(name=self.name, n=self.number)

    @property
    def question(self) -> str:
        return TEMPLATES[self.template][1].format(name=self.name)


@dataclass(frozen=True)
class Section:
    heading: str | None
    paragraphs: tuple[tuple[str, ...], ...]  # paragraphs of sentences


@dataclass(frozen=True)
class EntrySpec:
    """One entry of a knowledge-base page."""

    title: str
    year_start: int
    year_end: int
    paragraphs: tuple[tuple[str, ...], ...]
    keywords: tuple[str, ...]
    contributors: tuple[tuple[str, str], ...]  # (person, organisation)

    @property
    def title_line(self) -> str:
        m1, m2 = MONTHS[self.year_start % len(MONTHS)], MONTHS[self.year_end % len(MONTHS)]
        return f"{self.title} ({m1} {self.year_start} – {m2} {self.year_end})"


@dataclass(frozen=True)
class Doc:
    """A document's content, independent of its file format."""

    title: str
    facts: tuple[Fact, ...]
    sections: tuple[Section, ...] = ()
    entries: tuple[EntrySpec, ...] = ()  # non-empty: a knowledge-base page

    @property
    def is_page(self) -> bool:
        return bool(self.entries)

    def sentences(self) -> list[str]:
        """Every sentence of the body, in order (what the chunks of this document must cover)."""
        paragraphs = [p for e in self.entries for p in e.paragraphs] + [p for s in self.sections for p in s.paragraphs]
        return [s for p in paragraphs for s in p]

    def appended(self, extra: Doc) -> Doc:
        """This document with the first section (or entry) of `extra` added at its end, and the facts that
        part holds (not the facts of `extra`'s other parts, which are not written)."""
        part = Doc(extra.title, extra.facts, extra.sections[:1], extra.entries[:1])
        written = set(part.sentences())
        facts = self.facts + tuple(f for f in extra.facts if f.sentence in written)
        if self.is_page:
            return Doc(self.title, facts, (), self.entries + part.entries)
        return Doc(self.title, facts, self.sections + part.sections, self.entries)

    def expected_entries(self) -> list[tuple[str, int | None, int | None]]:
        """(title, first year, last year) of each catalogue entry ingest must make of this document."""
        if self.is_page:
            return [(e.title, e.year_start, e.year_end) for e in self.entries]
        return [(self.title, None, None)]

    def blocks(self) -> list[tuple[str, str]]:
        """The document as (kind, text) blocks: "title", "heading", "paragraph", "line" (a page's field)."""
        out: list[tuple[str, str]] = [("title", self.title)]
        for section in self.sections:
            if section.heading:
                out.append(("heading", section.heading))
            out += [("paragraph", " ".join(p)) for p in section.paragraphs]
        for entry in self.entries:
            out.append(("line", entry.title_line))
            out += [("paragraph", " ".join(p)) for p in entry.paragraphs]
            out.append(("line", "Keywords: " + ", ".join(entry.keywords)))
            people = ", ".join(f"{who} – {org}" for who, org in entry.contributors)
            out.append(("line", f"Contributed by: {people}"))
        return out


def build_doc(
    facts: list[Fact], filler: list[int], page: bool, sections: int, title_serial: int, years: list[int]
) -> Doc:
    """A document from drawn choices: `filler` indexes `filler_sentences()` (distinct), facts are spread
    over `sections` sections (or entries, for a page), two or three sentences to a paragraph."""
    pool = filler_sentences()
    sentences = [pool[i % len(pool)] for i in dict.fromkeys(filler)]
    groups: list[list[str]] = [[] for _ in range(max(1, sections))]
    for i, sentence in enumerate(sentences):
        groups[i % len(groups)].append(sentence)
    for i, fact in enumerate(facts):
        groups[i % len(groups)].insert(min(1, len(groups[i % len(groups)])), fact.sentence)
    name = made_up_name(title_serial)
    paragraphs = [tuple(tuple(g[j : j + 3]) for j in range(0, len(g), 3)) for g in groups]
    if not page:
        headings = [None] + [f"{TOPIC_WORDS[(title_serial + i) % len(TOPIC_WORDS)]} in {name}" for i in range(1, 9)]
        return Doc(
            title=f"The {name} co-production report",
            facts=tuple(facts),
            sections=tuple(Section(headings[i], paragraphs[i]) for i in range(len(groups))),
        )
    entries = []
    for i, paras in enumerate(paragraphs):
        start = years[i % len(years)]
        entries.append(
            EntrySpec(
                title=f"The {made_up_name(title_serial + 1000 + i)} {ENTRY_NOUNS[(title_serial + i) % len(ENTRY_NOUNS)]}",
                year_start=start,
                year_end=start + (title_serial + i) % 4,
                paragraphs=paras,
                keywords=(TOPICS[i % len(TOPICS)], "co-production"),
                contributors=((PEOPLE[(title_serial + i) % len(PEOPLE)], ORGS[i % len(ORGS)]),),
            )
        )
    return Doc(title=f"Research – {TOPICS[title_serial % len(TOPICS)]}", facts=tuple(facts), entries=tuple(entries))


TOPIC_WORDS = ["Findings", "Methods", "Partners", "Background", "Next steps", "Lessons"]
ENTRY_NOUNS = ["community project", "research programme", "neighbourhood study", "action learning set"]


# ---------------------------------------------------------------- rendering


def render(doc: Doc, path: Path) -> bytes:
    """Write `doc` to `path` in the format its suffix names; return the bytes written."""
    suffix = path.suffix.lstrip(".")
    blocks = doc.blocks()
    if suffix == "txt":
        lead = ["Search the co-production knowledge base", ""] if doc.is_page else []
        path.write_text("\n".join(lead + [text + "\n" for _, text in blocks]), encoding="utf-8")
    elif suffix == "md":
        marks = {"title": "# ", "heading": "## ", "paragraph": "", "line": ""}
        path.write_text("\n".join(f"{marks[kind]}{text}\n" for kind, text in blocks), encoding="utf-8")
    elif suffix == "html":
        tags = {"title": "h1", "heading": "h2", "paragraph": "p", "line": "p"}
        body = "\n".join(f"<{tags[k]}>{html.escape(t)}</{tags[k]}>" for k, t in blocks)
        nav = "<nav><a href='/'>Home</a> <a href='/search'>Search</a></nav>"
        page = f"<!doctype html><html><head><title>{html.escape(doc.title)}</title></head><body>{nav}<main>{body}"
        path.write_text(page + "</main><footer>Back to top</footer></body></html>", encoding="utf-8")
    elif suffix == "docx":
        import json

        spec = {"title": doc.title, "blocks": []}
        for kind, text in blocks:
            spec["blocks"].append({"type": "heading" if kind in ("title", "heading") else "paragraph", "text": text})
        src = path.with_name(path.name + ".json.tmp")
        src.write_text(json.dumps(spec), encoding="utf-8")
        trial_renderer().render_docx(src, path)
        src.unlink()
    elif suffix == "pdf":
        src = path.with_name(path.name + ".txt.tmp")
        src.write_text("\n".join(text for _, text in blocks), encoding="utf-8")
        trial_renderer().render_pdf(src, path)
        src.unlink()
    else:
        raise ValueError(f"no renderer for {path.name}")
    return path.read_bytes()


BAD_KINDS = ("empty", "corrupt-pdf", "corrupt-docx", "binary-txt", "boilerplate-html")


def render_bad(kind: str, path: Path, seed: int) -> bytes:
    """A file ingest must skip with one warning: empty, corrupt, binary, or nothing but web-page furniture."""
    rng = random.Random(seed)
    if kind == "empty":
        data = b""
    elif kind == "corrupt-pdf":
        data = b"%PDF-1.4\n" + rng.randbytes(3000)
    elif kind == "corrupt-docx":
        data = b"PK\x03\x04" + rng.randbytes(3000)
    elif kind == "binary-txt":
        data = bytes(range(256)) * 4 + rng.randbytes(500)
    elif kind == "boilerplate-html":
        data = b"<html><body><p>Skip to content</p><p>Share this:</p><p>Back to top</p></body></html>"
    else:
        raise ValueError(kind)
    path.write_bytes(data)
    return data


BAD_SUFFIX = {"empty": "txt", "corrupt-pdf": "pdf", "corrupt-docx": "docx", "binary-txt": "txt"}
BAD_SUFFIX["boilerplate-html"] = "html"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def norm(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Version:
    """One content of one file as the index should hold it: its bytes' hash, its document and the chunk
    settings it was (or will be) indexed with."""

    sha256: str
    doc: Doc | None  # None: a bad file (never indexed)
    chunking: tuple[int, int] = (0, 0)

    @property
    def good(self) -> bool:
        return self.doc is not None


@dataclass
class Model:
    """What is on disk and what the index must hold.

    `disk`: file name → its current content. `indexed`: source → the version the index holds (what the
    last completed ingest made of the files, or, after a killed one, what was observed). `versions`:
    (sha256, chunking) → the manifest version string seen for it (a function, and one-to-one).
    """

    disk: dict[str, Version] = field(default_factory=dict)
    indexed: dict[str, Version] = field(default_factory=dict)
    versions: dict[tuple[str, tuple[int, int]], str] = field(default_factory=dict)
    facts: dict[int, Fact] = field(default_factory=dict)  # every fact ever written, by serial

    def target(self, chunking: tuple[int, int]) -> dict[str, Version]:
        """What a completed ingest of the corpus with `chunking` must leave in the index: every good file
        at its current content; a bad file keeps the version indexed before it went bad (if any)."""
        out: dict[str, Version] = {}
        for name, version in self.disk.items():
            if version.good:
                out[name] = Version(version.sha256, version.doc, chunking)
            elif name in self.indexed:
                out[name] = self.indexed[name]
        return out

    def live_facts(self) -> dict[str, list[Fact]]:
        return {name: list(v.doc.facts) for name, v in self.indexed.items() if v.doc is not None}

    def unindexed_facts(self) -> list[Fact]:
        """Facts no indexed version holds (deleted, replaced, or never ingested): never cited or retrieved."""
        live = {f.serial for facts in self.live_facts().values() for f in facts}
        return [f for serial, f in sorted(self.facts.items()) if serial not in live]


# ---------------------------------------------------------------- observing an index


@dataclass
class IndexView:
    """Everything an index holds, read from disk and Chroma: the manifest's files, every stored chunk, the
    live ones (the manifest's version), and the live ids the keyword index can return."""

    files: dict[str, dict]
    stored: list  # list[kbqa.schema.Chunk]
    live: dict  # chunk id → Chunk
    keyword: set[str]

    @property
    def dead(self) -> int:
        return len(self.stored) - len(self.live)

    def live_of(self, source: str) -> list:
        return sorted((c for c in self.live.values() if c.source == source), key=lambda c: c.id)


def observe(settings) -> IndexView:
    from kbqa.index.store import Store, to_chunk

    store = Store(settings)
    got = store.collection.get(include=["documents", "metadatas"])
    stored = [to_chunk(i, t, m) for i, t, m in zip(got["ids"], got["documents"], got["metadatas"])]
    live = {c.id: c for c in stored if store.is_live(c)}
    return IndexView(dict(store.manifest.files), stored, live, keyword_live_ids(store))


def keyword_live_ids(store) -> set[str]:
    """The live chunk ids the keyword index can return: those of its segments' documents whose (source,
    version) the manifest commits (and no newer segment replaces). The one place the property tests look
    inside the keyword index: adapt it when its format changes."""
    from kbqa.index import keyword as bm25

    state = store.manifest.data.get("bm25") or {}
    if not state.get("segments"):
        return set()
    segments = bm25.open_segments(store.data_dir, state["segments"])
    live = {source: info["version"] for source, info in store.manifest.files.items()}
    out = set()
    for segment, mask in zip(segments, bm25.live_masks(segments, live)):
        out.update(segment.id_of(int(doc)) for doc in np.flatnonzero(mask))
    return out


def fact_names_in(text: str, facts: dict[int, Fact]) -> set[int]:
    """Serials of the facts whose made-up name `text` mentions."""
    words = set(re.findall(r"[A-Za-z]+", text))
    return {serial for serial, fact in facts.items() if fact.name in words}


# Dense search ranks by one cosine. Fact sentences of the same template that differ only in a made-up name
# and a number ("template twins") embed almost alike, and a fact's chunk also holds filler sentences, so
# another file's twin can outrank the fact's own chunk. That is ranking, not index damage.
DENSE_VECTOR_TOLERANCE = 2e-3  # stored vs freshly computed cosine (batch vs single ONNX runs differ by ~1e-6)


def check_dense_miss_is_a_tie(kb, sentence: str, name: str, source: str, top: list) -> None:
    """When dense top-k search for a fact's `sentence` missed its `source`, the miss must be the model's
    ranking and not the index's fault: the fact's chunk is still in the dense ranking, and it and every hit
    above it are scored by the true embeddings of their texts (no stale or foreign vector), which rank
    each of those hits at least as high as the fact's chunk."""
    deep = kb.retrieve(sentence, k=50, mode="dense")
    mine = [h for h in deep if h.chunk.source == source and name in h.chunk.text]
    assert mine, f"dense search for {sentence!r} does not find {source} in its top 50"
    query = kb.embedder.embed_one(sentence)

    def fresh(hit) -> float:
        text = kb.embedder.embed_one(hit.chunk.embed_text)
        cosine = float(np.dot(query, text) / (np.linalg.norm(query) * np.linalg.norm(text)))
        assert abs(cosine - hit.dense) < DENSE_VECTOR_TOLERANCE, (
            f"{hit.chunk.id}: its stored vector scores {hit.dense:.4f} for {sentence!r}, its text {cosine:.4f}"
        )
        return cosine

    own = fresh(mine[0])
    above = {h.chunk.id: round(fresh(h), 4) for h in top}
    assert min(above.values()) >= own - DENSE_VECTOR_TOLERANCE, (
        f"dense search for {sentence!r} ranks {above} above {source} ({own:.4f})"
    )


# ---------------------------------------------------------------- asking while an index changes

FULL_QUERY = "co-production report findings"  # asked with k (50, the most) above the chunk count: all live chunks


def ask_once(kb, rng: random.Random, questions: list[str], by: str = "thread") -> dict:
    """One read of the index, as a user makes it, timed (monotonic clock: comparable across processes):
    every live chunk (dense, k=50), a hybrid search, or an answer's citations; or the error it raised."""
    kind = rng.choice(["full", "search", "ask"])
    started = time.monotonic()
    try:
        if kind == "full":
            out: dict = {"ids": [h.chunk.id for h in kb.retrieve(FULL_QUERY, k=50, mode="dense")]}
        elif kind == "search":
            out = {"ids": [h.chunk.id for h in kb.retrieve(rng.choice(questions), k=5, mode="hybrid")]}
        else:
            answer = kb.ask(rng.choice(questions), abstain_threshold=0.0)
            out = {"cited": [[c.source, c.text] for c in answer.citations]}
    except Exception as exc:  # recorded, and the property fails on it
        out = {"error": f"{type(exc).__name__}: {exc}"}
    return {"kind": kind, "by": by, "t0": started, "t1": time.monotonic(), **out}


def asker_main() -> None:
    """A process asking until a stop file appears (argv: stop file, questions as JSON, seed); one JSON
    line per read on stdout. Run as `python -c 'from tests.index_model import asker_main; asker_main()'`."""
    import json
    import sys

    from kbqa.api import KnowledgeBase

    stop, questions, rng = Path(sys.argv[1]), json.loads(sys.argv[2]), random.Random(int(sys.argv[3]))
    kb = KnowledgeBase()
    print(json.dumps({"kind": "ready", "t0": time.monotonic(), "t1": time.monotonic()}), flush=True)
    while not stop.exists():
        print(json.dumps(ask_once(kb, rng, questions, f"process {os.getpid()}")), flush=True)
