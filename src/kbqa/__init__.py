"""kbqa: cited answers from a research knowledge base, offline by default.

    import kbqa
    kbqa.offline()                                  # no network for the libraries kbqa uses
    kb = kbqa.KnowledgeBase(kbqa.Settings())
    kb.ensure_index()                               # build it from corpus/ the first time
    answer = kb.ask("Which universities are partners in Phase 2 of the Enabling Social Action programme?")
    print(answer.answer)             # "... Sheffield and Hull ... [1]"
    print(answer.citations[0].text)  # the passage behind [1]

The names below are the stable API (README "Python API"); modules are imported on first use, so
`import kbqa` and the CLI's start-up stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

if TYPE_CHECKING:
    from kbqa.api import AnswerStream, KnowledgeBase, ask, ask_stream, ingest
    from kbqa.config import Settings, offline
    from kbqa.conversation import Conversation
    from kbqa.errors import DocumentError, KBQAError, LLMError, StoreError, UsageError
    from kbqa.ingestion.pipeline import Progress
    from kbqa.retrieve import Filters
    from kbqa.schema import (
        Answer,
        Citation,
        EntryText,
        Facets,
        Final,
        IngestReport,
        Reset,
        SourceInfo,
        TextDelta,
    )

_LAZY = {
    "KnowledgeBase": "kbqa.api",
    "AnswerStream": "kbqa.api",
    "ask": "kbqa.api",
    "ask_stream": "kbqa.api",
    "ingest": "kbqa.api",
    "Conversation": "kbqa.conversation",
    "Settings": "kbqa.config",
    "offline": "kbqa.config",
    "Filters": "kbqa.retrieve",
    "Progress": "kbqa.ingestion.pipeline",
    "Answer": "kbqa.schema",
    "Citation": "kbqa.schema",
    "TextDelta": "kbqa.schema",
    "Reset": "kbqa.schema",
    "Final": "kbqa.schema",
    "IngestReport": "kbqa.schema",
    "SourceInfo": "kbqa.schema",
    "Facets": "kbqa.schema",
    "EntryText": "kbqa.schema",
    "KBQAError": "kbqa.errors",
    "UsageError": "kbqa.errors",
    "DocumentError": "kbqa.errors",
    "StoreError": "kbqa.errors",
    "LLMError": "kbqa.errors",
}
__all__ = [
    "Answer",
    "AnswerStream",
    "Citation",
    "Conversation",
    "DocumentError",
    "EntryText",
    "Facets",
    "Filters",
    "Final",
    "IngestReport",
    "KBQAError",
    "KnowledgeBase",
    "LLMError",
    "Progress",
    "Reset",
    "Settings",
    "SourceInfo",
    "StoreError",
    "TextDelta",
    "UsageError",
    "ask",
    "ask_stream",
    "ingest",
    "offline",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kbqa' has no attribute {name!r}")
