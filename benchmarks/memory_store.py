"""Memory store costs, each against a baseline measured in the same run.

1. Ingest: `Ingester` (read, split with the embedder's tokenizer, embed, write chunks and vectors
   to the embedded chromadb store) over generated text of `--tokens` MiniLM tokens in ten files,
   against calling the raw MiniLM embedder on the very same chunk texts right after each file.
   Prints the time ratio.
2. Search: p50/p99 latency of `store.search(query=...)` over `--chunks` items with seeded random
   384-d vectors (chromadb HNSW), against an exact numpy scan of the same vectors.

    .venv/bin/python benchmarks/memory_store.py [--tokens 1000000] [--chunks 100000]

The full size takes about 25 minutes on a quiet 2-core machine (embedding 1M tokens twice
dominates; ~2,000 tokens/s each way), and much longer when the cores are shared.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from langgraph.store.base import PutOp

from agentrun.memory import ChromaStore, MiniLMEmbedder
from agentrun.memory.ingest import WRITE_BATCH, Ingester
from agentrun.memory.minilm import shared_model
from agentrun.memory.namespaces import chunks_ns

DIMENSIONS = 384
VOCABULARY = (
    "harbour lighthouse keeper granite herring salt lagoon railway storm bridge market "
    "cannery lantern tide fleet quay engineer council school chapel mill river orchard "
    "winter summer evening morning built opened repaired sold carried painted counted "
    "walked watched small old new long narrow windy busy quiet famous local northern"
)


def generated_text(tokens: int, seed: int = 0) -> str:
    """Paragraphs of random sentences over a fixed vocabulary, about `tokens` word pieces."""
    rng = random.Random(seed)
    words = VOCABULARY.split()
    model = shared_model()
    paragraphs: list[str] = []
    total = 0
    while total < tokens:
        sentences = [
            " ".join(rng.choice(words) for _ in range(rng.randint(6, 18))).capitalize() + "."
            for _ in range(rng.randint(3, 8))
        ]
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        total += model.count_tokens(paragraph)
    return "\n\n".join(paragraphs)


async def ingest_ratio(tokens: int, folder: Path, parts: int = 10) -> None:
    """Ingest `parts` files one by one, embedding each file's chunks raw right after its
    ingest, so that drift in the machine's load hits both alike."""
    embedder = MiniLMEmbedder()
    embedder.embed(["warm up"])
    ingest_s = raw_s = 0.0
    chunks = total_tokens = 0
    with ChromaStore.persistent(folder / "ingest-store", embedder) as store:
        ingester = Ingester(store, embedder)
        for part in range(parts):
            path = folder / f"part-{part}.md"
            path.write_text(generated_text(tokens // parts, seed=part), encoding="utf-8")
            started = time.perf_counter()
            [outcome] = await ingester.ingest([path])
            ingest_s += time.perf_counter() - started
            items = await store.asearch(
                chunks_ns(("default",)), filter={"doc_id": outcome.doc_id}, limit=10_000_000
            )
            texts = [item.value["text"] for item in sorted(items, key=lambda i: i.value["index"])]
            started = time.perf_counter()
            for start in range(0, len(texts), WRITE_BATCH):
                embedder.embed(texts[start : start + WRITE_BATCH])
            raw_s += time.perf_counter() - started
            chunks += outcome.chunks
            total_tokens += outcome.tokens
    print(f"ingest: {total_tokens:,} tokens in {chunks:,} chunks of <= "
          f"{ingester.chunk_tokens} tokens, {parts} files")  # fmt: skip
    print(f"  agentrun ingest   {ingest_s:8.1f} s  ({total_tokens / ingest_s:,.0f} tokens/s)")
    print(f"  raw embedder      {raw_s:8.1f} s  ({total_tokens / raw_s:,.0f} tokens/s)")
    print(f"  ratio ingest/raw  {ingest_s / raw_s:8.2f}")


class SeededVectors:
    """An embedder whose vector for a text is seeded by the text's hash (no model)."""

    name = "seeded-random-384"
    dimensions = DIMENSIONS
    max_tokens = 512

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def vector(self, text: str) -> np.ndarray[tuple[int], np.dtype[np.float32]]:
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        vector = np.random.default_rng(seed).standard_normal(DIMENSIONS).astype(np.float32)
        return vector / np.linalg.norm(vector)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.vector(text).tolist() for text in texts]

    async def aembed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed(texts)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def search_latency(chunks: int, queries: int, folder: Path) -> None:
    embedder = SeededVectors()
    with ChromaStore.persistent(folder / "search-store", embedder) as store:
        started = time.perf_counter()
        for start in range(0, chunks, 2000):
            store.batch(
                [
                    PutOp(("bench", "chunks"), f"c{i:07d}", {"text": f"chunk {i}", "doc": i % 10})
                    for i in range(start, min(start + 2000, chunks))
                ]
            )
        load_s = time.perf_counter() - started
        matrix = np.stack([embedder.vector(f"chunk {i}") for i in range(chunks)])
        texts = [f"query {j}" for j in range(queries)]
        store.search(("bench",), query="warm up", limit=5)
        timed, exact = [], []
        hits = 0
        for text in texts:
            began = time.perf_counter()
            found = store.search(("bench",), query=text, limit=5)
            timed.append(time.perf_counter() - began)
            began = time.perf_counter()
            query = embedder.vector(text)
            best = np.argsort(-(matrix @ query))[:5]
            exact.append(time.perf_counter() - began)
            hits += len({f"c{i:07d}" for i in best} & {item.key for item in found})
        filtered = []
        for text in texts[:50]:
            began = time.perf_counter()
            store.search(("bench",), query=text, filter={"doc": 3}, limit=5)
            filtered.append(time.perf_counter() - began)
    print(f"search: {chunks:,} chunks loaded in {load_s:.1f} s; {queries} queries, top 5")
    for name, samples in (("store.search", timed), ("  with a filter", filtered),
                          ("exact numpy scan", exact)):  # fmt: skip
        p50, p99 = percentile(samples, 0.5) * 1000, percentile(samples, 0.99) * 1000
        print(f"  {name:<18} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")
    print(f"  ratio store/exact p50 {percentile(timed, 0.5) / percentile(exact, 0.5):6.2f}")
    recall = hits / (5 * queries)
    print(f"  recall@5 vs exact {recall:.3f} (random vectors: HNSW's hardest case)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentrun-bench-") as folder:
        started = time.perf_counter()
        asyncio.run(ingest_ratio(args.tokens, Path(folder)))
        search_latency(args.chunks, args.queries, Path(folder))
        print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
