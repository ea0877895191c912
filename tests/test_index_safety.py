"""The index under stress: shared Chroma servers, asks during ingests, concurrent first runs, large files,
a server that goes away mid-chat, and deleted text that must leave the disk (trial issue, items 1–6).

The slow tests use real processes and a real `chroma run`.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kbqa.api import KnowledgeBase
from kbqa.errors import StoreError
from kbqa.index.manifest import Manifest
from kbqa.index.store import Store
from kbqa.ingestion.pipeline import Progress, ingest
from tests.index_model import Fact, build_doc, check_dense_miss_is_a_tie, filler_sentences, render
from tests.support import (
    CORPUS,
    PHASE2,
    REAL_FILES,
    SRC_000,
    SRC_003,
    SRC_004,
    cli_env,
    copy_corpus,
    index_stats,
    write_generated_corpus,
)


def assert_phase2_answered(answer) -> None:
    assert not answer.abstained, answer.answer
    assert "Sheffield" in answer.answer and "Hull" in answer.answer
    assert any(c.source == SRC_000 and "Sheffield" in c.text for c in answer.citations)


def assert_consistent(settings) -> dict:
    stats = index_stats(settings)
    assert stats["dead"] == 0, stats
    assert stats["stored"] == stats["live"] == stats["manifest_chunks"], stats
    assert stats["chroma_count"] == stats["manifest_total"], stats
    return stats


# ---------------------------------------------------------------- 1. one collection per data folder


def test_each_data_folder_owns_its_collection(settings_factory, tmp_path):
    a = settings_factory(data_dir=tmp_path / "a", corpus_dir=copy_corpus(tmp_path / "ca", [SRC_003]))
    b = settings_factory(data_dir=tmp_path / "b", corpus_dir=copy_corpus(tmp_path / "cb", [SRC_004]))
    ingest(a)
    ingest(b)
    names = {Store(a).collection_name, Store(b).collection_name}
    assert len(names) == 2 and all(n.startswith("kbqa-") for n in names)


@pytest.mark.slow
def test_killed_ingest_in_one_data_folder_never_removes_another_folders_chunks(chroma_server, tmp_path, model_cache):
    """Two data folders on one `chroma run`: B's ingest is SIGKILLed mid-way, B re-ingests; A must not lose a chunk."""
    corpus_a = copy_corpus(tmp_path / "corpus-a", REAL_FILES)
    corpus_b = tmp_path / "corpus-b"
    write_generated_corpus(corpus_b, 150)
    env_a = cli_env(model_cache, tmp_path / "a", corpus_a, {"KBQA_CHROMA_URL": chroma_server})
    env_b = cli_env(model_cache, tmp_path / "b", corpus_b, {"KBQA_CHROMA_URL": chroma_server})
    cli = [sys.executable, "-m", "kbqa.cli"]
    done = subprocess.run([*cli, "ingest"], env=env_a, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

    proc = subprocess.Popen([*cli, "ingest"], env=env_b, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    manifest_b = tmp_path / "b" / "manifest.json"
    deadline = time.monotonic() + 240
    while not (manifest_b.exists() and json.loads(manifest_b.read_text()).get("files")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    again = subprocess.run([*cli, "ingest"], env=env_b, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr

    a_settings = _settings_from_env(env_a)
    assert_consistent(a_settings)
    assert_phase2_answered(KnowledgeBase(a_settings).ask(PHASE2))
    rerun = subprocess.run([*cli, "ingest", "--json"], env=env_a, capture_output=True, text=True, timeout=300)
    assert json.loads(rerun.stdout)["files_unchanged"] == len(REAL_FILES), rerun.stdout


def _settings_from_env(env: dict[str, str]):
    from kbqa.config import Settings

    return Settings(
        data_dir=Path(env["KBQA_DATA_DIR"]),
        corpus_dir=Path(env["KBQA_CORPUS_DIR"]),
        model_cache_dir=Path(env["KBQA_MODEL_CACHE_DIR"]),
        chroma_url=env.get("KBQA_CHROMA_URL"),
        llm=None,
    )


def test_ingest_repairs_an_index_whose_chroma_folder_was_deleted(run_cli, tmp_path):
    import shutil

    corpus = copy_corpus(tmp_path / "corpus", [SRC_003, SRC_004])
    first = json.loads(run_cli("ingest", "--json", corpus_dir=corpus).stdout)
    shutil.rmtree(tmp_path / "data" / "chroma")
    done = run_cli("ingest", "--json", corpus_dir=corpus)
    report = json.loads(done.stdout)
    assert report["files_indexed"] == 2 and report["files_unchanged"] == 0, report
    assert f"note: {first['chunks_total']} chunk(s) of 2 indexed file(s) are missing" in done.stderr
    again = json.loads(run_cli("ingest", "--json", corpus_dir=corpus).stdout)
    assert again["files_unchanged"] == 2 and again["notices"] == []


@pytest.mark.slow
def test_ingest_repairs_an_index_pointed_at_an_empty_server(chroma, settings_factory, tmp_path):
    settings = settings_factory(corpus_dir=copy_corpus(tmp_path / "corpus", REAL_FILES), chroma_url=chroma.url)
    ingest(settings)
    chroma.stop()
    import shutil

    shutil.rmtree(chroma.folder / "db")  # the server comes back empty
    chroma.start()
    report = ingest(settings)
    assert report.files_indexed == len(REAL_FILES), report.summary()
    assert report.notices
    assert_phase2_answered(KnowledgeBase(settings).ask(PHASE2))


def test_an_index_written_by_an_older_version_moves_to_a_collection_of_its_own(settings_factory, tmp_path):
    """Format-1 indexes all shared the collection "kbqa": they keep answering, and the next ingest moves them."""
    settings = settings_factory(corpus_dir=copy_corpus(tmp_path / "corpus", [SRC_003, SRC_004]))
    ingest(settings)
    store = Store(settings)
    old = store.collection
    legacy = store.client.get_or_create_collection("kbqa", embedding_function=None, metadata={"hnsw:space": "cosine"})
    got = old.get(include=["documents", "metadatas", "embeddings"])
    legacy.add(ids=got["ids"], documents=got["documents"], metadatas=got["metadatas"], embeddings=got["embeddings"])
    store.client.delete_collection(store.collection_name)
    manifest = json.loads(store.manifest.path.read_text())
    manifest["format"] = 1
    del manifest["collection"]
    store.manifest.path.write_text(json.dumps(manifest))

    hits = KnowledgeBase(settings).retrieve("Lead Research Organisation University of Birmingham", k=3)
    assert hits and hits[0].chunk.source == SRC_004
    report = ingest(settings)
    assert report.files_indexed == 2
    assert Store(settings).collection_name.startswith("kbqa-")
    assert "kbqa" not in [c.name for c in Store(settings).client.list_collections()]
    assert_consistent(settings)


# ---------------------------------------------------------------- 2. asks during ingests


def _edit(path: Path, n: int) -> None:
    text = path.read_text(encoding="utf-8").split("\n\nRevision note")[0]
    path.write_text(text + f"\n\nRevision note {n}: the zebrafish count was revised to {n}.\n", encoding="utf-8")


def test_a_reader_whose_keyword_index_was_retired_reopens_the_current_one(settings_factory, tmp_path):
    """The reader read the manifest; two ingests then committed and deleted that keyword index."""
    settings = settings_factory(corpus_dir=copy_corpus(tmp_path / "corpus", [SRC_003, SRC_004]))
    ingest(settings)
    reader = KnowledgeBase(settings)
    reader.store.sync()  # the reader holds the manifest of this generation
    for n in range(2):
        _edit(Path(settings.corpus_dir) / SRC_004, n)
        ingest(settings)
    hits = reader.retriever.search("Lead Research Organisation University of Birmingham", 5)
    assert any(h.bm25_rank is not None for h in hits), "keyword search silently fell back to dense-only"


NOTES = {
    "forum.txt": "# Canal path notes\n\nThe Iskhalhal tenants forum planted 417 hawthorn saplings along the canal path.\n",
    "kitchen.txt": "# Winter pilot\n\nVolunteers at the Kalyaryar community kitchen served 312 meals in the winter pilot.\n",
    "panel.txt": "# Citizens panel\n\nThe Jorquesisk citizens panel met 9 times before publishing its recommendations.\n",
}


def _notes_corpus(tmp_path: Path) -> Path:
    """A corpus folder holding forum.txt and kitchen.txt of NOTES."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("forum.txt", "kitchen.txt"):
        (corpus / name).write_text(NOTES[name], encoding="utf-8")
    return corpus


@pytest.mark.slow
def test_a_long_lived_reader_sees_what_another_process_ingested(settings_factory, tmp_path, model_cache):
    """Found by the index state machine: a KnowledgeBase that had searched (as `kbqa ui` or `kbqa chat` does)
    kept the embedded Chroma's vectors as they were when it opened them. After a `kbqa ingest` in another
    process, dense search missed the new file, and a hybrid search that found it by keyword crashed fetching
    its vectors ("Error finding id")."""
    corpus = _notes_corpus(tmp_path)
    settings = settings_factory(corpus_dir=corpus)
    reader = KnowledgeBase(settings)
    reader.ingest()
    assert reader.retrieve("hawthorn saplings along the canal path", k=1, mode="dense")[0].chunk.source == "forum.txt"

    (corpus / "forum.txt").unlink()
    (corpus / "panel.txt").write_text(NOTES["panel.txt"], encoding="utf-8")
    env = cli_env(model_cache, Path(settings.data_dir), corpus)
    done = subprocess.run([sys.executable, "-m", "kbqa.cli", "ingest"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    question = "How many times did the Jorquesisk citizens panel meet?"
    for mode in ("dense", "bm25", "hybrid"):
        sources = [h.chunk.source for h in reader.retrieve(question, k=2, mode=mode)]
        assert sources[0] == "panel.txt" and "forum.txt" not in sources, (mode, sources)
    answer = reader.ask(question)
    assert [c.source for c in answer.citations] == ["panel.txt"] and "9 times" in answer.answer, answer.answer


def test_a_search_overlapping_an_ingests_commit_still_finds_the_replaced_file(settings_factory, tmp_path, monkeypatch):
    """Found by the concurrency property of tests/test_index_properties.py: a reader that had checked the
    manifest just before an ingest committed a file's new version and deleted its old chunks searched with
    the old manifest, and the file was missing from its results (neither version was live to it)."""
    corpus = _notes_corpus(tmp_path)
    settings = settings_factory(corpus_dir=corpus)
    ingest(settings)
    reader = KnowledgeBase(settings)
    assert {h.chunk.source for h in reader.retrieve("community notes", k=10, mode="dense")} == {
        "forum.txt",
        "kitchen.txt",
    }

    check = reader.store.sync

    def ingest_right_after_the_check() -> None:
        check()
        monkeypatch.setattr(reader.store, "sync", check)
        ingest(settings)  # another process's ingest: commits kitchen.txt's new version, deletes the old one

    for mode in ("dense", "hybrid"):
        monkeypatch.setattr(reader.store, "sync", ingest_right_after_the_check)
        (corpus / "kitchen.txt").write_text(NOTES["kitchen.txt"] + f"\n{mode} " + NOTES["panel.txt"], encoding="utf-8")
        hits = reader.retrieve("community notes", k=10, mode=mode)
        assert {h.chunk.source for h in hits} == {"forum.txt", "kitchen.txt"}, (mode, [h.chunk.id for h in hits])


@pytest.mark.slow
def test_threads_listing_the_index_during_ingests_in_another_process_always_see_every_file(
    settings_factory, tmp_path, model_cache
):
    """Found by the concurrency property in CI (3 threads asking, an ingest in another process): one thread
    reloaded the manifest and, before it dropped the embedded Chroma client opened on the older state,
    another thread searched with the new manifest and that old client. Every chunk it returned was dead
    to the new manifest, so a full listing came back empty."""
    corpus = _notes_corpus(tmp_path)
    settings = settings_factory(corpus_dir=corpus)
    reader = KnowledgeBase(settings)
    reader.ingest()
    env = cli_env(model_cache, Path(settings.data_dir), corpus)
    listings: list[set[str]] = []
    asking = threading.Event()
    asking.set()

    def list_the_index() -> None:
        while asking.is_set():
            listings.append({h.chunk.source for h in reader.retrieve("community notes", k=10, mode="dense")})

    threads = [threading.Thread(target=list_the_index, daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for n in range(4):
            (corpus / "kitchen.txt").write_text(f"{NOTES['kitchen.txt']}\nRevision {n}.\n", encoding="utf-8")
            done = subprocess.run([sys.executable, "-m", "kbqa.cli", "ingest"], env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
    finally:
        asking.clear()
        for thread in threads:
            thread.join(timeout=60)
    assert listings
    incomplete = [sorted(s) for s in listings if s != {"forum.txt", "kitchen.txt"}]
    assert not incomplete, f"{len(incomplete)} of {len(listings)} listings missed a file: {incomplete[:5]}"


def test_an_ingest_that_replaces_every_file_never_commits_an_empty_index(settings_factory, tmp_path, monkeypatch):
    """Found by the concurrency property: an ingest committed each deleted file's removal on its own, so
    when every file had been replaced, an ask made in between failed with "the index is empty"."""
    corpus = _notes_corpus(tmp_path)
    settings = settings_factory(corpus_dir=corpus)
    ingest(settings)
    for name in ("forum.txt", "kitchen.txt"):
        (corpus / name).unlink()
    (corpus / "panel.txt").write_text(NOTES["panel.txt"], encoding="utf-8")
    reader = KnowledgeBase(settings)
    seen: list[list[str]] = []  # what a reader finds indexed after each commit
    save = Manifest.save

    def save_and_look(manifest: Manifest) -> None:
        save(manifest)
        seen.append([s.source for s in reader.sources()])

    monkeypatch.setattr(Manifest, "save", save_and_look)
    report = ingest(settings)
    assert seen and all(seen), seen
    assert seen[-1] == ["panel.txt"] and report.files_removed == 2
    assert_consistent(settings)


def test_a_file_moved_to_another_folder_keeps_its_chunks(settings_factory, tmp_path):
    """Deleted files now leave the index at the end of the ingest: the chunks of a file that was moved (same
    name, same content, so the same chunk ids) must survive the deletion of its old location's chunks."""
    corpus = tmp_path / "corpus"
    (corpus / "moved").mkdir(parents=True)
    (corpus / "forum.txt").write_text(NOTES["forum.txt"], encoding="utf-8")
    settings = settings_factory(corpus_dir=corpus)
    ingest(settings)
    (corpus / "forum.txt").rename(corpus / "moved" / "forum.txt")
    ingest(settings)
    assert assert_consistent(settings)["manifest_total"] > 0
    hits = KnowledgeBase(settings).retrieve("hawthorn saplings along the canal path", k=1, mode="hybrid")
    assert hits and hits[0].chunk.source == "forum.txt"


def test_ctrl_c_after_a_file_is_committed_leaves_it_findable_by_keyword(settings_factory, tmp_path):
    """Found by the index state machine (a SIGINT just after the first commit of a renamed file): the file was
    committed, so listed and found by dense search, but the keyword index was only rebuilt at the end of a
    run, so keyword search missed it until the next ingest."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "forum.txt").write_text(NOTES["forum.txt"], encoding="utf-8")
    settings = settings_factory(corpus_dir=corpus)
    ingest(settings)
    (corpus / "panel.txt").write_text(NOTES["panel.txt"], encoding="utf-8")

    class CtrlCAfterCommit(Progress):
        def file_done(self, name: str) -> None:
            if name == "panel.txt":  # called just after panel.txt's commit
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest(settings, progress=CtrlCAfterCommit())
    kb = KnowledgeBase(settings)
    assert [s.source for s in kb.sources()] == ["forum.txt", "panel.txt"]
    hits = kb.retrieve("How many times did the Jorquesisk citizens panel meet?", k=2, mode="bm25")
    assert hits and hits[0].chunk.source == "panel.txt", [h.chunk.source for h in hits]


def test_ctrl_c_never_splits_a_progress_line(monkeypatch):
    """Found by the index state machine: Ctrl-C between a progress line's text and its newline glued the
    'error: interrupted' line onto it ('… 3 serror: interrupted'). Each line is now written at once."""
    from kbqa.cli import _progress

    writes: list[str] = []

    class Stderr:
        def write(self, text: str) -> int:
            writes.append(text)
            return len(text)

        def flush(self) -> None: ...

        def isatty(self) -> bool:
            return False

    monkeypatch.setattr(sys, "stderr", Stderr())
    with _progress(interval=0) as progress:
        progress.start(2)
        progress.file_done("forum.txt")
        progress.warn("notes.pdf: skipped, no text")
    assert writes and all(w.endswith("\n") for w in writes if w), writes


def test_a_keyword_index_that_stays_missing_is_an_error_not_a_silent_fallback(settings_factory, tmp_path):
    import shutil

    settings = settings_factory(corpus_dir=copy_corpus(tmp_path / "corpus", [SRC_003]))
    ingest(settings)
    for folder in Path(settings.data_dir).glob("bm25-*"):
        shutil.rmtree(folder)
    with pytest.raises(StoreError, match="keyword index .* missing; run `kbqa ingest`"):
        KnowledgeBase(settings).ask("Who are Bovaird and Loeffler?")
    ingest(settings)  # and ingest repairs it
    assert KnowledgeBase(settings).retrieve("Bovaird Loeffler", k=3, mode="bm25")


@pytest.mark.slow
def test_asks_during_repeated_ingests_never_fail_and_always_use_keyword_search(settings_factory, tmp_path, model_cache):
    corpus = copy_corpus(tmp_path / "corpus", REAL_FILES)
    settings = settings_factory(corpus_dir=corpus)
    ingest(settings)
    script = (
        "import sys; from pathlib import Path\n"
        "from kbqa.config import Settings\nfrom kbqa.ingestion.pipeline import ingest\n"
        "from tests.test_index_safety import _edit\n"
        f"s = Settings(data_dir=Path({str(settings.data_dir)!r}), corpus_dir=Path({str(corpus)!r}),"
        f" model_cache_dir=Path({str(model_cache)!r}), chroma_url=None)\n"
        f"for n in range(10):\n    _edit(Path({str(corpus / SRC_004)!r}), n)\n    ingest(s)\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", script],
        env=cli_env(model_cache, Path(settings.data_dir), corpus),
        cwd=Path(__file__).parent.parent,
        stderr=subprocess.PIPE,
        text=True,
    )
    errors: list[str] = []
    asked = 0

    def ask_loop() -> None:
        nonlocal asked
        kb = KnowledgeBase(settings)
        while writer.poll() is None:
            try:
                hits = kb.retrieve(PHASE2, k=5)
                assert any(h.bm25_rank is not None for h in hits), "no keyword hits"
                assert_phase2_answered(kb.ask(PHASE2))
            except (StoreError, AssertionError, OSError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            asked += 1

    threads = [threading.Thread(target=ask_loop) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert writer.wait(timeout=60) == 0, writer.stderr.read() if writer.stderr else ""
    print(f"{asked} asks during 10 ingests")
    assert asked >= 20
    assert errors == []


# ---------------------------------------------------------------- 3. concurrent first runs


@pytest.mark.slow
def test_three_first_asks_at_once_all_wait_for_one_build_and_answer(tmp_path, model_cache):
    env = cli_env(model_cache, tmp_path / "data", CORPUS)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "kbqa.cli", "ask", "--json", PHASE2],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err
        answer = json.loads(out)
        assert not answer["abstained"] and "Sheffield" in answer["answer"], answer
        assert "another `kbqa ingest` is running" not in err
    waited = [err for _, err in results if "waiting for it to finish" in err]
    built = [err for _, err in results if "file(s) indexed" in err]
    assert built, "no process reported building the index"
    print(f"{len(waited)} of 3 waited for another process's build")


# ---------------------------------------------------------------- 4. large files


def _large_text(paragraphs: int) -> str:
    sentences = (CORPUS / SRC_000).read_text(encoding="utf-8").split(". ")
    body = [". ".join(sentences[(i * 3) % len(sentences) : (i * 3) % len(sentences) + 4]) for i in range(paragraphs)]
    return "# A long report\n\n" + "\n\n".join(f"Paragraph {i}. {p}." for i, p in enumerate(body))


class Killed(BaseException):
    """Stands in for the process dying."""


def test_a_killed_ingest_of_a_large_file_keeps_its_stored_batches(settings_factory, tmp_path, monkeypatch, embed_spy):
    import kbqa.ingestion.pipeline

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "long.md").write_text(_large_text(60), encoding="utf-8")
    settings = settings_factory(corpus_dir=corpus)
    monkeypatch.setattr(kbqa.ingestion.pipeline, "STORE_BATCH", 8)
    original = Store.upsert
    calls = {"n": 0}

    def upsert_then_die(self, chunks, vectors):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Killed
        return original(self, chunks, vectors)

    monkeypatch.setattr(Store, "upsert", upsert_then_die)
    with pytest.raises(Killed):
        ingest(settings)
    monkeypatch.setattr(Store, "upsert", original)
    assert max(len(c) for c in embed_spy) <= 8, "a batch larger than STORE_BATCH was embedded at once"
    first_run = sum(len(c) for c in embed_spy)
    embed_spy.clear()

    report = ingest(settings)
    second_run = sum(len(c) for c in embed_spy)
    assert report.files_indexed == 1
    assert second_run == report.chunks_total - 16, "the two stored batches were embedded again"
    assert first_run == 24
    assert_consistent(settings)


@pytest.mark.slow
def test_ingest_prints_progress_lines_when_stderr_is_not_a_terminal(run_cli, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "long.md").write_text(_large_text(120), encoding="utf-8")
    (corpus / "bad.pdf").write_bytes(b"%PDF-1.4 not really a pdf " + b"x" * 200)
    done = run_cli("ingest", corpus_dir=corpus, env={"KBQA_PROGRESS_INTERVAL": "0.2"})
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    progress = [line for line in lines if line.startswith("indexing: ")]
    assert len(progress) >= 2, done.stderr
    assert all("chunks embedded" in line for line in progress)
    warnings = [line for line in lines if line.startswith("warning: ")]
    assert len(warnings) == 1 and "bad.pdf" in warnings[0], done.stderr  # one warning, one line


# ---------------------------------------------------------------- 5. a Chroma server that goes away mid-chat


@pytest.mark.slow
def test_chat_survives_the_chroma_server_going_away_and_coming_back(chroma, tmp_path, model_cache):
    corpus = copy_corpus(tmp_path / "corpus", REAL_FILES)
    env = cli_env(model_cache, tmp_path / "data", corpus, {"KBQA_CHROMA_URL": chroma.url})
    assert subprocess.run([sys.executable, "-m", "kbqa.cli", "ingest"], env=env, timeout=300).returncode == 0
    chat = subprocess.Popen(
        [sys.executable, "-m", "kbqa.cli", "chat", "--json"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert chat.stdin and chat.stdout and chat.stderr
    try:
        chat.stdin.write(PHASE2 + "\n")
        chat.stdin.flush()
        assert "Sheffield" in json.loads(chat.stdout.readline())["answer"]
        chroma.stop()
        chat.stdin.write(PHASE2 + "\n")
        chat.stdin.flush()
        error = chat.stderr.readline()
        assert error.startswith("error: cannot open the Chroma index at"), error
        assert "internal error" not in error
        chroma.start()
        chat.stdin.write(PHASE2 + "\n")
        chat.stdin.flush()
        assert "Sheffield" in json.loads(chat.stdout.readline())["answer"]
        chat.stdin.close()
        assert chat.wait(timeout=60) == 0
    finally:
        if chat.poll() is None:
            chat.kill()


# ---------------------------------------------------------------- 6. removed text leaves the disk


def _files_containing(folder: Path, needle: bytes) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_compact_removes_the_text_of_deleted_files_from_disk(settings_factory, tmp_path):
    corpus = copy_corpus(tmp_path / "corpus", [SRC_003])
    secret = "The quokka-lantern tribunal met in secret at Ashdown Mill."
    (corpus / "secret.txt").write_text(f"# Private notes\n\n{secret}\n", encoding="utf-8")
    settings = settings_factory(corpus_dir=corpus)
    ingest(settings)
    (corpus / "secret.txt").unlink()
    ingest(settings)
    data = Path(settings.data_dir)
    assert _files_containing(data / "chroma", b"quokka-lantern"), "the test assumes Chroma keeps deleted text"

    before = index_stats(settings)
    done = Store(settings).compact()
    assert done["chunks"] == before["manifest_total"]
    assert _files_containing(data, b"quokka-lantern") == []
    assert_consistent(settings)
    hits = KnowledgeBase(settings).retrieve("Bovaird Loeffler co-production publications", k=3)
    assert hits and hits[0].chunk.source == SRC_003
    assert ingest(settings).files_unchanged == 1


def test_compact_from_the_cli(run_cli, tmp_path):
    corpus = copy_corpus(tmp_path / "corpus", [SRC_004])
    assert run_cli("ingest", corpus_dir=corpus).returncode == 0
    done = run_cli("compact", corpus_dir=corpus)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("compacted: ") and "MB" in done.stdout


def test_a_reader_follows_a_compaction_made_by_another_process(settings_factory, tmp_path):
    settings = settings_factory(corpus_dir=copy_corpus(tmp_path / "corpus", [SRC_004]))
    ingest(settings)
    reader = KnowledgeBase(settings)
    assert reader.retriever.search("INLOGOV Birmingham", 2)
    Store(settings).compact()
    hits = reader.retriever.search("INLOGOV Birmingham", 2)  # its manifest names the dropped collection
    assert hits and hits[0].chunk.source == SRC_004


def test_a_dense_miss_among_template_twins_is_told_apart_from_a_damaged_vector(settings_factory, tmp_path):
    """Found by the long profile of the index state machine (seed 2): dense-only search for "The Cralunjor
    citizens panel met 405 times ..." ranked other files' sentences of the same template above its file.
    The index was sound; the oracle was too strict. It now accepts a dense miss only when the stored vectors
    of the fact's chunk and of every hit above it are the embeddings of their texts; a damaged one fails."""
    rng = random.Random(4)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    facts_of: dict[str, list[Fact]] = {}
    serial = 4100
    for i in range(8):
        facts = [Fact(serial + j, rng.choice([2, 2, 1, 4]), rng.randint(2, 999)) for j in range(rng.randint(1, 4))]
        serial += len(facts)
        filler = rng.sample(range(len(filler_sentences())), rng.randint(2, 8))
        doc = build_doc(facts, filler, rng.random() < 0.4, rng.randint(1, 3), serial, [2001, 2004])
        serial += 1
        name = f"briefing-{i}.{rng.choice(['txt', 'md', 'html'])}"
        render(doc, corpus / name)
        facts_of[name] = facts
    kb = KnowledgeBase(settings_factory(corpus_dir=corpus))
    kb.ingest()

    misses = []
    for name, facts in facts_of.items():
        for fact in facts:
            top = kb.retrieve(fact.sentence, k=5, mode="dense")
            assert any(h.chunk.source == name for h in kb.retrieve(fact.sentence, k=5)), "hybrid search must find it"
            if not any(h.chunk.source == name and fact.name in h.chunk.text for h in top):
                check_dense_miss_is_a_tie(kb, fact.sentence, fact.name, name, top)
                misses.append((name, fact, top))
    assert misses, "the corpus no longer produces a dense-only miss: the test checks nothing"

    name, fact, top = misses[0]
    deep = kb.retrieve(fact.sentence, k=50, mode="dense")
    own = next(h for h in deep if h.chunk.source == name and fact.name in h.chunk.text)
    other = kb.embedder.embed_one("The ferry timetable changes every spring.")
    kb.store.collection.update(ids=[own.chunk.id], embeddings=[other.tolist()])
    with pytest.raises(AssertionError, match="stored vector"):
        check_dense_miss_is_a_tie(kb, fact.sentence, fact.name, name, kb.retrieve(fact.sentence, k=5, mode="dense"))


@pytest.mark.parametrize("page", [True, False])
def test_the_index_models_appended_document_holds_every_fact_it_declares(page):
    """Found by the long profile (seed 3): appending a drawn document kept only its first entry but all
    its facts, so the model asked about a fact that was never written ("Volunteers at the Vellunques
    community kitchen served 491 meals…"), and hybrid search rightly did not find it."""
    base = build_doc([Fact(6, 0, 134)], [72, 0], page, 3, 20001, [2021, 2021, 2011])
    extra = build_doc([Fact(14, 4, 293), Fact(15, 1, 491)], [], page, 3, 20002, [2013, 2008, 2012])
    grown = base.appended(extra)
    written = " ".join(grown.sentences())
    assert [f.serial for f in grown.facts] == [6, 14]  # fact 15 sits in extra's second part, not appended
    assert all(f.sentence in written for f in grown.facts)
