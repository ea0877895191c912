"""Incremental ingest: what gets embedded, what gets removed, bad files, and crash safety.

Small temporary corpora (copies of the real 003 and 004 files, 15 chunks) keep these fast.
Crash points are simulated in-process (deterministic); the slow tests kill a real `kbqa ingest`.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from kbqa.api import KnowledgeBase
from kbqa.index.store import Manifest, Store
from kbqa.ingestion.pipeline import EMBED_GROUP, ingest
from tests.support import (
    PHASE2,
    REAL_FILES,
    ROOT,
    SRC_003,
    SRC_004,
    cli_env,
    copy_corpus,
    index_stats,
    write_generated_corpus,
)

NEW_PARAGRAPH = "\n\nA marmalade-scented zebrafish survey was added to this study in the revised edition.\n"


@pytest.fixture
def small(settings_factory, tmp_path):
    """Settings for a corpus of copies of 003 and 004."""
    copy_corpus(tmp_path / "corpus", [SRC_003, SRC_004])
    return settings_factory()


def chroma_ids(settings, source: str) -> list[str]:
    return sorted(Store(settings).ids_of_source(source))


def assert_consistent(settings) -> dict:
    """Chroma holds exactly the manifest's chunks: no dead versions, no duplicate texts per source."""
    stats = index_stats(settings)
    assert stats["dead"] == 0, stats
    assert stats["stored"] == stats["manifest_chunks"], stats
    assert stats["chroma_count"] == stats["manifest_total"], stats
    assert not stats["live_duplicates"], stats["live_duplicates"]
    return stats


def test_first_ingest_indexes_everything_and_reports_it(small):
    report = ingest(small)
    assert report.files_seen == 2
    assert report.files_indexed == 2
    assert report.files_unchanged == report.files_removed == report.files_skipped == 0
    assert report.warnings == []
    assert report.chunks_added == report.chunks_total > 0
    assert report.summary().startswith("2 file(s) indexed, 0 unchanged, 0 removed, 0 skipped;")
    stats = assert_consistent(small)
    assert stats["chroma_count"] == report.chunks_total
    assert set(stats["manifest_chunks"]) == {SRC_003, SRC_004}
    hits = KnowledgeBase(small).retrieve("Lead Research Organisation University of Birmingham INLOGOV", k=3)
    assert hits[0].chunk.source == SRC_004


def test_rerun_with_nothing_changed_embeds_nothing(small, embed_spy, tmp_path):
    first = ingest(small)
    ids_before = {s: chroma_ids(small, s) for s in (SRC_003, SRC_004)}
    embed_spy.clear()
    # a newer modification time alone is not a change
    for path in (tmp_path / "corpus").iterdir():
        path.touch()
    report = ingest(small)
    assert embed_spy == [], "unchanged files were embedded again"
    assert report.files_indexed == 0
    assert report.files_unchanged == 2
    assert report.chunks_added == report.chunks_removed == 0
    assert report.chunks_total == first.chunks_total
    assert {s: chroma_ids(small, s) for s in (SRC_003, SRC_004)} == ids_before


def test_editing_one_file_reembeds_only_that_file(small, embed_spy, tmp_path):
    ingest(small)
    old_004 = chroma_ids(small, SRC_004)
    old_003 = chroma_ids(small, SRC_003)
    with open(tmp_path / "corpus" / SRC_004, "a", encoding="utf-8") as fh:
        fh.write(NEW_PARAGRAPH)
    embed_spy.clear()
    report = ingest(small)
    assert report.files_indexed == 1 and report.files_unchanged == 1
    new_004 = chroma_ids(small, SRC_004)
    embedded = [t for call in embed_spy for t in call]
    assert len(embedded) == len(new_004) == report.chunks_added
    store = Store(small)
    new_texts = {c.embed_text for c, _ in store.get(new_004).values()}
    assert set(embedded) == new_texts, "something other than the edited file was embedded"
    # the old version is gone from Chroma, the other file is untouched
    assert not set(old_004) & set(new_004)
    assert store.collection.get(ids=old_004)["ids"] == []
    assert report.chunks_removed == len(old_004)
    assert chroma_ids(small, SRC_003) == old_003
    assert_consistent(small)
    hits = KnowledgeBase(small).retrieve("marmalade-scented zebrafish survey", k=1, mode="bm25")
    assert hits and hits[0].chunk.source == SRC_004 and "zebrafish" in hits[0].chunk.text


