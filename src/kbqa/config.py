"""Settings: the one place where kbqa's defaults live.

Every field can be set with a `KBQA_<FIELD>` environment variable or in a
`kbqa.toml` file in the working directory (environment wins).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    """All kbqa configuration; see README "Configuration" for the meaning of each field."""

    model_config = SettingsConfigDict(env_prefix="KBQA_", toml_file="kbqa.toml", extra="ignore")

    # --- where things live
    corpus_dir: Path = Path("corpus")
    data_dir: Path = Path(".kbqa")
    chroma_url: str | None = None  # e.g. http://127.0.0.1:8000 to use a `chroma run` server
    collection: str = "kbqa"
    model_cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "kbqa")

    # --- chunking and embedding (chosen by measurement, see README "Choices")
    chunk_size: int = 192  # tiktoken cl100k tokens
    chunk_overlap: int = 64
    embed_batch_size: int = 32
    embed_threads: int = 0  # 0 = one per core
    max_file_mb: float = 50.0  # larger files are skipped with a warning
    progress_interval: float = 10.0  # seconds between ingest progress lines when stderr is not a terminal

    # --- retrieval
    k: int = 5
    max_k: int = 50  # the most passages a question may ask for (`k`)
    # Reciprocal rank fusion: score = Σ weight / (rrf_k + rank). The textbook k=60 flattens ranks so much that
    # passages middling in both lists beat BM25's top hit; k=5 with BM25 at 1.5 measured best on all three sets.
    rrf_k: int = 5
    dense_weight: float = 1.0
    bm25_weight: float = 1.5

    # --- extractive answering
    answer_max_sentences: int = 3
    answer_runner_up: float = 0.7  # a further sentence joins the answer if it scores this share of the best
    abstain_threshold: float = 0.4  # on the answerer's confidence; calibrated with evals/fit_abstain.py

    # --- LLM (any OpenAI-compatible endpoint); unset = extractive answers
    llm: str | None = None  # a preset name (openai, ollama, vllm, llamacpp) or a base URL
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = 60.0
    llm_max_retries: int = 2
    llm_max_output_tokens: int = 384
    llm_temperature: float = 0.0
    llm_context_window: int = 4096
    llm_server_port: int = 8081
    llm_server_model: Path | None = None  # a GGUF file; default: the packaged Qwen2.5-Coder 0.5B Instruct
    llm_server_threads: int = 0  # llama.cpp threads for `kbqa llm-server`; 0 = one per core

    history_tokens: int = 600

    # --- evaluation (`kbqa eval run`): each run config's documents are indexed here, one folder per
    # document set and chunking, so an eval never reads or changes the index in data_dir
    eval_data_dir: Path = Path(".kbqa-eval")

    # --- web UI (`kbqa ui`)
    ui_host: str = "127.0.0.1"  # another address exposes the app to the network: set ui_auth too
    ui_port: int = 7860
    ui_auth: str | None = None  # "user:password" (several: "u1:p1,u2:p2"); unset = no login
    ui_llm_choices: list[str] = []  # LLM presets/URLs offered in the answer-mode menu (besides `llm` if set)
    # Questions answered at once across all users; more wait their turn in Gradio's queue. Answers are
    # CPU-bound on 2 cores (embedding, sentence scoring), so more threads only share the same cores.
    ui_concurrency: int = 4
    upload_types: list[str] = [".txt", ".md", ".html", ".pdf", ".docx"]
    upload_max_mb: float = 20.0  # per uploaded file
    upload_max_files: int = 20  # per upload
    eval_runs_dir: Path = Path("evals/runs")  # the web UI's Quality tab shows the newest finished run here
    ui_examples: list[str] = [  # shown on the empty chat
        "Which universities are partners in Phase 2 of the Enabling Social Action programme?",
        "Who coordinated the cultural strand of the Imagine project?",
        "What is participatory budgeting?",
        "Which projects did Angie Hart contribute to?",
    ]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed (None values are ignored)."""
        return self.model_copy(update={k: v for k, v in changes.items() if v is not None})


def offline() -> None:
    """Set up the third-party libraries kbqa uses so that nothing reaches the network: no model-hub look-ups,
    no telemetry or analytics, tiktoken's BPE files from llama-index's offline cache.

    The CLI and the UI call this once at start; the library itself never changes `os.environ`.
    Variables the user already set are kept.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # chroma
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    cache = tiktoken_cache_dir()
    if cache is not None:
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cache))


def tiktoken_cache_dir() -> Path | None:
    """The BPE files (cl100k_base, o200k_base) that llama-index-core ships, so tiktoken needs no download."""
    import importlib.util

    spec = importlib.util.find_spec("llama_index.core")
    if spec and spec.submodule_search_locations:
        cache = Path(list(spec.submodule_search_locations)[0]) / "_static" / "tiktoken_cache"
        if cache.is_dir():
            return cache
    return None
