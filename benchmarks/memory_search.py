"""Memory search latency and recall at 10k / 100k / 1M chunks, on real MiniLM embeddings.

Vectors: all-MiniLM-L6-v2 embeddings of distinct pieces (30-120 words) of real text found on
this machine, read in a fixed order: the descriptions of the installed Python distributions,
the standard library's docstrings, Python's help topics and the files under /usr/share/doc
(changelogs, copyright notices, READMEs). `--real` pieces are indexed and `--queries` other
pieces are the queries. Beyond `--real` items, each further item is a seeded blend: real vector
`i mod --real`, plus U(0, `--mix`) times another real vector drawn at random, plus Gaussian
noise (`--noise` per dimension), normalized (`VectorSource`), so 1M vectors need no 1M texts
embedded; its stored text is its first source's text, numbered. Embeddings are cached in
`--cache-dir` between runs.

For each size the table gives `store.search(query=..., limit=10)` p50/p99 through `ChromaStore`
(embedding the query excluded: it is the same for any store), the p50 of an exact numpy scan of
the same vectors, their ratio, recall@10 against the exact scan, and the ingest ratio: texts per
second through `store.batch` (MiniLM embedding + writes) over the raw embedder's, on the same
real texts, alternating blocks so that the machine's load hits both alike, by the wall clock
and by the process's CPU time.

    .venv/bin/python benchmarks/memory_search.py [--sizes 10000,50000,100000,1000000]

Run it with `nice -n 19` on a shared machine. Embedding the 20,300 texts took about an hour on
2 busy cores (once: they are cached); loading 1M items takes about half an hour more.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import importlib.metadata
import json
import random
import re
import sysconfig
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langgraph.store.base import PutOp

from agentrun.memory import ChromaStore, MiniLMEmbedder

DIMENSIONS = 384
TOP_K = 10
NAMESPACE = ("bench", "chunks")
INGEST_NS = ("bench-ingest",)
#: Items per store.batch while loading.
LOAD_BATCH = 5000
#: Markers of the texts whose vectors are precomputed (no real text starts with them).
VECTOR, QUERY = "\x01", "\x02"
#: Texts per block of the ingest comparison.
INGEST_BLOCK = 64

WORDS_MIN, WORDS_MAX = 30, 120
DOC_ROOT = Path("/usr/share/doc")
_LETTERS = re.compile(r"[A-Za-z]")


def _paragraphs(text: str) -> Iterator[str]:
    for block in re.split(r"\n\s*\n", text):
        paragraph = " ".join(block.split())
        if paragraph and len(_LETTERS.findall(paragraph)) >= 0.6 * len(paragraph):
            yield paragraph


def _pieces(text: str) -> Iterator[str]:
    """Paragraphs of prose cut into pieces of WORDS_MIN..WORDS_MAX words."""
    for paragraph in _paragraphs(text):
        words = paragraph.split()
        for start in range(0, len(words), WORDS_MAX):
            piece = words[start : start + WORDS_MAX]
            if len(piece) >= WORDS_MIN:
                yield " ".join(piece)


def _distribution_texts() -> Iterator[str]:
    found = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata.get("Name") or ""
        found[name.lower()] = dist.metadata.get_payload() or dist.metadata.get("Description") or ""  # type: ignore[attr-defined]
    for name in sorted(found):
        yield str(found[name])


def _docstrings() -> Iterator[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.rglob("*.py")):
        if "test" in path.parts or "site-packages" in path.parts:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc:
                    yield doc


def _help_topics() -> Iterator[str]:
    from pydoc_data.topics import topics

    for name in sorted(topics):
        yield topics[name]


def _doc_files() -> Iterator[str]:
    if not DOC_ROOT.is_dir():
        return
    for path in sorted(DOC_ROOT.rglob("*")):
        if not path.is_file():
            continue
        try:
            data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            yield data.decode("utf-8")
        except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
            continue


def corpus_texts(count: int, seed: int = 0) -> list[str]:
    """`count` distinct pieces of real text, the same ones on every call (seeded order)."""
    seen: set[str] = set()
    pieces: list[str] = []
    for source in (_distribution_texts(), _docstrings(), _help_topics(), _doc_files()):
        for text in source:
            for piece in _pieces(text):
                digest = hashlib.blake2b(piece.lower().encode(), digest_size=12).hexdigest()
                if digest not in seen:
                    seen.add(digest)
                    pieces.append(piece)
    random.Random(seed).shuffle(pieces)
    if len(pieces) < count:
        raise SystemExit(f"only {len(pieces):,} distinct text pieces found; ask for fewer")
    return pieces[:count]


EMBED_BLOCK = 500


def real_embeddings(texts: list[str], cache_dir: Path) -> np.ndarray[Any, np.dtype[np.float32]]:
    """MiniLM vectors of `texts`, computed in blocks that are cached (a stopped run resumes)."""
    from agentrun.memory.minilm import shared_model

    cache_dir.mkdir(parents=True, exist_ok=True)
    blocks = []
    for start in range(0, len(texts), EMBED_BLOCK):
        part = texts[start : start + EMBED_BLOCK]
        digest = hashlib.blake2b("\n".join(part).encode(), digest_size=10).hexdigest()
        path = cache_dir / f"minilm-{digest}.npy"
        if path.is_file():
            blocks.append(np.load(path))
            continue
        began = time.perf_counter()
        vectors = shared_model().encode(part)
        np.save(path, vectors)
        blocks.append(vectors)
        print(f"  embedded {start + len(part):,}/{len(texts):,} "
              f"({len(part) / (time.perf_counter() - began):.1f} texts/s)", flush=True)  # fmt: skip
    return np.concatenate(blocks).astype(np.float32)


class VectorSource:
    """Vectors by index: the real ones, then seeded blends of them.

    Item `i` beyond the real ones is real vector `i mod R` plus `mix` (drawn in 0..`--mix`)
    times another real vector drawn at random, plus Gaussian noise (`--noise` per dimension),
    normalized: new points among the real ones, as more text on the same subjects would give,
    rather than tight clusters of near-copies (which no corpus has, and which HNSW cannot
    rank: its neighbour lists fill up with a point's own copies)."""

    def __init__(
        self, real: np.ndarray[Any, np.dtype[np.float32]], noise: float, mix: float
    ) -> None:
        self.real = real
        self.noise = noise
        self.mix = mix

    def vectors(self, start: int, stop: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        out = np.empty((stop - start, DIMENSIONS), dtype=np.float32)
        for row, index in enumerate(range(start, stop)):
            base = self.real[index % len(self.real)]
            if index < len(self.real):
                out[row] = base
                continue
            rng = np.random.default_rng(index)
            other = self.real[rng.integers(len(self.real))]
            blend = base + rng.uniform(0, self.mix) * other + rng.normal(0, self.noise, DIMENSIONS)
            out[row] = blend / np.linalg.norm(blend)
        return out


class BenchEmbedder:
    """MiniLM by name: vectors of `VECTOR<index> ...` texts come from a `VectorSource`, of
    `QUERY<j>` texts from the query vectors, and any other text is embedded by MiniLM itself."""

    name = MiniLMEmbedder.name
    dimensions = DIMENSIONS
    max_tokens = MiniLMEmbedder.max_tokens

    def __init__(
        self, source: VectorSource, queries: np.ndarray[Any, np.dtype[np.float32]]
    ) -> None:
        self.source = source
        self.queries = queries
        self.model = MiniLMEmbedder()

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def vector(self, text: str) -> list[float]:
        if text.startswith(VECTOR):
            index = int(text[len(VECTOR) :].split(" ", 1)[0])
            vector: list[float] = self.source.vectors(index, index + 1)[0].tolist()
            return vector
        query: list[float] = self.queries[int(text[len(QUERY) :])].tolist()
        return query

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if all(text.startswith((VECTOR, QUERY)) for text in texts):
            return [self.vector(text) for text in texts]
        return self.model.embed(texts)

    async def aembed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed(texts)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load(store: ChromaStore, texts: list[str], source: VectorSource, start: int, stop: int) -> None:
    """Items `start..stop` into the store, in the store's own batches (vectors precomputed)."""
    for first in range(start, stop, LOAD_BATCH):
        last = min(first + LOAD_BATCH, stop)
        store.batch(
            [
                PutOp(NAMESPACE, f"c{i:07d}", {"text": f"{VECTOR}{i} {texts[i % len(texts)]}"})
                for i in range(first, last)
            ]
        )


def search_row(
    store: ChromaStore, matrix: np.ndarray[Any, np.dtype[np.float32]], queries: np.ndarray[Any, Any]
) -> dict[str, float]:
    """p50/p99 of store.search, exact-scan p50 and recall@10 over the query vectors."""
    store.search(NAMESPACE[:1], query=f"{QUERY}0", limit=TOP_K)  # the index loads on first use
    timed, exact, hits = [], [], 0
    for j, query in enumerate(queries):
        began = time.perf_counter()
        found = store.search(NAMESPACE[:1], query=f"{QUERY}{j}", limit=TOP_K)
        timed.append(time.perf_counter() - began)
        began = time.perf_counter()
        scores = matrix @ query
        best = np.argpartition(-scores, TOP_K)[:TOP_K]
        best = best[np.argsort(-scores[best])]
        exact.append(time.perf_counter() - began)
        hits += len({f"c{i:07d}" for i in best} & {item.key for item in found})
    return {
        "p50": percentile(timed, 0.5),
        "p99": percentile(timed, 0.99),
        "exact": percentile(exact, 0.5),
        "recall": hits / (TOP_K * len(queries)),
    }


def ingest_ratio(
    store: ChromaStore, texts: list[str], size: int, blocks: int
) -> tuple[float, float]:
    """Texts/s through store.batch (MiniLM + writes) over the raw embedder's, same texts, in
    blocks taking turns to go first, so that drift in the machine's load hits both alike
    (written under their own namespace, then deleted). Wall-clock and CPU-time ratios: on a
    shared machine the wall clock mostly measures the neighbours."""
    model = MiniLMEmbedder()
    model.embed(["warm up"])
    wall = {"raw": 0.0, "store": 0.0}
    cpu = {"raw": 0.0, "store": 0.0}
    for block in range(blocks):
        part = texts[block * INGEST_BLOCK : (block + 1) * INGEST_BLOCK]
        puts = [PutOp(INGEST_NS, f"{size}-{block}-{i}", {"text": t}) for i, t in enumerate(part)]
        for side in ("raw", "store") if block % 2 == 0 else ("store", "raw"):
            began, began_cpu = time.perf_counter(), time.process_time()
            if side == "raw":
                model.embed(part)
            else:
                store.batch(puts)
            wall[side] += time.perf_counter() - began
            cpu[side] += time.process_time() - began_cpu
    for block in range(blocks):
        store.batch([PutOp(INGEST_NS, f"{size}-{block}-{i}", None) for i in range(INGEST_BLOCK)])
    return wall["raw"] / wall["store"], cpu["raw"] / cpu["store"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10000,50000,100000,1000000")
    parser.add_argument("--real", type=int, default=20_000, help="real texts indexed")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--noise", type=float, default=0.02)
    parser.add_argument("--mix", type=float, default=0.5)
    parser.add_argument("--ingest-blocks", type=int, default=6)
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "agentrun-bench-vectors"
    )
    parser.add_argument(
        "--store-dir", type=Path, help="keep the store here (default: a temporary one)"
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    began = time.perf_counter()
    listing = args.cache_dir / f"corpus-{args.real + args.queries}.json"
    if listing.is_file():
        texts = json.loads(listing.read_text(encoding="utf-8"))
    else:
        texts = corpus_texts(args.real + args.queries)
        args.cache_dir.mkdir(parents=True, exist_ok=True)
        listing.write_text(json.dumps(texts), encoding="utf-8")
    vectors = real_embeddings(texts, args.cache_dir)
    real, queries = vectors[: args.real], vectors[args.real :]
    source = VectorSource(real, args.noise, args.mix)
    print(f"corpus: {args.real:,} real texts indexed, {args.queries} other real texts as queries "
          f"(ready in {time.perf_counter() - began:.0f} s); beyond {args.real:,} items: "
          f"a real vector + U(0, {args.mix}) x another + N(0, {args.noise}) noise")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="agentrun-search-") as folder:
        path = args.store_dir or Path(folder) / "store"
        embedder = BenchEmbedder(source, queries)
        rows = []
        with ChromaStore.persistent(path, embedder) as store:
            loaded = 0
            matrix = np.empty((0, DIMENSIONS), dtype=np.float32)
            for size in sizes:
                started = time.perf_counter()
                load(store, texts, source, loaded, size)
                load_s = time.perf_counter() - started
                matrix = np.concatenate([matrix, source.vectors(loaded, size)])
                loaded = size
                row = search_row(store, matrix, queries)
                row["ingest"], row["ingest_cpu"] = ingest_ratio(
                    store, texts, size, args.ingest_blocks
                )
                row.update(size=size, load=load_s)
                rows.append(row)
                print(f"  {size:>9,} items loaded in {load_s:,.0f} s", flush=True)
    print(f"\n{'size':>10} {'p50 ms':>8} {'p99 ms':>8} {'exact p50':>10} {'ratio':>6} "
          f"{'recall@10':>10} {'ingest':>7} {'(cpu)':>6}")  # fmt: skip
    for row in rows:
        print(f"{row['size']:>10,} {row['p50'] * 1000:>8.2f} {row['p99'] * 1000:>8.2f} "
              f"{row['exact'] * 1000:>10.2f} {row['p50'] / row['exact']:>6.2f} "
              f"{row['recall']:>10.3f} {row['ingest']:>7.2f} "
              f"{row['ingest_cpu']:>6.2f}")  # fmt: skip
    print("ratio: store p50 / exact p50; ingest: store texts/s / raw embedder texts/s "
          "(wall clock; cpu: by process CPU time)")  # fmt: skip


if __name__ == "__main__":
    main()