def test_deleting_a_file_removes_its_chunks(small, tmp_path):
    ingest(small)
    assert chroma_ids(small, SRC_003)
    (tmp_path / "corpus" / SRC_003).unlink()
    report = ingest(small)
    assert report.files_removed == 1
    assert report.chunks_removed > 0
    assert chroma_ids(small, SRC_003) == []
    stats = assert_consistent(small)
    assert set(stats["manifest_chunks"]) == {SRC_004}
    kb = KnowledgeBase(small)
    assert [s.source for s in kb.sources()] == [SRC_004]
    for mode in ("hybrid", "dense", "bm25"):
        hits = kb.retrieve("User and community co-production of public services: fad or fact", k=5, mode=mode)
        assert all(h.chunk.source != SRC_003 for h in hits), mode


def test_no_duplicate_chunks_after_several_runs(small, tmp_path):
    path = tmp_path / "corpus" / SRC_004
    original = path.read_bytes()
    ingest(small)
    path.write_bytes(original + NEW_PARAGRAPH.encode())
    ingest(small)
    path.write_bytes(original)  # back to the first version
    ingest(small)
    ingest(small)
    stats = assert_consistent(small)
    single = copy_corpus(tmp_path / "fresh-corpus", [SRC_003, SRC_004])
    fresh = index_stats(_ingested(small.with_overrides(data_dir=tmp_path / "fresh", corpus_dir=single)))
    assert stats["manifest_chunks"] == fresh["manifest_chunks"]


def _ingested(settings):
    ingest(settings)
    return settings


def _make_docx(path: Path, body: str) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Community bonfire jury", level=1)
    document.add_paragraph(body)
    document.save(str(path))
    return path


BAD_FILES = {
    "empty.txt": (lambda p: p.write_bytes(b""), "empty file"),
    "binary.txt": (lambda p: p.write_bytes(bytes(range(256)) * 8), "binary file"),
    "broken.pdf": (lambda p: p.write_bytes(random.Random(5).randbytes(5000)), "corrupt PDF"),
    "broken.docx": (lambda p: p.write_bytes(random.Random(6).randbytes(5000)), "corrupt .docx"),
    "slides.pptx": (lambda p: p.write_bytes(b"PK\x03\x04 not really"), "unsupported file type '.pptx'"),
}


def test_each_bad_file_gives_one_warning_and_the_rest_is_indexed(settings_factory, tmp_path):
    corpus = copy_corpus(tmp_path / "corpus", [SRC_004])
    for name, (make, _) in BAD_FILES.items():
        make(corpus / name)
    (corpus / ".DS_Store").write_bytes(b"\x00\x01hidden")  # hidden files are not the user's documents
    settings = settings_factory()
    report = ingest(settings)
    assert report.files_indexed == 1
    assert report.files_skipped == len(BAD_FILES)
    assert len(report.warnings) == len(BAD_FILES), report.warnings
    for name, (_, reason) in BAD_FILES.items():
        mine = [w for w in report.warnings if name in w]
        assert len(mine) == 1, (name, report.warnings)
        assert reason in mine[0], mine[0]
        assert "\n" not in mine[0]
    assert not any(".DS_Store" in w for w in report.warnings)
    stats = assert_consistent(settings)
    assert set(stats["manifest_chunks"]) == {SRC_004}
    # the bad files are reported again on the next run (not silently forgotten); the good one is not re-embedded
    again = ingest(settings)
    assert again.files_indexed == 0 and again.files_unchanged == 1
    assert len(again.warnings) == len(BAD_FILES)


def test_docx_with_damaged_xml_is_skipped_with_one_warning(settings_factory, tmp_path):
    import zipfile

    corpus = copy_corpus(tmp_path / "corpus", [SRC_004])
    good = _make_docx(tmp_path / "good.docx", "The jury met twice.")
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(corpus / "jury.docx", "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            zout.writestr(item, data[: len(data) // 2] if item.filename == "word/document.xml" else data)
    report = ingest(settings_factory())
    assert report.files_indexed == 1
    assert len(report.warnings) == 1 and "jury.docx" in report.warnings[0]


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda p: p.write_bytes(random.Random(9).randbytes(4000)), "corrupt .docx"),
        (lambda p: p.write_bytes(b""), "empty file"),
    ],
    ids=["random-bytes", "emptied"],
)
def test_indexed_file_that_becomes_unreadable_keeps_its_old_chunks(settings_factory, tmp_path, damage, reason):
    corpus = copy_corpus(tmp_path / "corpus", [SRC_004])
    doc = _make_docx(corpus / "jury.docx", "The citizens' jury discussed the annual community bonfire in Stonehaven.")
    settings = settings_factory()
    ingest(settings)
    ids = chroma_ids(settings, "jury.docx")
    version = Store(settings).manifest.files["jury.docx"]["version"]
    assert ids
    damage(doc)
    report = ingest(settings)
    assert len(report.warnings) == 1 and "jury.docx" in report.warnings[0] and reason in report.warnings[0]
    assert report.files_indexed == 0 and report.files_removed == 0
    assert chroma_ids(settings, "jury.docx") == ids
    assert Store(settings).manifest.files["jury.docx"]["version"] == version
    hits = KnowledgeBase(settings).retrieve("citizens jury community bonfire Stonehaven", k=1)
    assert hits[0].chunk.source == "jury.docx"
    assert_consistent(settings)


