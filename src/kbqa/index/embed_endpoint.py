"""Embeddings from any OpenAI-compatible `/v1/embeddings` endpoint (text-embeddings-inference, vLLM, OpenAI).

For corpora too big for local embedding: batches go to the endpoint `embed_concurrency` at a time,
each retried with backoff (429, 5xx, timeouts, dropped connections) until `embed_timeout` runs out;
anything else (401, 404, a malformed reply) fails at once. A failure raises EmbeddingError before the
ingest commits the files of that batch, so nothing is half-committed: what was stored is reused by
the next run. The vectors are normalised here, as the local model's are, so cosine similarities mean
the same whatever the endpoint returns.

The `openai` package speaks the protocol (as for LLMs, see `kbqa.llm.client`); its own retries are off
because ours must respect the deadline and know which errors are worth retrying.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from kbqa.config import Settings
from kbqa.errors import EmbeddingError, UsageError
from kbqa.index.embed import BaseEmbedder, same_model


class EndpointEmbedder(BaseEmbedder):
    """Embeds texts by calling an OpenAI-compatible embeddings endpoint; thread-safe."""

    def __init__(self, settings: Settings) -> None:
        import openai

        super().__init__()
        if not settings.embed_model:
            raise UsageError(
                f"KBQA_EMBED_URL={settings.embed_url} needs KBQA_EMBED_MODEL: the model the endpoint serves "
                "(it is recorded in the index, which then refuses vectors of any other model)"
            )
        self.url = str(settings.embed_url).rstrip("/")
        self.name = settings.embed_model
        self.dim = 0  # known after the first reply
        self.settings = settings
        self._openai = openai
        key = settings.embed_api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
        self._client = openai.OpenAI(base_url=self.url, api_key=key, max_retries=0)

    def probe(self) -> int:
        """The endpoint's vector size (one tiny request); checks that it answers and serves this model."""
        if not self.dim:
            self._request(["dimension probe"])
        return self.dim

    def embed(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        on_batch: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        batches = [list(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
        if not batches:
            return np.zeros((0, self.dim or 1), dtype=np.float32)
        out: list[np.ndarray] = [np.empty(0)] * len(batches)
        workers = max(1, min(self.settings.embed_concurrency, len(batches)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kbqa-embed") as pool:
            futures = {pool.submit(self._request, batch): n for n, batch in enumerate(batches)}
            try:
                for future in futures:  # in submission order, so progress reports whole batches in order
                    out[futures[future]] = future.result()
                    if on_batch:
                        on_batch(len(batches[futures[future]]))
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        return np.concatenate(out)

    def _request(self, texts: list[str]) -> np.ndarray:
        """One batch, with retries and backoff inside the deadline; normalised vectors in input order."""
        o = self._openai
        deadline = time.monotonic() + self.settings.embed_timeout
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                reply = self._client.embeddings.create(
                    model=self.name, input=[t or " " for t in texts], encoding_format="float", timeout=remaining
                )
                return self._vectors(reply, len(texts))
            except (o.APIConnectionError, o.RateLimitError, o.InternalServerError, TimeoutError) as exc:
                error = exc  # APITimeoutError is an APIConnectionError
            except o.APIStatusError as exc:
                if exc.status_code < 500 and exc.status_code != 429:
                    raise EmbeddingError(self._describe(exc)) from None
                error = exc
            wait = min(8.0, 0.5 * 2**attempt) * (0.75 + 0.5 * random.random())
            if attempt >= self.settings.embed_max_retries or time.monotonic() + wait >= deadline:
                raise EmbeddingError(self._describe(error)) from None
            time.sleep(wait)
            attempt += 1

    def _vectors(self, reply: Any, count: int) -> np.ndarray:
        served = getattr(reply, "model", None)
        if served and not same_model(served, self.name):
            raise EmbeddingError(
                f"the embedding endpoint at {self.url} serves {served!r}, not KBQA_EMBED_MODEL={self.name!r}"
            )
        rows = sorted(reply.data or [], key=lambda d: d.index)
        if len(rows) != count:
            raise EmbeddingError(f"the embedding endpoint at {self.url} returned {len(rows)} vectors for {count} texts")
        vectors = np.asarray([r.embedding for r in rows], dtype=np.float32)
        if vectors.ndim != 2 or not vectors.shape[1]:
            raise EmbeddingError(f"the embedding endpoint at {self.url} returned malformed vectors")
        with self._lock:
            if not self.dim:
                self.dim = vectors.shape[1]
        if vectors.shape[1] != self.dim:
            raise EmbeddingError(
                f"the embedding endpoint at {self.url} changed its vector size from {self.dim} to {vectors.shape[1]}"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        normalised: np.ndarray = vectors / np.maximum(norms, 1e-12)
        return normalised

    def _describe(self, exc: BaseException) -> str:
        o, where = self._openai, f"the embedding endpoint at {self.url}"
        if isinstance(exc, (TimeoutError, o.APITimeoutError)):
            return f"{where} did not answer within {self.settings.embed_timeout:.0f} s (KBQA_EMBED_TIMEOUT)"
        if isinstance(exc, o.APIConnectionError):
            return f"cannot reach {where}; is it running?"
        if isinstance(exc, o.AuthenticationError):
            return f"{where} rejected the API key (401); check KBQA_EMBED_API_KEY or OPENAI_API_KEY"
        if isinstance(exc, o.NotFoundError):
            return f"{where} does not know model {self.name!r} (404); check KBQA_EMBED_MODEL"
        if isinstance(exc, o.RateLimitError):
            return f"{where} is rate-limiting requests (429) and retries were used up"
        if isinstance(exc, o.APIStatusError):
            return f"{where} failed with HTTP {exc.status_code}" + (
                " and retries were used up" if exc.status_code >= 500 else ""
            )
        return f"{where} failed ({type(exc).__name__})"
