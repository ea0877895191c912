"""Many processes, one knowledge base: a long-lived asking process and a separate `kbqa ingest`, sharing a
real `chroma run` and one data folder, as UI workers and a CLI ingest would (README "Sharing an index")."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import REAL_FILES, ROOT, cli_env, copy_corpus

pytestmark = pytest.mark.slow

NOTE = (
    "# Quillwort meadow survey\n\n"
    "The quillwort meadow survey of 2019 was led by Dr Elspeth Marrow of the University of Dundee. "
    "Volunteers counted forty species of flowering plants near Ashdown Mill.\n"
)
QUESTION = "Who led the quillwort meadow survey?"

# The asking process: one KnowledgeBase for its whole life (like a UI worker), asking again and again and
# printing one JSON line per answer, until the new file is cited or it has asked for long enough.
ASKER = """
import json, sys, time
import kbqa
kbqa.offline()
kb = kbqa.KnowledgeBase(kbqa.Settings())
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    line = {"t": time.time()}
    try:
        answer = kb.ask(sys.argv[1])
        line.update(cited=[c.source for c in answer.citations], answer=answer.answer)
    except Exception as exc:
        line["error"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(line), flush=True)
    if "notes.md" in line.get("cited", []):
        break
    time.sleep(0.1)
"""


def _manifest_has(data_dir: Path, source: str) -> bool:
    try:
        return source in json.loads((data_dir / "manifest.json").read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError):
        return False


def test_a_running_asker_sees_a_file_another_process_ingests_within_seconds(chroma, tmp_path, model_cache):
    corpus = copy_corpus(tmp_path / "corpus", REAL_FILES)
    data = tmp_path / "data"
    env = cli_env(model_cache, data, corpus, {"KBQA_CHROMA_URL": chroma.url})
    cli = [sys.executable, "-m", "kbqa.cli"]
    first = subprocess.run([*cli, "ingest"], env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr

    asker = subprocess.Popen(
        [sys.executable, "-c", ASKER, QUESTION, "240"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert asker.stdout is not None
        before = json.loads(asker.stdout.readline())  # the asker is up and answering before the new file exists
        assert "error" not in before, before
        assert "notes.md" not in before["cited"]

        (corpus / "notes.md").write_text(NOTE, encoding="utf-8")
        ingester = subprocess.Popen([*cli, "ingest"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        while not _manifest_has(data, "notes.md"):  # the commit
            assert ingester.poll() is None or _manifest_has(data, "notes.md"), ingester.communicate()
            time.sleep(0.01)
        committed = time.time()
        out, err = ingester.communicate(timeout=300)
        assert ingester.returncode == 0, err

        lines = [json.loads(line) for line in asker.stdout]
        asker.wait(timeout=60)
    finally:
        if asker.poll() is None:
            asker.kill()
    errors = [line["error"] for line in [before, *lines] if "error" in line]
    assert errors == [], errors
    found = [line for line in lines if "notes.md" in line["cited"]]
    assert found, f"the asker never cited the new file in {len(lines)} answers"
    seen_after = found[0]["t"] - committed
    print(f"the running asker cited the new file {seen_after:.2f} s after the ingest committed it ({len(lines)} asks)")
    assert seen_after < 10, seen_after
    assert "Elspeth Marrow" in found[0]["answer"]
