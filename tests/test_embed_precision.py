"""The int8 copy of the local model: close enough to fp32 that int8 documents are searched with fp32
questions, used for documents by default, and fp32 still selectable (KBQA_EMBED_PRECISION)."""

from __future__ import annotations

import numpy as np
import pytest

from kbqa.api import KnowledgeBase
from kbqa.errors import UsageError
from kbqa.index.embed import Embedder
from tests.support import EVALS, SRC_004, copy_corpus, load_jsonl
from tests.test_keyword import corpus_chunks


@pytest.fixture(scope="module")
def models(model_cache) -> tuple[Embedder, Embedder]:
    return Embedder(model_cache, precision="fp32"), Embedder(model_cache, precision="int8")


def test_int8_documents_rank_for_fp32_questions_as_fp32_documents_do(models):
    fp32, int8 = models
    texts = [c.embed_text for c in corpus_chunks()]
    questions = [q["question"] for q in load_jsonl(EVALS / "sets" / "dev.jsonl") if not q["abstain"]][:40]
    docs32, docs8 = fp32.embed(texts), int8.embed(texts)
    cosine = (docs32 * docs8).sum(axis=1)
    assert cosine.mean() > 0.99 and cosine.min() > 0.98, (cosine.mean(), cosine.min())
    asked = fp32.embed(questions)
    top = lambda docs: [set(np.argsort(-(docs @ q))[:5]) for q in asked]  # noqa: E731
    overlap = np.mean([len(a & b) / 5 for a, b in zip(top(docs32), top(docs8))])
    assert overlap >= 0.85, overlap


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_ingest_embeds_documents_at_the_chosen_precision_and_questions_in_fp32(
    settings_factory, tmp_path, models, precision
):
    corpus = copy_corpus(tmp_path / "corpus", [SRC_004])
    kb = KnowledgeBase(settings_factory(corpus_dir=corpus, embed_precision=precision))
    kb.ingest()
    ids = kb.store.manifest.expected_ids(SRC_004)
    stored = kb.store.get(ids, with_vectors=True)
    texts = [stored[i][0].embed_text for i in ids]
    vectors = np.stack([stored[i][1] for i in ids])
    expected = dict(zip(["fp32", "int8"], models))[precision].embed(texts)
    assert np.allclose(vectors, expected, atol=1e-5)
    assert kb.embedder.precision == "fp32"
    assert kb.retrieve("Lead Research Organisation University of Birmingham", k=1)[0].chunk.source == SRC_004


def test_an_unknown_precision_is_a_one_line_usage_error(model_cache):
    with pytest.raises(UsageError, match="KBQA_EMBED_PRECISION='int4': use one of fp32, int8"):
        Embedder(model_cache, precision="int4")


def test_an_int8_vector_does_not_depend_on_the_texts_embedded_with_it(models):
    """Dynamic quantization would scale a batch together; kbqa embeds int8 texts one by one instead."""
    _, int8 = models
    texts = [c.embed_text for c in corpus_chunks()][:24]
    together = int8.embed(texts, batch_size=24)
    reversed_in_pairs = int8.embed(texts[::-1], batch_size=2)[::-1]
    alone = np.stack([int8.embed([t])[0] for t in texts[:4]])
    assert np.array_equal(together, reversed_in_pairs)
    assert np.array_equal(together[:4], alone)
