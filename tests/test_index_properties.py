"""Property-based tests of the index: random sequences of adds, edits, renames, deletes, bad files, ingests
(completed, SIGKILLed or interrupted with Ctrl-C in a real `kbqa ingest` process), removals, compactions,
chunking changes and questions, checked against a model of what the index must hold after every step.

The model (tests/index_model.py) knows every file's content and which version of it the index holds;
after a killed ingest it reads the manifest and accepts, for each file, only the version indexed before
or the one the ingest was making. Invariants checked after every step:

- each file in the manifest is at a version the model allows; every one of its chunks is live in Chroma,
  exactly once (ids and texts), and they hold every sentence of that version and nothing else;
- the keyword index can return exactly the live chunks; `sources()` and the catalogue's entries agree
  with the manifest and with the documents' entries;
- after a completed ingest, Chroma holds nothing else (no chunk of a killed run or an old version), and
  the ingest's report counts exactly the files the model says changed, were removed or were bad;
- a question about a fact of an indexed file is answered citing that file (and found by dense, keyword
  and hybrid search); a fact of a deleted, replaced or never-ingested version is never found;
- against a Chroma server, a second data folder on the same server answers exactly as it did.

A second property runs asks (threads sharing the ingesting KnowledgeBase, and processes of their own) while
the corpus is re-ingested: no read fails, and each shows one complete committed state of every file.

`pytest -m properties` runs them; `--hypothesis-profile long` runs many more examples (README, Development).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from kbqa.api import KnowledgeBase
from kbqa.index.manifest import stored_entries
from kbqa.index.store import Store
from tests.index_model import (
    BAD_KINDS,
    BAD_SUFFIX,
    FORMATS,
    PAGE_FORMATS,
    TEMPLATES,
    Fact,
    Model,
    Version,
    ask_once,
    build_doc,
    check_dense_miss_is_a_tie,
    fact_names_in,
    filler_sentences,
    norm,
    observe,
    render,
    render_bad,
    sha256,
)
from tests.support import cli_env, make_settings

pytestmark = [pytest.mark.properties, pytest.mark.slow]

CHUNKINGS = [(192, 64), (96, 32), (128, 16)]  # (chunk size, overlap) the machine switches between
SPOILS = {"txt": ["empty", "binary-txt"], "md": ["empty", "binary-txt"], "html": ["empty", "boilerplate-html"]}
SPOILS |= {"pdf": ["empty", "corrupt-pdf"], "docx": ["empty", "corrupt-docx"]}
STEMS = ["report", "notes", "minutes", "briefing", "case-study", "summary"]
TALLY = {"examples": 0, "steps": 0}  # examples and steps run in this session (printed per example)


@dataclass
class Neighbour:
    """A second data folder on the same Chroma server, and what it answered before the machine ran."""

    settings: Any
    kb: KnowledgeBase
    questions: list[str]
    answers: list[tuple[str, list[tuple[str, str]]]]
    chunks: int

    def answer_now(self) -> list[tuple[str, list[tuple[str, str]]]]:
        out = []
        for q in self.questions:
            answer = self.kb.ask(q, abstain_threshold=0.0)
            out.append((answer.answer, [(c.source, c.text) for c in answer.citations]))
        return out


@dataclass
class Run:
    """What a `kbqa ingest` process did: its exit status, stdout and stderr lines, and whether it was signalled."""

    returncode: int
    stdout: str
    stderr: list[str]
    signalled: bool


class IndexMachine(RuleBasedStateMachine):
    """One corpus folder and one data folder, driven by random steps and checked against `Model`."""

    def __init__(self, base: Path, model_cache: Path, chroma_url: str | None, neighbour: Neighbour | None) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="machine-", dir=base))
        self.corpus = self.root / "corpus"
        self.corpus.mkdir()
        self.model_cache = model_cache
        self.chroma_url = chroma_url
        self.neighbour = neighbour
        self.chunking = CHUNKINGS[0]
        self.model = Model()
        self.serial = 0  # facts' serials (made-up names); 20000 + n for titles
        self.files_made = 0
        self.history: dict[str, list[tuple[bytes, Version]]] = {}  # a file's earlier contents, to revert to
        self.settings = self._settings()
        self.kb = KnowledgeBase(self.settings)  # ingests and asks, like `kbqa ui` (recreated when chunking changes)
        self.reader = KnowledgeBase(self.settings)  # a long-lived reader that only asks (a chat session)
        self.clean = True  # False after a killed ingest, until the next completed one
        # False after a SIGKILL (not Ctrl-C, which brings the keyword index up to date) that may have committed
        # files: keyword search misses them until the next completed ingest or removal rebuilds the keyword index
        self.keyword_complete = True
        self.steps: list[str] = []

    def _settings(self):
        size, overlap = self.chunking
        return make_settings(
            self.root / "data",
            self.corpus,
            self.model_cache,
            chroma_url=self.chroma_url,
            chunk_size=size,
            chunk_overlap=overlap,
        )

    def teardown(self) -> None:
        TALLY["examples"] += 1
        TALLY["steps"] += len(self.steps)
        print(  # shown with -s (the long profile's progress) or with a failure's report
            f"[index machine{' on a server' if self.chroma_url else ''}] example {TALLY['examples']}: "
            f"{len(self.steps)} steps ({TALLY['steps']} in all): {'; '.join(self.steps)}",
            file=sys.stderr,
            flush=True,
        )
        if self.chroma_url:
            store = Store(self.settings)
            if store.manifest.collection:
                with contextlib.suppress(Exception):  # best-effort clean-up of this example's collection
                    store.client.delete_collection(store.collection_name)
        shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------ documents
    def _draw_doc(self, data: st.DataObject, fmt: str | None = None, page: bool | None = None):
        if page is None:
            page = fmt in PAGE_FORMATS and data.draw(st.booleans(), label="page") if fmt else data.draw(st.booleans())
        if fmt is None:
            fmt = data.draw(st.sampled_from(PAGE_FORMATS if page else FORMATS), label="format")
        facts = []
        for _ in range(data.draw(st.integers(1, 2), label="facts")):
            self.serial += 1
            template = data.draw(st.integers(0, len(TEMPLATES) - 1), label="template")
            fact = Fact(self.serial, template, data.draw(st.integers(2, 999), label="number"))
            facts.append(fact)
            self.model.facts[fact.serial] = fact
        filler = data.draw(
            st.lists(st.integers(0, len(filler_sentences()) - 1), max_size=5, unique=True), label="filler"
        )
        sections = data.draw(st.integers(2 if page else 1, 3), label="sections")
        years = data.draw(st.lists(st.integers(2005, 2022), min_size=3, max_size=3), label="years")
        self.serial += 1
        return fmt, build_doc(facts, filler, page, sections, 20000 + self.serial, years)

    def _write(self, name: str, doc) -> None:
        old = self.model.disk.get(name)
        if old is not None and (self.corpus / name).exists():
            self.history.setdefault(name, []).append(((self.corpus / name).read_bytes(), old))
        data = render(doc, self.corpus / name)
        self.model.disk[name] = Version(sha256(data), doc)

    def _new_name(self, data: st.DataObject, fmt: str) -> str:
        self.files_made += 1
        stem = data.draw(st.sampled_from(STEMS), label="stem")
        return f"{stem}-{self.files_made}.{fmt}"

    def _pick(self, data: st.DataObject, names: list[str], label: str) -> str:
        return data.draw(st.sampled_from(sorted(names)), label=label)

    # ------------------------------------------------------------ rules: the corpus
    @initialize(data=st.data())
    def start_with_files(self, data: st.DataObject) -> None:
        for _ in range(data.draw(st.integers(1, 3), label="initial files")):
            self.add_file(data)

    @rule(data=st.data())
    def add_file(self, data: st.DataObject) -> None:
        fmt, doc = self._draw_doc(data)
        name = self._new_name(data, fmt)
        self._write(name, doc)
        self.steps.append(f"add {name}")

    @precondition(lambda self: self.model.disk)
    @rule(data=st.data())
    def edit_file(self, data: st.DataObject) -> None:
        name = self._pick(data, list(self.model.disk), "file to edit")
        fmt = name.rsplit(".", 1)[1]
        current = self.model.disk[name]
        how = data.draw(st.sampled_from(["rewrite", "append", "touch", "revert"]), label="edit")
        if how == "touch" or (how == "revert" and not self.history.get(name)):
            os.utime(self.corpus / name)  # a newer modification time alone is not a change
        elif how == "revert":
            old_bytes, old = self.history[name][data.draw(st.integers(0, len(self.history[name]) - 1))]
            self.history[name].append(((self.corpus / name).read_bytes(), current))
            (self.corpus / name).write_bytes(old_bytes)
            self.model.disk[name] = old
        elif how == "append" and current.doc is not None:
            _, extra = self._draw_doc(data, fmt, page=current.doc.is_page)
            self._write(name, current.doc.appended(extra))
        else:
            _, doc = self._draw_doc(data, fmt, page=fmt in PAGE_FORMATS and data.draw(st.booleans(), label="page"))
            self._write(name, doc)
        self.steps.append(f"edit {name} ({how})")

    @precondition(lambda self: self.model.disk)
    @rule(data=st.data())
    def rename_file(self, data: st.DataObject) -> None:
        old = self._pick(data, list(self.model.disk), "file to rename")
        new = self._new_name(data, old.rsplit(".", 1)[1])
        (self.corpus / old).rename(self.corpus / new)
        self.model.disk[new] = self.model.disk.pop(old)
        self.history[new] = self.history.pop(old, [])
        self.steps.append(f"rename {old} → {new}")

    @precondition(lambda self: self.model.disk)
    @rule(data=st.data())
    def delete_file(self, data: st.DataObject) -> None:
        name = self._pick(data, list(self.model.disk), "file to delete")
        (self.corpus / name).unlink()
        del self.model.disk[name]
        self.history.pop(name, None)
        self.steps.append(f"delete {name}")

    @rule(data=st.data())
    def add_bad_file(self, data: st.DataObject) -> None:
        kind = data.draw(st.sampled_from(BAD_KINDS), label="bad kind")
        name = self._new_name(data, BAD_SUFFIX[kind])
        written = render_bad(kind, self.corpus / name, seed=self.files_made)
        self.model.disk[name] = Version(sha256(written), None)
        self.steps.append(f"add bad {name} ({kind})")

    @precondition(lambda self: any(v.good for v in self.model.disk.values()))
    @rule(data=st.data())
    def spoil_file(self, data: st.DataObject) -> None:
        """A file that was fine becomes unreadable (a bad save, a truncated copy): its indexed version stays."""
        name = self._pick(data, [n for n, v in self.model.disk.items() if v.good], "file to spoil")
        kind = data.draw(st.sampled_from(SPOILS[name.rsplit(".", 1)[1]]), label="spoil kind")
        self.history.setdefault(name, []).append(((self.corpus / name).read_bytes(), self.model.disk[name]))
        written = render_bad(kind, self.corpus / name, seed=self.files_made)
        self.model.disk[name] = Version(sha256(written), None)
        self.steps.append(f"spoil {name} ({kind})")

    @rule(data=st.data())
    def change_chunking(self, data: st.DataObject) -> None:
        """Restart with other chunk settings (as a user changing KBQA_CHUNK_SIZE): the next ingest re-indexes all."""
        self.chunking = data.draw(st.sampled_from([c for c in CHUNKINGS if c != self.chunking]), label="chunking")
        self.settings = self._settings()
        self.kb = KnowledgeBase(self.settings)
        self.steps.append(f"chunking {self.chunking}")

    # ------------------------------------------------------------ rules: the index
    @rule()
    def ingest(self) -> None:
        before = dict(self.model.indexed)
        target = self.model.target(self.chunking)
        report = self.kb.ingest()
        self.steps.append("ingest")
        self._check_report(report.to_json(), before, target)
        self._adopt(target)

    @rule(data=st.data())
    def ingest_killed(self, data: st.DataObject) -> None:
        """A real `kbqa ingest` process, SIGKILLed or sent Ctrl-C (SIGINT) at a random point: after a delay,
        after its n-th progress line, or after its n-th commit of the manifest."""
        sig = data.draw(st.sampled_from([signal.SIGKILL, signal.SIGINT]), label="signal")
        # Ctrl-C in Python's own start-up (the first ~30 ms, before kbqa's code runs) gets Python's traceback
        earliest = 0.0 if sig == signal.SIGKILL else 0.3
        trigger = data.draw(
            st.one_of(
                st.tuples(st.just("delay"), st.floats(earliest, 6.0)),
                st.tuples(st.just("progress"), st.integers(1, 12)),
                st.tuples(st.just("commit"), st.integers(1, 4)),
            ),
            label="when",
        )
        before = dict(self.model.indexed)
        target = self.model.target(self.chunking)
        run = self._run_ingest(sig, trigger)
        self.steps.append(f"ingest {signal.Signals(sig).name} at {trigger}: {run.returncode}")
        if sig == signal.SIGINT:
            _check_interrupted_output(run)
        elif run.signalled:
            assert run.returncode in (0, -signal.SIGKILL), run.stderr
        report = _report_of(run)
        if report is not None:  # it finished (and printed its report) before the signal took effect
            assert run.returncode in (0, 130, -signal.SIGINT, -signal.SIGKILL), run.stderr
            self._check_report(report, before, target)
            self._adopt(target)
        else:
            self._resolve_after_kill(before, target)
            if sig == signal.SIGKILL:
                self.keyword_complete = False

    @precondition(lambda self: self.model.indexed)
    @rule(data=st.data())
    def remove_source(self, data: st.DataObject) -> None:
        """The UI's Remove button: the file's chunks leave the index (the file stays; the next ingest re-adds it)."""
        name = self._pick(data, list(self.model.indexed), "source to remove")
        report = self.kb.remove(name)
        assert report.files_removed == 1, report.summary()
        del self.model.indexed[name]
        self.keyword_complete = True  # a removal rebuilds the keyword index
        self.steps.append(f"remove {name}")

    @rule()
    def compact(self) -> None:
        done = self.kb.compact()
        self.steps.append("compact")
        if self.clean:
            assert done["chunks"] == sum(info["chunks"] for info in observe(self.settings).files.values())

    @precondition(lambda self: self.model.live_facts())
    @rule(data=st.data())
    def ask_about_an_indexed_fact(self, data: st.DataObject) -> None:
        facts = self.model.live_facts()
        name = self._pick(data, [n for n, f in facts.items() if f], "source asked about")
        fact = data.draw(st.sampled_from(facts[name]), label="fact")
        kb = data.draw(st.sampled_from([self.kb, self.reader]), label="asker")
        self.steps.append(f"ask about {fact.name} in {name}")
        for mode in ("hybrid", "dense", "bm25"):
            hits = kb.retrieve(fact.sentence, k=5, mode=mode)
            self._check_passages([(h.chunk.source, h.chunk.text) for h in hits], f"{mode} search")
            found = [h for h in hits if h.chunk.source == name and fact.name in h.chunk.text]
            if mode == "bm25" and not self._keyword_holds(name):
                continue  # committed by a SIGKILLed ingest: keyword search finds it after the next ingest
            if mode == "dense" and not found:
                check_dense_miss_is_a_tie(kb, fact.sentence, fact.name, name, hits)
                continue
            assert found, f"{mode} search for {fact.sentence!r} did not find {name}: {[h.chunk.source for h in hits]}"
        answer = kb.ask(fact.question, abstain_threshold=0.0)
        self._check_passages([(c.source, c.text) for c in answer.citations], "answer")
        assert any(c.source == name for c in answer.citations), (fact.question, answer.answer, answer.citations)

    @precondition(lambda self: self.model.unindexed_facts() and self.model.indexed)
    @rule(data=st.data())
    def ask_about_an_unindexed_fact(self, data: st.DataObject) -> None:
        """Deleted, replaced or not yet ingested text is never found."""
        fact = data.draw(st.sampled_from(self.model.unindexed_facts()), label="unindexed fact")
        kb = data.draw(st.sampled_from([self.kb, self.reader]), label="asker")
        self.steps.append(f"ask about unindexed {fact.name}")
        for mode in ("hybrid", "dense", "bm25"):
            hits = kb.retrieve(fact.sentence, k=5, mode=mode)
            self._check_passages([(h.chunk.source, h.chunk.text) for h in hits], f"{mode} search")
        answer = kb.ask(fact.question, abstain_threshold=0.0)
        self._check_passages([(c.source, c.text) for c in answer.citations], "answer")

    # ------------------------------------------------------------ invariants
    @invariant()
    def index_matches_the_model(self) -> None:
        view = observe(self.settings)
        self._check_manifest(view)
        for source, info in view.files.items():
            version = self.model.indexed[source]
            live = view.live_of(source)
            expected = Store(self.settings).manifest.expected_ids(source)
            assert [c.id for c in live] == expected, f"{source}: live chunks {[c.id for c in live]} != {expected}"
            texts = [c.text for c in live]
            assert len(texts) == len(set(texts)), f"{source}: duplicate chunk texts"
            joined = norm(" ".join(texts))
            missing = [s for s in version.doc.sentences() if norm(s) not in joined]
            assert not missing, f"{source}: sentences missing from its chunks: {missing}"
            mine = {f.serial for f in version.doc.facts}
            strays = fact_names_in(joined, self.model.facts) - mine
            assert not strays, f"{source}: chunks hold facts of other versions: {strays}"
            assert info["sha256"] == version.sha256
        missing = set(view.live) - view.keyword
        assert not missing or not self.keyword_complete, f"keyword index lacks live chunks: {sorted(missing)[:5]}"
        assert view.keyword <= set(view.live), (
            f"keyword index returns dead chunks: {sorted(view.keyword - set(view.live))[:5]}"
        )
        self._check_catalogue(view)
        if self.clean:
            assert view.dead == 0, f"{view.dead} chunk(s) in Chroma are not live after a completed ingest"

    @invariant()
    def neighbour_is_untouched(self) -> None:
        if self.neighbour is None:
            return
        n = self.neighbour
        view = observe(n.settings)
        assert len(view.live) == len(view.stored) == n.chunks, "the other data folder's chunks changed"
        assert n.answer_now() == n.answers, "the other data folder's answers changed"

    # ------------------------------------------------------------ checks
    def _check_manifest(self, view) -> None:
        assert set(view.files) == set(self.model.indexed), (
            f"manifest holds {sorted(view.files)}, the model {sorted(self.model.indexed)}"
        )
        for source, info in view.files.items():
            version = self.model.indexed[source]
            key = (version.sha256, version.chunking)
            seen = self.model.versions.setdefault(key, info["version"])
            assert seen == info["version"], f"{source}: version {info['version']} for content seen as {seen}"
        by_version: dict[str, tuple] = {}
        for key, value in self.model.versions.items():
            assert by_version.setdefault(value, key) == key, f"two contents share the version {value}"

    def _check_catalogue(self, view) -> None:
        listed = {s.source: s for s in self.kb.sources()}
        assert set(listed) == set(view.files)
        for source, info in view.files.items():
            assert listed[source].chunks == info["chunks"]
            doc = self.model.indexed[source].doc
            got = [(e["title"], e["year_start"], e["year_end"]) for e in stored_entries(info)]
            assert got == doc.expected_entries(), f"{source}: entries {got} != {doc.expected_entries()}"
        assert self.kb.facets().sources == sorted(view.files)

    def _check_passages(self, passages: list[tuple[str, str]], what: str) -> None:
        """Every passage shown comes from an indexed file, holds only facts of its indexed version."""
        for source, text in passages:
            assert source in self.model.indexed, f"{what} shows {source}, which is not indexed"
            mine = {f.serial for f in self.model.indexed[source].doc.facts}
            strays = fact_names_in(text, self.model.facts) - mine
            assert not strays, f"{what} shows facts {strays} that {source}'s indexed version does not hold"

    def _check_report(self, report: dict, before: dict[str, Version], target: dict[str, Version]) -> None:
        changed = [n for n, v in target.items() if n not in before or _key(before[n]) != _key(v)]
        removed = [n for n in before if n not in target]
        unchanged = [n for n, v in target.items() if n not in changed and self.model.disk[n].good]
        bad = sorted(n for n, v in self.model.disk.items() if not v.good)
        got = (report["files_indexed"], report["files_removed"], report["files_unchanged"])
        assert got == (len(changed), len(removed), len(unchanged)), (
            f"report {report['summary']}; expected indexed {changed}, removed {removed}, unchanged {unchanged}"
        )
        warned = sorted(n for n in bad if any(n in w for w in report["warnings"]))
        assert warned == bad and len(report["warnings"]) == len(bad), report["warnings"]

    def _adopt(self, target: dict[str, Version]) -> None:
        self.model.indexed = dict(target)
        self.clean = self.keyword_complete = True

    def _keyword_holds(self, source: str) -> bool:
        view = observe(self.settings)
        return {c.id for c in view.live_of(source)} <= view.keyword

    def _resolve_after_kill(self, before: dict[str, Version], target: dict[str, Version]) -> None:
        """After a killed ingest each file must be as it was or as the ingest was making it: read which."""
        files = Store(self.settings).manifest.files
        resolved: dict[str, Version] = {}
        for name in set(before) | set(target):
            options = [v for v in (before.get(name), target.get(name)) if v is not None]
            if name not in files:
                assert len(options) < 2, f"{name}: dropped from the index by a killed ingest, but it should be kept"
                continue
            info = files[name]
            match = [v for v in options if v.sha256 == info["sha256"] and self._version_fits(v, info["version"])]
            assert match, f"{name}: the manifest holds a version that is neither the old nor the new one"
            resolved[name] = match[-1]
        unknown = set(files) - set(resolved)
        assert not unknown, f"the manifest holds files the model does not know: {unknown}"
        self.model.indexed = resolved
        self.clean = False

    def _version_fits(self, version: Version, seen: str) -> bool:
        known = self.model.versions.get(_key(version))
        return known == seen if known is not None else seen not in self.model.versions.values()

    # ------------------------------------------------------------ a real ingest process
    def _run_ingest(self, sig: int, trigger: tuple[str, float | int]) -> Run:
        size, overlap = self.chunking
        extra = {"KBQA_CHUNK_SIZE": str(size), "KBQA_CHUNK_OVERLAP": str(overlap), "KBQA_PROGRESS_INTERVAL": "0"}
        if self.chroma_url:
            extra["KBQA_CHROMA_URL"] = self.chroma_url
        env = cli_env(self.model_cache, self.root / "data", self.corpus, extra)
        proc = subprocess.Popen(
            [sys.executable, "-m", "kbqa.cli", "ingest", "--json"],
            env=env,
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Ctrl-C must reach it even when pytest itself runs in the background (SIGINT ignored, and inherited)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        lines: list[str] = []
        progress = threading.Semaphore(0)

        def read_stderr() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                lines.append(line.rstrip("\n"))
                if line.startswith("indexing: "):
                    progress.release()

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        signalled = self._wait_for(proc, trigger, progress)
        if signalled:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        reader.join(timeout=10)
        assert proc.stdout is not None
        out = proc.stdout.read()  # only the JSON report: it fits in the pipe while the process runs
        return Run(proc.returncode, out, lines, signalled)

    def _wait_for(
        self, proc: subprocess.Popen, trigger: tuple[str, float | int], progress: threading.Semaphore
    ) -> bool:
        """Wait until the trigger point; False if the process ended first."""
        kind, amount = trigger
        deadline = time.monotonic() + 120
        manifest = self.root / "data" / "manifest.json"
        stamp = _stamp(manifest)
        changes = 0
        start = time.monotonic()
        while proc.poll() is None and time.monotonic() < deadline:
            if kind == "delay" and time.monotonic() - start >= float(amount):
                return True
            if kind == "progress" and progress.acquire(timeout=0.005):
                amount = int(amount) - 1
                if amount <= 0:
                    return True
                continue
            if kind == "commit":
                now = _stamp(manifest)
                if now != stamp:
                    stamp, changes = now, changes + 1
                    if changes >= int(amount):
                        return True
            time.sleep(0.005)
        return proc.poll() is None


def _report_of(run: Run) -> dict | None:
    """The JSON report an ingest printed when it finished; None if it was stopped before (or while) printing it."""
    try:
        return json.loads(run.stdout) if run.stdout.strip() else None
    except json.JSONDecodeError:
        assert run.signalled and run.returncode == -signal.SIGKILL, run.stdout
        return None


def _check_interrupted_output(run: Run) -> None:
    """Ctrl-C: exit status 130 (or death by SIGINT, which a shell also shows as 130) and, besides progress
    and warning lines, one line saying the index is as it was; none if the command had already finished."""
    lines = [line for line in run.stderr if not line.startswith(("indexing: ", "warning: ", "note: "))]
    assert not any("Traceback" in line for line in lines), "\n".join(run.stderr)
    if run.returncode == 0 or (run.stdout.strip() and run.returncode == -signal.SIGINT):
        assert lines == [], run.stderr
        return
    assert run.returncode in (130, -signal.SIGINT), (run.returncode, run.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: interrupted"), run.stderr


def _key(version: Version) -> tuple[str, tuple[int, int]]:
    return version.sha256, version.chunking


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st_ = path.stat()
    except OSError:
        return None
    return st_.st_mtime_ns, st_.st_size


def _profile_settings(scale: float = 1.0) -> settings:
    """The loaded Hypothesis profile ("ci" or "long"), with `scale` times its examples."""
    current = settings.default
    return settings(current, max_examples=max(1, round(current.max_examples * scale)))


# ---------------------------------------------------------------- the tests


def test_index_state_machine_embedded(tmp_path: Path, model_cache: Path) -> None:
    run_state_machine_as_test(lambda: IndexMachine(tmp_path, model_cache, None, None), settings=_profile_settings())


def test_index_state_machine_on_a_chroma_server_shared_with_another_index(chroma, tmp_path: Path, model_cache: Path):
    neighbour = _make_neighbour(tmp_path / "neighbour", model_cache, chroma.url)
    run_state_machine_as_test(
        lambda: IndexMachine(tmp_path, model_cache, chroma.url, neighbour), settings=_profile_settings(0.6)
    )


def _make_neighbour(root: Path, model_cache: Path, url: str) -> Neighbour:
    """Another data folder on the server: three documents, ingested once, and its answers to their questions."""
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    questions = []
    for i, fmt in enumerate(["txt", "docx", "html"]):
        fact = Fact(26000 + i, i, 100 + i)
        doc = build_doc([fact], [i, i + 10, i + 20], False, 1, 26500 + i, [2010, 2011, 2012])
        render(doc, corpus / f"neighbour-{i}.{fmt}")
        questions.append(fact.question)
    settings_ = make_settings(root / "data", corpus, model_cache, chroma_url=url)
    kb = KnowledgeBase(settings_)
    report = kb.ingest()
    assert report.files_indexed == 3, report.summary()
    neighbour = Neighbour(settings_, kb, questions, [], report.chunks_total)
    neighbour.answers = neighbour.answer_now()
    assert all(any(c[0].startswith("neighbour-") for c in cites) for _, cites in neighbour.answers)
    return neighbour


# ---------------------------------------------------------------- asks during ingests

CONCURRENT_FILES = ["minutes.txt", "report.md", "briefing.html", "notes.docx"]
CONCURRENT_CHUNKING = (96, 16)  # small chunks: each file is two or three, so a half-read file would show


@dataclass
class Generation:
    """A committed state of the index: each file's version and chunk ids, and the facts each version holds."""

    files: dict[str, tuple[str, frozenset[str]]]  # source → (version, chunk ids)
    facts: dict[str, frozenset[int]]  # source → serials of the made-up names in that version
    done: float  # monotonic time its ingest had returned by


