"""Shared helpers for the ingestion, store and retrieval tests (plain functions, no fixtures).

`python -m tests.support DATA_DIR` prints `index_stats` as JSON: the killed-ingest tests use it to
inspect an index written by another process without opening Chroma in the test process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
EVALS = ROOT / "evals"
REAL_FILES = sorted(p.name for p in CORPUS.glob("*.txt"))
SRC_000 = "000_525025c0dd7eef87.txt"
SRC_001 = "001_e46ca3b02064783c.txt"
SRC_003 = "003_14858083f423fcbe.txt"
SRC_004 = "004_cf0edb2536c3445c.txt"
PHASE2 = "Which universities are partners in Phase 2 of the Enabling Social Action programme?"

# Environment variables that change what an index contains or how questions are answered. They are
# removed from the environment of CLI subprocesses so a developer's shell cannot change test results.
_HERMETIC_PREFIX = "KBQA_"


def make_settings(data_dir: Path, corpus_dir: Path, model_cache: Path, **overrides: Any):
    """Settings for one test index; explicit None for fields a developer's KBQA_* env could set."""
    from kbqa.config import Settings

    values: dict[str, Any] = {"chroma_url": None, "llm": None}
    values.update(overrides)
    return Settings(data_dir=Path(data_dir), corpus_dir=Path(corpus_dir), model_cache_dir=Path(model_cache), **values)


@cache
def trial_renderer() -> Any:
    """evals/render_trial_docs.py as a module (it is a script, not a package): renders PDF, DOCX, … files."""
    spec = importlib.util.spec_from_file_location("render_trial_docs", EVALS / "render_trial_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cli_env(model_cache: Path, data_dir: Path, corpus_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a `python -m kbqa.cli` subprocess: no inherited KBQA_* settings, ours set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_HERMETIC_PREFIX)}
    env.update(
        {
            "KBQA_DATA_DIR": str(data_dir),
            "KBQA_CORPUS_DIR": str(corpus_dir),
            "KBQA_MODEL_CACHE_DIR": str(model_cache),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        }
    )
    env.update(extra or {})
    return env


def copy_corpus(dest: Path, names: list[str]) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        (dest / name).write_bytes((CORPUS / name).read_bytes())
    return dest


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_generated_corpus(folder: Path, n: int, seed: int = 7) -> list[Path]:
    """n small text files, each a titled document with two short sections (so two small chunks each)."""
    words = sorted(set(re.findall(r"[a-z]{4,}", (CORPUS / SRC_001).read_text(encoding="utf-8").lower())))
    rng = random.Random(seed)

    def para(count: int) -> str:
        text = " ".join(rng.choice(words) for _ in range(count))
        return text[0].upper() + text[1:] + "."

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"gen_{i:03d}.txt"
        path.write_text(
            f"# Generated note {i}\n\n{para(12)}\n\n# Details of note {i}\n\n{para(12)}\n", encoding="utf-8"
        )
        paths.append(path)
    return paths


def index_stats(settings) -> dict[str, Any]:
    """What is in Chroma versus what the manifest says is live."""
    from kbqa.index.store import Store, to_chunk

    store = Store(settings)
    got = store.collection.get(include=["documents", "metadatas"])
    live: Counter[str] = Counter()
    stored: Counter[str] = Counter()
    texts: dict[str, list[str]] = defaultdict(list)
    dead = 0
    for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"]):
        chunk = to_chunk(cid, text, meta)
        stored[chunk.source] += 1
        if store.is_live(chunk):
            live[chunk.source] += 1
            texts[chunk.source].append(chunk.text)
        else:
            dead += 1
    duplicates = {s: sorted(t for t, c in Counter(ts).items() if c > 1) for s, ts in texts.items()}
    return {
        "chroma_count": store.count(),
        "manifest_chunks": {s: info["chunks"] for s, info in store.manifest.files.items()},
        "manifest_total": sum(info["chunks"] for info in store.manifest.files.values()),
        "stored": dict(stored),
        "live": dict(live),
        "dead": dead,
        "live_duplicates": {s: d for s, d in duplicates.items() if d},
    }


if __name__ == "__main__":
    from kbqa.config import Settings

    data = Path(sys.argv[1])
    print(json.dumps(index_stats(Settings(data_dir=data, corpus_dir=data, chroma_url=None))))


def in_threads(target: Callable[..., object], args: list[tuple[Any, ...]]) -> list[BaseException]:
    """Run `target(*a)` for each `a` in its own thread, all at once; the exceptions they raised."""
    errors: list[BaseException] = []

    def guarded(*a: Any) -> None:
        try:
            target(*a)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=a) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
