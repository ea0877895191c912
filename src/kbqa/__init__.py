"""kbqa: cited answers from a research knowledge base, offline by default.

    import kbqa
    answer = kbqa.ask("Which universities are partners in Phase 2 of the Enabling Social Action programme?")
    print(answer.answer)            # "... Sheffield and Hull ... [1]"
    print(answer.citations[0].text)  # the passage behind [1]

Imports are lazy so that `import kbqa` (and the CLI's start-up) stays fast. (The module
that does the indexing is `kbqa.ingestion`, so that `kbqa.ingest` can be the function.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Answer", "Citation", "KnowledgeBase", "Settings", "ask", "ask_stream", "ingest", "Filters"]

if TYPE_CHECKING:
    from kbqa.api import KnowledgeBase, ask, ask_stream
    from kbqa.api import ingest_paths as ingest
    from kbqa.config import Settings
    from kbqa.retrieve import Filters
    from kbqa.schema import Answer, Citation

_LAZY = {
    "KnowledgeBase": ("kbqa.api", "KnowledgeBase"),
    "ask": ("kbqa.api", "ask"),
    "ask_stream": ("kbqa.api", "ask_stream"),
    "ingest": ("kbqa.api", "ingest_paths"),
    "Settings": ("kbqa.config", "Settings"),
    "Filters": ("kbqa.retrieve", "Filters"),
    "Answer": ("kbqa.schema", "Answer"),
    "Citation": ("kbqa.schema", "Citation"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'kbqa' has no attribute {name!r}")
