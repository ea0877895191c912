"""Embeddings from an OpenAI-compatible endpoint (KBQA_EMBED_URL), against a scripted local server:
concurrency, retries inside a deadline, failures mid-ingest, and an index that refuses another model."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from kbqa.api import KnowledgeBase
from kbqa.errors import EmbeddingError, StoreError
from kbqa.index.embed import make_embedder
from kbqa.ingestion.pipeline import ingest
from tests.chroma_fixtures import free_port
from tests.fake_embed import FakeEmbeddings, Step
from tests.support import (
    PHASE2,
    REAL_FILES,
    SRC_000,
    SRC_003,
    SRC_004,
    copy_corpus,
    index_stats,
    write_generated_corpus,
)


def hashed(dim: int = 384):
    """Deterministic unit vectors from the texts' hashes: quick, for tests about the protocol, not meaning."""

    def vectors(texts: list[str]) -> np.ndarray:
        rows = [
            np.random.default_rng(int(hashlib.sha1(t.encode()).hexdigest()[:8], 16)).standard_normal(dim) for t in texts
        ]
        return np.asarray(rows, dtype=np.float32)

    return vectors


def endpoint(settings_factory, fake: FakeEmbeddings, **overrides):
    values = {"embed_url": fake.url, "embed_model": fake.model, "embed_timeout": 10.0} | overrides
    return settings_factory(**values)


def assert_consistent(settings) -> dict:
    stats = index_stats(settings)
    assert stats["live"] == stats["manifest_chunks"], "a committed file is missing chunks"
    assert not stats["live_duplicates"]
    return stats


def test_ingest_through_an_endpoint_then_ask_with_the_local_model(settings_factory, tmp_path):
    """A GPU box serving the same MiniLM builds the index; a laptop asks with the packaged model."""
    corpus = copy_corpus(tmp_path / "corpus", REAL_FILES)
    local = settings_factory(corpus_dir=corpus)
    model = make_embedder(local)
    with FakeEmbeddings(lambda texts: model.embed(texts), model="sentence-transformers/all-MiniLM-L6-v2") as fake:
        remote = endpoint(
            settings_factory, fake, corpus_dir=corpus, embed_model="sentence-transformers/all-MiniLM-L6-v2",
            embed_batch_size=4, embed_concurrency=3,
        )  # fmt: skip
        report = ingest(remote)
        assert report.files_indexed == len(REAL_FILES)
        assert fake.texts_embedded() == report.chunks_total  # every chunk once
        assert fake.max_in_flight >= 2, "batches were not sent concurrently"
        answer = KnowledgeBase(remote).ask(PHASE2)  # the question is embedded by the endpoint too
        assert [PHASE2] in [r["input"] for r in fake.requests]
    assert not answer.abstained and "Sheffield" in answer.answer
    manifest = json.loads((Path(local.data_dir) / "manifest.json").read_text())
    assert manifest["embedding"] == {"model": "all-MiniLM-L6-v2", "dim": 384}
    answer = KnowledgeBase(local).ask(PHASE2)  # no endpoint now: the same model, run locally
    assert not answer.abstained and any(c.source == SRC_000 for c in answer.citations)
    assert ingest(local).files_unchanged == len(REAL_FILES)


def test_transient_failures_are_retried_within_the_deadline(settings_factory, tmp_path):
    corpus = copy_corpus(tmp_path / "corpus", [SRC_004])
    with FakeEmbeddings(hashed(), script=[Step(status=503), Step(status=429), Step(drop=True), Step()]) as fake:
        report = ingest(endpoint(settings_factory, fake, corpus_dir=corpus))
    assert report.files_indexed == 1
    assert len(fake.requests) >= 4


@pytest.mark.parametrize(
    "step, message",
    [
        (Step(status=401), "rejected the API key (401)"),
        (Step(status=404), "does not know model 'fake-embedder' (404)"),
        (Step(status=500), "failed with HTTP 500 and retries were used up"),
        (Step(delay=3.0), "did not answer within 1 s (KBQA_EMBED_TIMEOUT)"),
    ],
    ids=["401", "404", "500", "timeout"],
)
def test_endpoint_errors_are_one_line_and_change_nothing(settings_factory, tmp_path, step, message):
    corpus = copy_corpus(tmp_path / "corpus", [SRC_004])
    with FakeEmbeddings(hashed(), script=[step]) as fake:
        settings = endpoint(
            settings_factory,
            fake,
            corpus_dir=corpus,
            embed_model="fake-embedder",
            embed_timeout=1.0,
            embed_max_retries=2,
        )
        with pytest.raises(EmbeddingError) as info:
            ingest(settings)
        requests = len(fake.requests)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert fake.url in str(info.value)
    if step.status in (401, 404):
        assert requests == 1, "an error that cannot get better was retried"
    assert not json.loads((Path(settings.data_dir) / "manifest.json").read_text())["files"]


