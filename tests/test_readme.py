"""The README's Python API examples run as written, against an index of the corpus (so the docs stay true)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support import CORPUS, ROOT, cli_env


def _api_examples() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Python API", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_has_an_example_for_each_public_object():
    code = "\n".join(_api_examples())
    for name in ("KnowledgeBase", "Filters", "conversation()", "Conversation.from_messages", "ask_stream", "TextDelta"):
        assert name in code, name


@pytest.mark.parametrize("n", range(len(_api_examples())))
def test_readme_python_example_runs(corpus_kb, model_cache, tmp_path, n):
    env = cli_env(model_cache, corpus_kb.settings.data_dir, CORPUS)
    done = subprocess.run(
        [sys.executable, "-c", _api_examples()[n]], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    expected = {0: "Sheffield", 2: "Kate Pahl"}.get(n)
    if expected:
        assert expected in done.stdout, done.stdout
