"""Embedders: the seam between the memory store and whatever turns text into vectors.

Three ship with agentrun: `MiniLMEmbedder` (the offline default, real semantic embeddings),
`LiteLLMEmbedder` (any embedding model LiteLLM reaches) and `FakeEmbedder` (deterministic hashed
bag of words, for tests). A store records the `name` and `dimensions` of the embedder that built
it and refuses to open with another one.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from agentrun.errors import ConfigError, ModelCallError


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors of `dimensions` floats (unit length, compared by cosine)."""

    @property
    def name(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Longest input (in `count_tokens` units) embedded without truncation."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    async def aembed(self, texts: Sequence[str]) -> list[list[float]]: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 in numpy (no torch, no network); weights load on first use."""

    name = "all-MiniLM-L6-v2"
    dimensions = 384
    #: 256 word pieces, less the two special tokens every input gets.
    max_tokens = 254

    def count_tokens(self, text: str) -> int:
        from agentrun.memory.minilm import shared_model

        return shared_model().count_tokens(text)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        from agentrun.memory.minilm import shared_model

        vectors: list[list[float]] = shared_model().encode(texts).tolist()
        return vectors

    async def aembed(self, texts: Sequence[str]) -> list[list[float]]:
        return await asyncio.to_thread(self.embed, texts)


class LiteLLMEmbedder:
    """Embeddings from any provider LiteLLM supports (`openai/text-embedding-3-small`, ...).

    `dimensions` is asked of the model with one probe call when not given. Token counts use
    cl100k_base, a fair estimate for most embedding models.
    """

    def __init__(
        self,
        model: str,
        *,
        dimensions: int | None = None,
        api_base: str | None = None,
        api_key: str | None = None,
        max_tokens: int = 8191,
        batch_size: int = 128,
        timeout_s: float = 60.0,
    ) -> None:
        self.model = model
        self._dimensions = dimensions
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self._options: dict[str, Any] = {"timeout": timeout_s}
        if api_base:
            self._options["api_base"] = api_base
        if api_key:
            self._options["api_key"] = api_key

    @property
    def name(self) -> str:
        return f"litellm/{self.model}"

    @property
    def dimensions(self) -> int:
        if self._dimensions is None:
            self._dimensions = len(self.embed(["dimensions probe"])[0])
        return self._dimensions

    def count_tokens(self, text: str) -> int:
        from agentrun.agents.tokens import count_cl100k

        return count_cl100k(text)

    def _vectors(self, response: Any, expected: int) -> list[list[float]]:
        data = sorted(response.data, key=lambda row: _field(row, "index"))
        vectors = [[float(x) for x in _field(row, "embedding")] for row in data]
        if len(vectors) != expected:
            raise ModelCallError(self.model, f"asked for {expected} embeddings, got {len(vectors)}")
        return [_unit(vector) for vector in vectors]

    def _error(self, exc: Exception) -> ModelCallError:
        return ModelCallError(self.model, f"embedding failed: {type(exc).__name__}: {exc}")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        from agentrun.agents._litellm import litellm

        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            try:
                response = litellm().embedding(model=self.model, input=batch, **self._options)
            except Exception as exc:
                raise self._error(exc) from exc
            out.extend(self._vectors(response, len(batch)))
        return out

    async def aembed(self, texts: Sequence[str]) -> list[list[float]]:
        from agentrun.agents._litellm import litellm

        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            try:
                response = await litellm().aembedding(
                    model=self.model, input=batch, **self._options
                )
            except Exception as exc:
                raise self._error(exc) from exc
            out.extend(self._vectors(response, len(batch)))
        return out


_WORD = re.compile(r"\w+", re.UNICODE)


class FakeEmbedder:
    """Deterministic hashed bag of words: texts that share words are closer. For tests.

    Each lower-cased word adds +1 or -1 to one of `dimensions` buckets (both chosen by a stable
    hash, so vectors are the same in every process); the sum is scaled to unit length.
    """

    def __init__(self, dimensions: int = 64, *, max_tokens: int = 512) -> None:
        if dimensions <= 0:
            raise ConfigError(f"FakeEmbedder dimensions must be positive, got {dimensions}")
        self.dimensions = dimensions
        self.max_tokens = max_tokens
        self.calls = 0
        self.texts_embedded = 0

    @property
    def name(self) -> str:
        return f"fake-bag-of-words-{self.dimensions}"

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text))

    def vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dimensions
            vector[bucket] += 1.0 if digest[4] & 1 else -1.0
        return _unit(vector)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        self.texts_embedded += len(texts)
        return [self.vector(text) for text in texts]

    async def aembed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed(texts)


def _field(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, dict) else getattr(row, name)


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm > 0 else vector


def default_embedder() -> Embedder:
    """The embedder a store uses when none is given: all-MiniLM-L6-v2, offline."""
    return MiniLMEmbedder()


def as_langchain(embedder: Embedder) -> Any:
    """The embedder as LangChain `Embeddings`, the form LangGraph's own stores take."""
    from langchain_core.embeddings import Embeddings

    class _Adapter(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed(texts)

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed([text])[0]

        async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
            return await embedder.aembed(texts)

        async def aembed_query(self, text: str) -> list[float]:
            return (await embedder.aembed([text]))[0]

    return _Adapter()
