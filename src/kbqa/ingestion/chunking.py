"""Parts → chunks with llama-index's SentenceSplitter, sized in tiktoken tokens.

Each part (an entry or a section) is split on its own, so no chunk ever mixes
two entries; the entry title and section are budgeted as metadata because they
are prepended to the text that gets embedded.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from kbqa.ingestion.parse import Part
from kbqa.schema import OPEN_END, Chunk
from kbqa.tokens import count_tokens, encoding

if TYPE_CHECKING:
    from llama_index.core.node_parser import SentenceSplitter


@lru_cache(maxsize=4)
def _splitter(chunk_size: int, chunk_overlap: int) -> SentenceSplitter:
    from llama_index.core.node_parser import SentenceSplitter

    return SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        tokenizer=encoding().encode,
        paragraph_separator="\n\n",
    )


def chunk_parts(parts: list[Part], source: str, version: str, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """Split every part into chunks; ids and `version` are stable for given file content and settings."""
    splitter = _splitter(chunk_size, chunk_overlap)
    chunks: list[Chunk] = []
    for part in parts:
        entry = part.entry
        header = "\n".join(h for h in (entry.title, part.section) if h)
        for text in splitter.split_text_metadata_aware(part.text, metadata_str=header):
            text = text.strip()
            if not text:
                continue
            n = len(chunks)
            chunk = Chunk(
                id=f"{source}:{version}:{n:05d}",
                text=text,
                source=source,
                title=entry.title,
                metadata=_metadata(part, version, n),
            )
            chunks.append(chunk)
            entry.chunk_ids.append(chunk.id)
    return chunks


def _metadata(part: Part, version: str, n: int) -> dict[str, Any]:
    """Chroma metadata: scalars and non-empty lists only (Chroma rejects None and empty lists)."""
    entry = part.entry
    meta: dict[str, Any] = {"entry_id": entry.entry_id, "version": version, "chunk_index": n}
    if part.section:
        meta["section"] = part.section
    if entry.year_start is not None:
        meta["year_start"] = entry.year_start
        meta["year_end"] = entry.year_end if entry.year_end is not None else OPEN_END
    for key in ("keywords", "contributors", "affiliations"):
        values = [v.lower() for v in getattr(entry, key)]
        if values:
            meta[key] = values
    return meta


def token_length(chunk: Chunk) -> int:
    return count_tokens(chunk.embed_text)
