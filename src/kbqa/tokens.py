"""Token counting and truncation with tiktoken (cl100k_base, read from llama-index's offline cache)."""

from __future__ import annotations

from functools import lru_cache

from kbqa.config import configure_offline


@lru_cache(maxsize=1)
def encoding():  # noqa: ANN201 - tiktoken.Encoding, imported lazily
    configure_offline()
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


def truncate_tokens(text: str, limit: int, keep: str = "start") -> str:
    """Cut `text` to at most `limit` tokens, keeping its start (or its end with keep='end')."""
    tokens = encoding().encode(text, disallowed_special=())
    if len(tokens) <= limit:
        return text
    if limit <= 0:
        return ""
    kept = tokens[:limit] if keep == "start" else tokens[-limit:]
    return encoding().decode(kept)
