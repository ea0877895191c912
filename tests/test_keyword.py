"""The segmented keyword index: one BM25 ranking over a main segment and deltas, incremental ingest, merges.

The ranking guarantees are checked against bm25s itself (the engine the index used before segments)
and against one segment built over the live chunks only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import kbqa.ingestion.pipeline as pipeline
from kbqa.api import KnowledgeBase
from kbqa.index import keyword as kw
from kbqa.ingestion.chunking import chunk_parts
from kbqa.ingestion.clean import clean
from kbqa.ingestion.loaders import load_text
from kbqa.ingestion.parse import parse
from kbqa.ingestion.pipeline import ingest
from kbqa.schema import Chunk
from kbqa.text import tokenize
from tests.support import CORPUS, REAL_FILES, SRC_003, SRC_004, copy_corpus

QUERIES = [
    "Which universities are partners in Phase 2 of the Enabling Social Action programme?",
    "participatory budgeting Scotland",
    "Bovaird Loeffler co-production of public services",
    "Lead Research Organisation University of Birmingham",
    "young people mental health arts",
    # repeated terms weigh once per occurrence, as bm25s weighs them
    "why do organisations struggle to take up social action approaches, social action?",
]


def corpus_chunks(version: str = "v1", names: list[str] = REAL_FILES) -> list[Chunk]:
    chunks: list[Chunk] = []
    for name in names:
        path = CORPUS / name
        chunks += chunk_parts(parse(clean(load_text(path)), name), name, version, 192, 64)
    return chunks


def edited(chunks: list[Chunk], version: str, note: str) -> list[Chunk]:
    """A new version of a file's chunks: same passages, one with an added sentence."""
    out = []
    for i, c in enumerate(chunks):
        cid = c.id.replace(f":{c.metadata['version']}:", f":{version}:")
        text = c.text + (f" {note}" if i == 0 else "")
        out.append(Chunk(cid, text, c.source, c.title, {**c.metadata, "version": version}))
    return out


def ranking(index: kw.KeywordIndex, query: str, n: int = 10) -> list[tuple[str, float]]:
    return index.search(query, n)


def assert_same_ranking(a: list[tuple[str, float]], b: list[tuple[str, float]]) -> None:
    assert [i for i, _ in a] == [i for i, _ in b]
    assert np.allclose([s for _, s in a], [s for _, s in b], rtol=1e-5)


