"""The same index and answers through a real `chroma run` server instead of the embedded database."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbqa.api import KnowledgeBase
from tests.chroma_fixtures import free_port
from tests.support import CORPUS, PHASE2, REAL_FILES, SRC_000, index_stats

pytestmark = pytest.mark.slow


def test_ingest_and_ask_through_a_chroma_server(chroma_server, settings_factory, tmp_path):
    settings = settings_factory(corpus_dir=CORPUS, chroma_url=chroma_server)
    kb = KnowledgeBase(settings)
    report = kb.ingest()
    assert report.files_indexed == len(REAL_FILES), report.summary()
    assert report.warnings == []
    assert not (Path(settings.data_dir) / "chroma").exists(), "the embedded database was used, not the server"

    answer = kb.ask(PHASE2)
    assert not answer.abstained
    assert "Sheffield" in answer.answer and "Hull" in answer.answer
    assert answer.citations
    assert any(c.source == SRC_000 and "Sheffield" in c.text and "Hull" in c.text for c in answer.citations)

    # what the server holds is exactly what the manifest says is live
    stats = index_stats(settings)
    assert stats["chroma_count"] == stats["manifest_total"] == report.chunks_total
    assert stats["dead"] == 0 and not stats["live_duplicates"]

    # a second run is incremental against the server too
    assert kb.ingest().files_unchanged == len(REAL_FILES)


def test_unreachable_chroma_server_is_a_one_line_store_error(settings_factory, tmp_path):
    from kbqa.errors import StoreError

    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "note.txt").write_text("A citizens' jury discussed a community bonfire.\n")
    settings = settings_factory(chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreError) as info:
        KnowledgeBase(settings).ingest()
    assert "cannot open the Chroma index" in str(info.value)
    assert "\n" not in str(info.value)
