"""Session fixtures: one ONNX model cache, one index of the real corpus, and a CLI runner.

The model cache is exported once per session (~5 s); set KBQA_MODEL_CACHE_DIR to reuse one across runs.
`corpus_kb` is shared by many tests: never ingest into it or change its settings in place.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tests.support import CORPUS, cli_env, make_settings

pytest_plugins = ["tests.llm_fixtures", "tests.chroma_fixtures", "tests.ui_fixtures"]

# Hypothesis profiles for the property tests of the index (tests/test_index_properties.py). Their examples
# embed, ingest and kill real processes, so: no deadline, and slow data generation is expected. "ci" is the
# default (bounded: about 2 minutes on 2 cores, no example database); `pytest -m properties --hypothesis-profile
# long` runs ten times the examples, each up to 40 steps (about 35 minutes; README, Development), keeping
# failing examples in .hypothesis/ (git-ignored) to replay first on the next run.
_UNHURRIED = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
hypothesis_settings.register_profile("ci", max_examples=5, stateful_step_count=12, database=None, **_UNHURRIED)
hypothesis_settings.register_profile("long", max_examples=50, stateful_step_count=40, **_UNHURRIED)
hypothesis_settings.load_profile("ci")


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding the exported ONNX embedding model, shared by every test and subprocess."""
    env = os.environ.get("KBQA_MODEL_CACHE_DIR")
    if env:
        path = Path(env).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture
def settings_factory(tmp_path: Path, model_cache: Path) -> Callable[..., object]:
    """settings_factory(**overrides) → Settings with data_dir=tmp_path/data, corpus_dir=tmp_path/corpus."""

    def make(**overrides: object):
        data_dir = overrides.pop("data_dir", tmp_path / "data")
        corpus_dir = overrides.pop("corpus_dir", tmp_path / "corpus")
        return make_settings(data_dir, corpus_dir, model_cache, **overrides)

    return make


@pytest.fixture(scope="session")
def corpus_kb(tmp_path_factory: pytest.TempPathFactory, model_cache: Path):
    """A KnowledgeBase over the real corpus, ingested once per session (read-only for tests)."""
    from kbqa.api import KnowledgeBase

    data_dir = tmp_path_factory.mktemp("corpus-index") / "data"
    kb = KnowledgeBase(make_settings(data_dir, CORPUS, model_cache))
    report = kb.ingest()
    assert report.files_indexed == len(list(CORPUS.glob("*.txt"))), report.summary()
    assert not report.warnings, report.warnings
    return kb


@pytest.fixture
def run_cli(tmp_path: Path, model_cache: Path) -> Callable[..., subprocess.CompletedProcess]:
    """run_cli(*args, data_dir=None, corpus_dir=None, env=None, timeout=300, input=None) → CompletedProcess.

    Runs `python -m kbqa.cli *args` with KBQA_DATA_DIR (default tmp_path/data), KBQA_CORPUS_DIR
    (default: the real corpus) and the session model cache set, other KBQA_* variables removed;
    `env` adds or overrides variables. The working directory is tmp_path (no stray kbqa.toml).
    """

    def run(
        *args: object,
        data_dir: Path | None = None,
        corpus_dir: Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 300,
        input: str | None = None,
    ) -> subprocess.CompletedProcess:
        full_env = cli_env(model_cache, data_dir or tmp_path / "data", corpus_dir or CORPUS, env)
        return subprocess.run(
            [sys.executable, "-m", "kbqa.cli", *map(str, args)],
            env=full_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )

    return run


@pytest.fixture
def cli(tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """cli(*args, data_dir=None, corpus_dir=None, input=None) → CompletedProcess, running `kbqa.cli.main` in this
    process (as fast as a function call) with the same environment `run_cli` gives a subprocess."""
    from kbqa.cli import main

    def run(
        *args: object,
        data_dir: Path | None = None,
        corpus_dir: Path | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess:
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(cli_env(model_cache, data_dir or tmp_path / "data", corpus_dir or CORPUS))
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(sys, "stdin", io.StringIO(input or ""))
        try:
            code = main([str(a) for a in args])
        finally:
            os.environ.clear()
            os.environ.update(saved)
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)

    return run


@pytest.fixture
def embed_spy(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Records the texts every Embedder.embed call was asked to embed (the real model still runs)."""
    from kbqa.index.embed import Embedder

    calls: list[list[str]] = []
    original = Embedder.embed

    def spy(self, texts, *args, **kwargs):
        calls.append(list(texts))
        return original(self, texts, *args, **kwargs)

    monkeypatch.setattr(Embedder, "embed", spy)
    return calls
