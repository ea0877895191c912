"""kbqa's retrieval as a llama-index retriever, for query engines, agents and experiments built on llama-index.

Nodes carry kbqa's metadata (source, title, entry id, section, years, keywords, contributors) and the fused
retrieval score; `cosine` in the metadata is the passage's similarity to the question (0–1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llama_index.core.retrievers import BaseRetriever

    from kbqa.api import KnowledgeBase
    from kbqa.retrieve import Filters


def llamaindex_retriever(kb: KnowledgeBase, k: int, filters: Filters) -> BaseRetriever:
    """A llama-index `BaseRetriever` that answers with `kb.retrieve(query, k=k, filters=filters)`."""
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    class KBQARetriever(BaseRetriever):
        def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
            nodes = []
            for hit in kb.retrieve(query_bundle.query_str, k=k, filters=filters):
                metadata: dict[str, Any] = {"source": hit.chunk.source, "title": hit.chunk.title, "cosine": hit.dense}
                metadata.update({key: v for key, v in hit.chunk.metadata.items() if key not in ("version",)})
                node = TextNode(id_=hit.chunk.id, text=hit.chunk.text, metadata=metadata)
                nodes.append(NodeWithScore(node=node, score=hit.score))
            return nodes

    return KBQARetriever()