def test_one_segment_scores_exactly_as_bm25s(tmp_path):
    import bm25s

    chunks = corpus_chunks()
    name, _ = kw.build(chunks, tmp_path)
    index = kw.KeywordIndex([kw.Segment(tmp_path / name)], {c.source: "v1" for c in chunks})
    reference = bm25s.BM25()
    reference.index(tokenize([c.embed_text for c in chunks]), show_progress=False)
    for query in QUERIES:
        docs, scores = reference.retrieve(tokenize([query]), k=10, show_progress=False)
        expected = [(chunks[int(d)].id, float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]
        assert_same_ranking(ranking(index, query), expected)


def test_main_and_deltas_rank_as_one_index_over_the_live_chunks(tmp_path):
    """Deltas, a changed file (old version masked) and a removed file: scores as if indexed together."""
    chunks = corpus_chunks()
    by_source = {s: [c for c in chunks if c.source == s] for s in REAL_FILES}
    main, avgdl = kw.build([c for s in REAL_FILES[:3] for c in by_source[s]], tmp_path)
    names = [main]
    names.append(kw.build(by_source[REAL_FILES[3]], tmp_path, avgdl)[0])
    names.append(kw.build(by_source[REAL_FILES[4]], tmp_path, avgdl)[0])
    changed = edited(by_source[REAL_FILES[1]], "v2", "A marmalade-scented zebrafish survey was added.")
    names.append(kw.build(changed, tmp_path, avgdl)[0])
    live = {s: "v1" for s in REAL_FILES} | {REAL_FILES[1]: "v2"}
    del live[REAL_FILES[2]]  # removed
    segments = [kw.Segment(tmp_path / n) for n in names]
    fused = kw.KeywordIndex(segments, live)

    live_chunks = [c for s in (REAL_FILES[0], REAL_FILES[3], REAL_FILES[4]) for c in by_source[s]] + changed
    alone = tmp_path / "alone"
    single = kw.KeywordIndex([kw.Segment(alone / kw.build(live_chunks, alone, avgdl)[0])], live)
    assert len(fused) == len(single) == len(live_chunks)
    for query in [*QUERIES, "marmalade zebrafish survey"]:
        hits = ranking(fused, query)
        assert_same_ranking(hits, ranking(single, query))
        assert not any(cid.startswith((REAL_FILES[2], f"{REAL_FILES[1]}:v1:")) for cid, _ in hits)
    assert fused.doc_freq("zebrafish") == 1

    # a merge keeps the live documents only, and ranks as a fresh index of them (its own average length)
    merged_name, merged_avgdl = kw.merge(segments, live, tmp_path)
    merged = kw.KeywordIndex([kw.Segment(tmp_path / merged_name)], live)
    fresh_dir = tmp_path / "fresh"
    fresh_name, fresh_avgdl = kw.build(live_chunks, fresh_dir)
    fresh = kw.KeywordIndex([kw.Segment(fresh_dir / fresh_name)], live)
    assert merged_avgdl == pytest.approx(fresh_avgdl)
    assert kw.Segment(tmp_path / merged_name).n_docs == len(live_chunks)
    for query in [*QUERIES, "marmalade zebrafish survey"]:
        assert_same_ranking(ranking(merged, query, 50), ranking(fresh, query, 50))


def test_a_file_changed_back_to_an_earlier_version_counts_once(tmp_path):
    chunks = corpus_chunks(names=[SRC_004])
    v2 = edited(chunks, "v2", "An extra sentence about lighthouses.")
    names = [kw.build(chunks, tmp_path)[0]]
    names.append(kw.build(v2, tmp_path, 80.0)[0])
    names.append(kw.build(chunks, tmp_path, 80.0)[0])  # back to v1: same ids as in the main segment
    index = kw.KeywordIndex([kw.Segment(tmp_path / n) for n in names], {SRC_004: "v1"})
    assert len(index) == len(chunks)
    hits = index.search("Lead Research Organisation University of Birmingham", 50)
    assert len({cid for cid, _ in hits}) == len(hits)
    assert index.doc_freq("lighthous") == 0


# ---------------------------------------------------------------- through ingest


def bm25_state(settings) -> dict:
    return json.loads((Path(settings.data_dir) / "manifest.json").read_text())["bm25"]


@pytest.fixture
def tokenized(monkeypatch):
    """The text of every chunk the keyword index tokenized to build a segment."""
    texts: list[str] = []
    original = kw._postings

    def spy(chunks):
        texts.extend(c.text for c in chunks)
        return original(chunks)

    monkeypatch.setattr(kw, "_postings", spy)
    return texts


NOTE = "# Field notes\n\nThe quillwort meadow survey counted 40 species near Ashdown Mill in 2019.\n"


def test_adding_a_file_tokenizes_only_that_file_into_a_delta(settings_factory, tmp_path, tokenized):
    corpus = copy_corpus(tmp_path / "corpus", REAL_FILES)
    settings = settings_factory(corpus_dir=corpus)
    first = ingest(settings)
    before = bm25_state(settings)["segments"]
    assert len(before) == 1 and len(tokenized) == first.chunks_total
    tokenized.clear()
    (corpus / "notes.md").write_text(NOTE, encoding="utf-8")
    report = ingest(settings)
    after = bm25_state(settings)["segments"]
    assert report.files_indexed == 1
    assert after[:-1] == before and len(after) == 2, "a delta segment beside the unchanged main one"
    assert len(tokenized) == report.chunks_added and all("quillwort" in t for t in tokenized)
    hits = KnowledgeBase(settings).retrieve("quillwort meadow survey", k=3, mode="bm25")
    assert hits and hits[0].chunk.source == "notes.md"


def test_a_removed_file_is_masked_until_a_merge_drops_it(settings_factory, tmp_path, monkeypatch):
    corpus = copy_corpus(tmp_path / "corpus", REAL_FILES)
    settings = settings_factory(corpus_dir=corpus)
    ingest(settings)
    main = bm25_state(settings)["segments"]
    monkeypatch.setattr(pipeline, "MERGE_SHARE", 0.5)
    (corpus / SRC_004).unlink()  # a small file: under half of the index
    ingest(settings)
    assert bm25_state(settings)["segments"] == main, "removing a file must not rebuild the keyword index"
    kb = KnowledgeBase(settings)
    hits = kb.retrieve("Lead Research Organisation University of Birmingham INLOGOV", k=5, mode="bm25")
    assert all(h.chunk.source != SRC_004 for h in hits)
    assert len(kb.retriever.keyword_index) == sum(i["chunks"] for i in kb.store.manifest.files.values())

    monkeypatch.setattr(pipeline, "MERGE_SHARE", 0.01)
    (corpus / SRC_003).unlink()
    ingest(settings)
    merged = bm25_state(settings)["segments"]
    assert len(merged) == 1 and merged != main
    segment = kw.Segment(Path(settings.data_dir) / merged[0])
    assert segment.n_docs == sum(i["chunks"] for i in KnowledgeBase(settings).store.manifest.files.values())


def test_a_committed_file_is_keyword_searchable_even_if_the_run_dies_right_after(
    settings_factory, tmp_path, monkeypatch
):
    """Files and their keyword segment are committed in one manifest save."""
    corpus = copy_corpus(tmp_path / "corpus", [SRC_003, SRC_004])
    settings = settings_factory(corpus_dir=corpus)
    ingest(settings)

    class Killed(BaseException):
        pass

    def die(store):
        raise Killed

    (corpus / "notes.md").write_text(NOTE, encoding="utf-8")
    monkeypatch.setattr(pipeline, "_update_keyword_index", die)
    with pytest.raises(Killed):
        ingest(settings)
    monkeypatch.undo()
    hits = KnowledgeBase(settings).retrieve("quillwort meadow", k=3, mode="bm25")
    assert hits and hits[0].chunk.source == "notes.md"


def test_a_keyword_index_behind_the_manifest_is_caught_up_with_only_the_missing_files(
    settings_factory, tmp_path, tokenized
):
    """E.g. written by a kbqa that committed the keyword index after the files: the next ingest adds what it lacks."""
    corpus = copy_corpus(tmp_path / "corpus", REAL_FILES)
    settings = settings_factory(corpus_dir=corpus)
    ingest(settings)
    (corpus / "notes.md").write_text(NOTE, encoding="utf-8")
    ingest(settings)
    manifest_path = Path(settings.data_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["bm25"]["segments"] = manifest["bm25"]["segments"][:1]  # forget the delta holding notes.md
    manifest_path.write_text(json.dumps(manifest))
    assert not KnowledgeBase(settings).retrieve("quillwort meadow", k=3, mode="bm25")
    tokenized.clear()
    report = ingest(settings)
    assert report.files_unchanged == len(REAL_FILES) + 1
    assert tokenized and all("quillwort" in t for t in tokenized)
    hits = KnowledgeBase(settings).retrieve("quillwort meadow", k=3, mode="bm25")
    assert hits and hits[0].chunk.source == "notes.md"


def test_retired_segments_stay_for_readers_then_go(settings_factory, tmp_path, monkeypatch):
    corpus = copy_corpus(tmp_path / "corpus", [SRC_003, SRC_004])
    settings = settings_factory(corpus_dir=corpus)
    ingest(settings)
    first = bm25_state(settings)["segments"]
    (corpus / SRC_004).unlink()
    ingest(settings)  # removes more than MERGE_SHARE: merged, the old main is retired
    data = Path(settings.data_dir)
    assert bm25_state(settings)["segments"] != first
    assert all((data / n).is_dir() for n in first), "a reader may still be opening the retired segment"
    monkeypatch.setattr(pipeline, "RETIRED_KEEP_S", 0.0)
    (corpus / "notes.md").write_text(NOTE, encoding="utf-8")
    ingest(settings)  # commits again: the retired segment has had its time and one more commit
    (corpus / "notes.md").unlink()
    ingest(settings)
    assert not any((data / n).exists() for n in first)
    assert sorted(p.name for p in data.glob(f"{kw.PREFIX}*")) == sorted(
        set(bm25_state(settings)["segments"]) | set(bm25_state(settings)["retired"])
    )


def test_an_index_written_before_segments_answers_and_the_next_ingest_converts_it(settings_factory, tmp_path):
    """kbqa used to keep one bm25s index per generation (`{"dir": ...}` in the manifest)."""
    import shutil

    import bm25s

    corpus = copy_corpus(tmp_path / "corpus", [SRC_003, SRC_004])
    settings = settings_factory(corpus_dir=corpus)
    ingest(settings)
    data = Path(settings.data_dir)
    manifest_path = data / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    chunks = [
        c
        for c, _ in KnowledgeBase(settings)
        .store.get([cid for s in manifest["files"] for cid in KnowledgeBase(settings).store.manifest.expected_ids(s)])
        .values()
    ]
    legacy = data / "bm25-0123456789ab"
    legacy.mkdir()
    old = bm25s.BM25()
    old.index(tokenize([c.embed_text for c in chunks]), show_progress=False)
    old.save(str(legacy))
    (legacy / "kbqa_ids.json").write_text(json.dumps([c.id for c in chunks]))
    (legacy / "kbqa_meta.json").write_text(json.dumps([kw._doc_meta(c) for c in chunks]))
    for name in manifest["bm25"]["segments"]:
        shutil.rmtree(data / name)
    manifest["bm25"] = {"dir": legacy.name, "generation": "old"}
    manifest_path.write_text(json.dumps(manifest))

    kb = KnowledgeBase(settings)
    hits = kb.retrieve("Lead Research Organisation University of Birmingham", k=3, mode="bm25")
    assert hits and hits[0].chunk.source == SRC_004
    filtered = kb.retrieve(
        "Lead Research Organisation University of Birmingham", k=3, mode="bm25", filters=[f"source={SRC_003}"]
    )
    assert filtered and all(h.chunk.source == SRC_003 for h in filtered)
    report = ingest(settings)
    assert report.files_unchanged == 2
    state = bm25_state(settings)
    assert len(state["segments"]) == 1 and legacy.name in state["retired"]
    hits = KnowledgeBase(settings).retrieve("Lead Research Organisation University of Birmingham", k=3, mode="bm25")
    assert hits and hits[0].chunk.source == SRC_004


def test_a_removed_file_added_again_unchanged_is_keyword_searchable(settings_factory, tmp_path):
    """Found by the index state machine (shrunk: one file; ingest; Remove; ingest): the removal merged the
    segments into one that still listed the file's (source, version) without any document, so the next
    ingest took that version as covered, wrote no segment for it, and keyword search never found the file."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "report-1.txt").write_text("# Report\n\nThe Zanzibar quilting circle met 17 times in 2005.\n")
    kb = KnowledgeBase(settings_factory(corpus_dir=corpus))
    kb.ingest()
    assert kb.remove("report-1.txt").files_removed == 1
    assert kb.ingest().files_indexed == 1
    hits = kb.retrieve("Zanzibar quilting circle", k=3, mode="bm25")
    assert [h.chunk.source for h in hits] == ["report-1.txt"]
