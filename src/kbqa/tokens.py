"""Token counting and truncation with tiktoken (cl100k_base), built from the BPE file llama-index-core ships.

`tiktoken.get_encoding` would download the file unless TIKTOKEN_CACHE_DIR points at a cache; loading it
by path instead needs neither the network nor a change to the environment.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import TYPE_CHECKING

from kbqa.config import tiktoken_cache_dir

if TYPE_CHECKING:
    import tiktoken

_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
_CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
# cl100k_base's split pattern, as tiktoken_ext.openai_public defines it
_CL100K_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    """cl100k_base, from llama-index's cached BPE file (named by the SHA-1 of its URL, checked by its SHA-256)."""
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe
    from tiktoken_ext.openai_public import ENDOFPROMPT, ENDOFTEXT, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX

    cache = tiktoken_cache_dir()
    if cache is None:  # pragma: no cover - llama-index-core, a dependency, ships the file
        return tiktoken.get_encoding("cl100k_base")
    path = cache / hashlib.sha1(_CL100K_URL.encode()).hexdigest()
    return tiktoken.Encoding(
        name="cl100k_base",
        pat_str=_CL100K_PATTERN,
        mergeable_ranks=load_tiktoken_bpe(str(path), expected_hash=_CL100K_SHA256),
        special_tokens={
            ENDOFTEXT: 100257,
            FIM_PREFIX: 100258,
            FIM_MIDDLE: 100259,
            FIM_SUFFIX: 100260,
            ENDOFPROMPT: 100276,
        },
    )


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