def test_changing_chunk_size_reindexes_everything(small, tmp_path):
    first = ingest(small)
    old_ids = {s: chroma_ids(small, s) for s in (SRC_003, SRC_004)}
    smaller = small.with_overrides(chunk_size=96, chunk_overlap=16)
    report = ingest(smaller)
    assert report.files_indexed == 2 and report.files_unchanged == 0
    assert report.chunks_removed == first.chunks_total
    assert report.chunks_total > first.chunks_total  # smaller chunks, more of them
    store = Store(smaller)
    assert store.collection.get(ids=[i for ids in old_ids.values() for i in ids])["ids"] == []
    assert store.manifest.data["config"]["chunk_size"] == 96
    assert_consistent(smaller)
    assert ingest(smaller).files_indexed == 0


# ---------------------------------------------------------------- simulated crashes (deterministic)


class Killed(BaseException):
    """Stands in for the process dying: nothing catches a BaseException subclass."""


def test_crash_between_writing_chunks_and_committing_keeps_the_old_version(small, tmp_path, monkeypatch):
    ingest(small)
    before = index_stats(small)
    path = tmp_path / "corpus" / SRC_004
    path.write_text(path.read_text(encoding="utf-8") + NEW_PARAGRAPH, encoding="utf-8")

    def die(self):
        raise Killed

    monkeypatch.setattr(Manifest, "save", die)
    with pytest.raises(Killed):
        ingest(small)
    monkeypatch.undo()

    stats = index_stats(small)
    assert stats["dead"] > 0, "the new version's chunks should have been written before the commit"
    assert stats["live"] == before["live"]
    assert stats["manifest_chunks"] == before["manifest_chunks"]
    assert not stats["live_duplicates"]
    kb = KnowledgeBase(small)
    hits = kb.retrieve("Lead Research Organisation University of Birmingham", k=10)
    assert all("zebrafish" not in h.chunk.text for h in hits)
    texts = [h.chunk.text for h in hits]
    assert len(texts) == len(set(texts)), "a dead copy of a chunk was returned"

    report = ingest(small)
    assert report.files_indexed == 1
    assert_consistent(small)
    hit = KnowledgeBase(small).retrieve("marmalade-scented zebrafish survey", k=1, mode="bm25")[0]
    assert hit.chunk.source == SRC_004


def test_crash_after_commit_before_cleanup_leaves_no_garbage_after_the_next_ingest(small, tmp_path, monkeypatch):
    ingest(small)
    path = tmp_path / "corpus" / SRC_004
    path.write_text(path.read_text(encoding="utf-8") + NEW_PARAGRAPH, encoding="utf-8")

    def die(self, ids):
        if ids:
            raise Killed

    monkeypatch.setattr(Store, "delete", die)
    with pytest.raises(Killed):
        ingest(small)
    monkeypatch.undo()
    # the new version is committed and live; the old one is dead but invisible
    kb = KnowledgeBase(small)
    hit = kb.retrieve("marmalade-scented zebrafish survey", k=1, mode="dense")[0]
    assert "zebrafish" in hit.chunk.text
    ingest(small)
    assert_consistent(small)


# ---------------------------------------------------------------- a real ingest killed mid-way (slow)

# 600 chunks, three embedding groups: a kill after the first commit lands mid-run even on a slow machine
N_GENERATED = 300


