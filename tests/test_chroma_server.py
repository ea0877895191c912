"""The same index and answers through a real `chroma run` server instead of the embedded database."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kbqa.api import KnowledgeBase
from tests.support import CORPUS, PHASE2, REAL_FILES, SRC_000, index_stats

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _heartbeat(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as resp:
            return resp.status == 200 and any("heartbeat" in key for key in json.loads(resp.read()))
    except (OSError, urllib.error.URLError, ValueError):
        return False


@pytest.fixture
def chroma_server(tmp_path):  # noqa: ANN201
    """URL of a `chroma run` server on a free local port; stopped (and reaped) at teardown."""
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        pytest.fail(f"the chroma console script is missing next to {sys.executable}")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "chroma.log", "w+b")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server-db"), "--port", str(port), "--host", "127.0.0.1"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not _heartbeat(url):
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"chroma run exited with {proc.returncode}:\n{log.read().decode(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("chroma run did not answer its heartbeat within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


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
    settings = settings_factory(chroma_url=f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(StoreError) as info:
        KnowledgeBase(settings).ingest()
    assert "cannot open the Chroma index" in str(info.value)
    assert "\n" not in str(info.value)