change_plans = st.lists(  # per ingest after the first: what happens to each file
    st.fixed_dictionaries(
        {name: st.sampled_from(["keep", "rewrite", "delete"]) for name in CONCURRENT_FILES},
    ),
    min_size=1,
    max_size=3,
)


@settings(_profile_settings(0.6))
@given(
    plan=change_plans,
    ingest_in=st.lists(st.sampled_from(["thread", "process"]), min_size=3, max_size=3),
    threads=st.integers(1, 3),
    processes=st.integers(0, 1),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_asks_during_ingests_see_one_complete_committed_generation(
    plan, ingest_in, threads, processes, seed, data, tmp_path_factory, model_cache
) -> None:
    """Threads sharing the ingesting KnowledgeBase (the web UI) and processes of their own (`kbqa chat`) ask
    while the corpus is re-ingested, in-process or by a `kbqa ingest` process. No read may fail, and each
    shows every file at most once, at a version some ingest committed, complete: a full listing holds all the
    chunks of each file's version, and every file that all the committed states in its time span hold."""
    root = tmp_path_factory.mktemp("concurrent")
    corpus, data_dir = root / "corpus", root / "data"
    corpus.mkdir()
    size, overlap = CONCURRENT_CHUNKING
    settings_ = make_settings(data_dir, corpus, model_cache, chunk_size=size, chunk_overlap=overlap)
    env = cli_env(model_cache, data_dir, corpus, {"KBQA_CHUNK_SIZE": str(size), "KBQA_CHUNK_OVERLAP": str(overlap)})
    serial = iter(range(21000, 26000))  # made-up names below 27000 are plain words (see made_up_name)
    facts: dict[int, Fact] = {}  # asked about
    names: dict[int, Fact] = {}  # every made-up name written (facts' and titles'), to tell versions apart

    def write(name: str) -> frozenset[int]:
        drawn = [
            Fact(next(serial), data.draw(st.integers(0, len(TEMPLATES) - 1)), data.draw(st.integers(2, 999)))
            for _ in range(data.draw(st.integers(3, 5), label="facts"))
        ]
        title = Fact(next(serial), 0, 0)  # only its name, used in the title and headings
        facts.update({f.serial: f for f in drawn})
        names.update({f.serial: f for f in [*drawn, title]})
        render(build_doc(drawn, [], False, 2, title.serial, [2010, 2012, 2014]), corpus / name)
        return frozenset(f.serial for f in [*drawn, title])

    on_disk = {name: write(name) for name in CONCURRENT_FILES}
    kb = KnowledgeBase(settings_)
    generations = [_ingest_generation(kb, settings_, env, "thread", on_disk)]
    questions = [f.question for f in facts.values()]

    stop = root / "stop"
    readers = [_ProcessAsker(env, stop, questions, seed + i) for i in range(processes)]
    for reader in readers:
        reader.wait_ready()
    reads: list[dict] = []
    asking = threading.Event()
    asking.set()

    def ask_in_thread(n: int) -> None:
        rng = random.Random(seed * 10 + n)
        while asking.is_set():
            reads.append(ask_once(kb, rng, questions))

    workers = [threading.Thread(target=ask_in_thread, args=(n,), daemon=True) for n in range(threads)]
    for worker in workers:
        worker.start()
    try:
        for changes, where in zip(plan, ingest_in):
            for name, change in changes.items():
                if change == "delete" and len(on_disk) > 1 and name in on_disk:
                    (corpus / name).unlink()
                    del on_disk[name]
                elif change == "rewrite" or (change == "delete" and name not in on_disk):
                    on_disk[name] = write(name)
            questions += [f.question for f in facts.values() if f.question not in questions]
            generations.append(_ingest_generation(kb, settings_, env, where, on_disk))
        time.sleep(0.2)
    finally:
        asking.clear()
        stop.touch()
        for worker in workers:
            worker.join(timeout=120)
        for reader in readers:
            reads += reader.finish()
    assert reads, "nothing was asked"
    TALLY["concurrent examples"] = TALLY.get("concurrent examples", 0) + 1
    print(  # shown with -s (the long profile's progress)
        f"[asks during ingests] example {TALLY['concurrent examples']}: {len(generations) - 1} ingests "
        f"({', '.join(ingest_in[: len(plan)])}), {threads} thread(s), {processes} process(es), {len(reads)} reads",
        file=sys.stderr,
        flush=True,
    )
    for read in reads:
        try:
            _check_read(read, generations, names)
        except AssertionError as exc:
            done = ", ".join(f"{g.done - read['t0']:+.3f}" for g in generations)
            raise AssertionError(
                f"{exc}\n(read by {read['by']}, {read['t1'] - read['t0']:.3f} s; the ingests were done "
                f"at these seconds from its start: {done})"
            ) from None


def _ingest_generation(kb, settings_, env, where: str, on_disk: dict[str, frozenset[int]]) -> Generation:
    """Ingest the corpus in this process (beside the asking threads) or in a `kbqa ingest` process; return
    the state it committed."""
    if where == "thread":
        report = kb.ingest()
        assert not report.warnings, report.warnings
    else:
        done = subprocess.run([sys.executable, "-m", "kbqa.cli", "ingest"], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    manifest = Store(settings_).manifest
    assert sorted(manifest.files) == sorted(on_disk)
    files = {s: (info["version"], frozenset(manifest.expected_ids(s))) for s, info in manifest.files.items()}
    return Generation(files, dict(on_disk), time.monotonic())


class _ProcessAsker:
    """Another process asking in a loop (tests.index_model.asker_main) until the stop file appears."""

    def __init__(self, env: dict[str, str], stop: Path, questions: list[str], seed: int) -> None:
        code = "from tests.index_model import asker_main; asker_main()"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, str(stop), json.dumps(questions), str(seed)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line and json.loads(line)["kind"] == "ready", self.proc.stderr.read() if self.proc.stderr else ""

    def finish(self) -> list[dict]:
        try:
            out, err = self.proc.communicate(timeout=120)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        assert self.proc.returncode == 0, err
        return [json.loads(line) for line in out.splitlines() if line.strip()]


def _check_read(read: dict, generations: list[Generation], names: dict[int, Fact]) -> None:
    assert "error" not in read, f"a {read['kind']} failed during an ingest: {read['error']}"
    # the committed states its time span may show: from the last one done before it began to the first done after
    first = max((i for i, g in enumerate(generations) if g.done <= read["t0"]), default=0)
    last = min((i for i, g in enumerate(generations) if g.done >= read["t1"]), default=len(generations) - 1)
    span = generations[first : last + 1]
    allowed = {s: {g.files[s][0] for g in span if s in g.files} for g in span for s in g.files}
    if "cited" in read:
        holders: dict[str, set[frozenset[int]]] = {}  # source → its versions that hold every cited text
        for source, text in read["cited"]:
            serials = fact_names_in(text, names)
            versions = {g.facts[source] for g in span if source in g.facts and serials <= g.facts[source]}
            assert serials and versions, f"answer cites {source} with facts {serials} of no committed version"
            holders[source] = holders.get(source, versions) & versions
            assert holders[source], f"answer cites two versions of {source}"
        return
    by_source: dict[str, set[str]] = {}
    for cid in read["ids"]:
        source, version, _ = cid.rsplit(":", 2)
        assert version in allowed.get(source, set()), f"{read['kind']} shows {cid}, a version no ingest committed"
        by_source.setdefault(source, set()).add(cid)
    for source, ids in by_source.items():
        versions = {cid.rsplit(":", 2)[1] for cid in ids}
        assert len(versions) == 1, f"{read['kind']} shows two versions of {source}: {sorted(ids)}"
    if read["kind"] == "full":
        for source, ids in by_source.items():
            complete = {g.files[source][1] for g in span if source in g.files}
            assert frozenset(ids) in complete, f"a full listing shows part of {source}: {sorted(ids)}"
        always = set.intersection(*(set(g.files) for g in span))
        assert always <= set(by_source), f"a full listing misses {sorted(always - set(by_source))}"