def test_an_unreachable_endpoint_is_one_line(settings_factory, tmp_path):
    corpus = copy_corpus(tmp_path / "corpus", [SRC_004])
    settings = settings_factory(
        corpus_dir=corpus, embed_url=f"http://127.0.0.1:{free_port()}/v1", embed_model="x", embed_timeout=2.0
    )
    with pytest.raises(EmbeddingError, match=r"cannot reach the embedding endpoint at http://127\.0\.0\.1:\d+/v1"):
        ingest(settings)


def test_an_endpoint_failing_mid_ingest_leaves_no_file_half_committed(settings_factory, tmp_path):
    """Two groups of files: the endpoint dies during the second; the first stays committed, the next run resumes."""
    corpus = copy_corpus(tmp_path / "corpus", [SRC_003, SRC_004])
    write_generated_corpus(corpus, 150)  # 300 small chunks: more than one embedding group
    ok_requests = 1 + 256 // 16 + 4  # the probe, the first group, and part of the second
    script = [Step()] * ok_requests + [Step(status=500)]
    with FakeEmbeddings(hashed(), script=script) as fake:
        settings = endpoint(
            settings_factory, fake, corpus_dir=corpus, embed_batch_size=16,
            embed_concurrency=2, embed_max_retries=1, embed_timeout=2.0,
        )  # fmt: skip
        with pytest.raises(EmbeddingError):
            ingest(settings)
        first_run = fake.texts_embedded()
    stats = assert_consistent(settings)
    committed_files, committed = len(stats["manifest_chunks"]), sum(stats["manifest_chunks"].values())
    assert 0 < committed < first_run, "either nothing or everything was committed"

    with FakeEmbeddings(hashed()) as healthy:
        settings = settings.with_overrides(embed_url=healthy.url)
        hits = KnowledgeBase(settings).retrieve("Lead Research Organisation University of Birmingham", k=3)
        assert hits and hits[0].chunk.source == SRC_004  # what was committed answers
        report = ingest(settings)
        second_run = healthy.texts_embedded(
            ignore=("dimension probe", "Lead Research Organisation University of Birmingham")
        )
    assert report.files_unchanged == committed_files and report.files_indexed == 152 - committed_files
    assert second_run == report.chunks_total - committed, "committed files were embedded again"
    stats = assert_consistent(settings)
    assert stats["dead"] == 0


def test_an_index_refuses_vectors_of_another_model_or_size(settings_factory, tmp_path):
    corpus = copy_corpus(tmp_path / "corpus", [SRC_004])
    local = settings_factory(corpus_dir=corpus)
    ingest(local)
    (corpus / "new.txt").write_text("# A note\n\nThe quillwort meadow survey counted forty species.\n")
    with FakeEmbeddings(hashed(768), model="bge-base-en") as other:
        settings = endpoint(settings_factory, other, corpus_dir=corpus, embed_model="bge-base-en")
        for attempt in (lambda: ingest(settings), lambda: KnowledgeBase(settings).ask(PHASE2)):
            with pytest.raises(StoreError) as info:
                attempt()
            message = str(info.value)
            assert "holds vectors of all-MiniLM-L6-v2 (384-d), not of bge-base-en" in message and "\n" not in message
        assert other.requests == [], "nothing should have been sent before the names were compared"
    with FakeEmbeddings(hashed(768), model="all-MiniLM-L6-v2") as resized:  # MiniLM's name, 768-d vectors
        settings = endpoint(settings_factory, resized, corpus_dir=corpus)
        with pytest.raises(StoreError, match=r"not of all-MiniLM-L6-v2 \(768-d\)"):
            ingest(settings)
        with pytest.raises(StoreError, match=r"not of all-MiniLM-L6-v2 \(768-d\)"):
            KnowledgeBase(settings).retrieve("quillwort")
    assert ingest(local).files_indexed == 1  # the index itself is untouched and still takes the local model


def test_an_endpoint_serving_another_model_than_configured_is_an_error(settings_factory, tmp_path):
    corpus = copy_corpus(tmp_path / "corpus", [SRC_004])
    with (
        FakeEmbeddings(hashed(), model="text-embedding-3-small") as fake,
        pytest.raises(EmbeddingError, match="serves 'text-embedding-3-small', not KBQA_EMBED_MODEL='fake-embedder'"),
    ):
        ingest(endpoint(settings_factory, fake, corpus_dir=corpus, embed_model="fake-embedder"))