@pytest.fixture(scope="module")
def kill_setup(tmp_path_factory, model_cache):
    """A corpus of the 5 real files + 300 generated ones, and a template index of only the 5 real files.

    The template is built by the CLI in a subprocess (so this process never opens it) and copied per test.
    """
    import shutil

    from kbqa.ingestion.chunking import chunk_parts
    from kbqa.ingestion.clean import clean
    from kbqa.ingestion.loaders import load_text
    from kbqa.ingestion.parse import parse

    base = tmp_path_factory.mktemp("killed-ingest")
    corpus = copy_corpus(base / "corpus", REAL_FILES)
    generated = write_generated_corpus(corpus, N_GENERATED)
    template = base / "template"
    proc = subprocess.run(
        [sys.executable, "-m", "kbqa.cli", "ingest", *(str(corpus / n) for n in REAL_FILES)],
        env=cli_env(model_cache, template, corpus),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    # where ingest will close its first embedding group: the process commits those files, then embeds again
    chunks_per_file = [
        len(chunk_parts(parse(clean(load_text(p)), p.name), p.name, "v", 192, 32)) for p in sorted(generated)
    ]
    total = 0
    for n, count in enumerate(chunks_per_file, 1):
        total += count
        if total >= EMBED_GROUP:
            first_group = n
            break
    else:
        pytest.fail("the generated corpus must need more than one embedding group")

    def fresh_data_dir(name: str) -> Path:
        dest = base / name
        shutil.copytree(template, dest)
        return dest

    return {"corpus": corpus, "fresh": fresh_data_dir, "first_group": first_group, "generated": len(generated)}


def _manifest_files(data_dir: Path) -> int:
    try:
        return len(json.loads((data_dir / "manifest.json").read_text(encoding="utf-8"))["files"])
    except (OSError, ValueError):
        return -1


def _wait_for(proc: subprocess.Popen, predicate, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"ingest ended (status {proc.returncode}) before it could be interrupted:\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("timed out waiting for the ingest to reach the interruption point")
        time.sleep(0.01)


def _stats_in_subprocess(env: dict, data_dir: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support", str(data_dir)], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _check_index_after_interruption(kill_setup, data_dir: Path, env: dict, run_cli) -> None:
    corpus = kill_setup["corpus"]
    stats = _stats_in_subprocess(env, data_dir)
    committed = len(stats["manifest_chunks"])
    print(f"interrupted with {committed} files committed, {stats['dead']} uncommitted chunks in Chroma")
    assert len(REAL_FILES) < committed < len(REAL_FILES) + kill_setup["generated"], "not interrupted mid-way"
    assert stats["live"] == stats["manifest_chunks"], "a committed file lost chunks, or a live chunk is missing"
    assert not stats["live_duplicates"]
    for name in REAL_FILES:
        assert stats["manifest_chunks"][name] > 0

    # the previous index still answers
    asked = run_cli("ask", "--json", PHASE2, data_dir=data_dir, corpus_dir=corpus)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert not answer["abstained"]
    assert "Sheffield" in answer["answer"] and "Hull" in answer["answer"]
    assert any("Sheffield" in c["text"] and "Hull" in c["text"] for c in answer["citations"])
    texts = [c["text"] for c in answer["citations"]]
    assert len(texts) == len(set(texts))

    # a new ingest finishes the job, and the counts are right
    done = run_cli("ingest", "--json", data_dir=data_dir, corpus_dir=corpus)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["files_unchanged"] == committed
    assert report["files_indexed"] == len(REAL_FILES) + kill_setup["generated"] - committed
    assert report["warnings"] == []
    final = _stats_in_subprocess(env, data_dir)
    assert len(final["manifest_chunks"]) == len(REAL_FILES) + kill_setup["generated"]
    assert final["dead"] == 0
    assert final["stored"] == final["manifest_chunks"] == final["live"]
    assert final["chroma_count"] == final["manifest_total"] == report["chunks_total"]
    assert not final["live_duplicates"]


@pytest.mark.slow
def test_sigkill_during_ingest_leaves_a_usable_index(kill_setup, model_cache, run_cli):
    data_dir = kill_setup["fresh"]("sigkill")
    env = cli_env(model_cache, data_dir, kill_setup["corpus"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "kbqa.cli", "ingest"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        # kill in the middle of committing the first group: some files committed, some written but not committed
        _wait_for(proc, lambda: _manifest_files(data_dir) > len(REAL_FILES))
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    _check_index_after_interruption(kill_setup, data_dir, env, run_cli)


@pytest.mark.slow
def test_ctrl_c_during_embedding_exits_130_with_one_line(kill_setup, model_cache, run_cli):
    data_dir = kill_setup["fresh"]("sigint")
    env = cli_env(model_cache, data_dir, kill_setup["corpus"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "kbqa.cli", "ingest"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a test suite started in the background (`bash .ci/run &`) ignores SIGINT, and a child inherits that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        # the first group is committed: the process is now embedding the second group
        target = len(REAL_FILES) + kill_setup["first_group"]
        _wait_for(proc, lambda: _manifest_files(data_dir) >= target)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("indexing: ")]
    assert len(lines) == 1, err  # progress lines aside (stderr is not a terminal), one line
    assert lines[0].startswith("error: interrupted")
    assert _manifest_files(data_dir) == target, "the interrupted run should not have committed more files"
    _check_index_after_interruption(kill_setup, data_dir, env, run_cli)


def test_generated_corpus_is_what_the_kill_tests_assume(tmp_path):
    """Guards the kill tests' timing assumption: every generated file is two small chunks."""
    from kbqa.ingestion.chunking import chunk_parts
    from kbqa.ingestion.clean import clean
    from kbqa.ingestion.loaders import load_text
    from kbqa.ingestion.parse import parse

    paths = write_generated_corpus(tmp_path, 3)
    counts = Counter(len(chunk_parts(parse(clean(load_text(p)), p.name), p.name, "v", 192, 32)) for p in paths)
    assert counts == Counter({2: 3})
