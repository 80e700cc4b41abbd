"""Chain of agents over generated documents of 1M, 3M and 10M tokens, fake server at 0 ms.

Each size runs in a fresh process (so peak memory is its own): `ChainOfAgents` with its defaults
in a fresh data directory, the document generated as in `peers.py`. Reports the time to split
and keep the document (chunking), the run's time per chunk after that, and the peak resident
memory over the process before the document was made (the document included), as a multiple
of the document's size. Peak memory varies from one process to the next by a tenth or more
(the allocator's arenas, when the collector runs), so each size runs `--repeats` times and the
row is the run with the median peak, with the range of all.

    .venv/bin/python benchmarks/scale.py [--sizes 1000000 3000000 10000000] [--repeats 3]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def memory_bytes(field: str) -> int:
    """`VmRSS` (resident now) or `VmHWM` (its peak) of this process, from Linux's /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} is not in /proc/self/status")


def reset_peak() -> None:
    """Start VmHWM again from the resident size now (Linux: 5 > /proc/self/clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


async def child(tokens: int) -> dict[str, Any]:
    """(child) One run over a document of about `tokens` tokens; its figures."""
    from peers import QUESTION, WINDOW, generated_document, start_server

    from agentrun.agents import Gateway, GatewayConfig, ModelConfig
    from agentrun.graphs import long_doc
    from agentrun.graphs.chain_of_agents import ChainOfAgents, ChainOfAgentsConfig

    server, url = start_server(0.0)  # its own process: its memory and CPU are not the run's
    chunking: list[float] = []
    prepare = long_doc.prepare_document

    async def timed_prepare(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await prepare(*args, **kwargs)
        finally:
            chunking.append(time.perf_counter() - started)

    long_doc.prepare_document = timed_prepare  # type: ignore[assignment]
    model = ModelConfig(
        model="openai/fake", api_base=url, context_window=WINDOW, tokens_per_cl100k=1.0,
        max_concurrency=1,
    )  # fmt: skip

    async def chain(document: str) -> tuple[Any, float]:
        with tempfile.TemporaryDirectory(prefix="agentrun-scale-") as data_dir:
            started = time.perf_counter()
            config = GatewayConfig(models={"fake": model})
            async with Gateway(config, data_dir=data_dir) as gateway:
                flow = ChainOfAgents(
                    ChainOfAgentsConfig(model="fake"), gateway=gateway, data_dir=data_dir
                )
                result = await flow.arun(document, QUESTION)
            return result, time.perf_counter() - started

    try:
        await chain(generated_document(20_000))  # imports and first-use costs, not the document's
        chunking.clear()
        before = memory_bytes("VmRSS")
        document = generated_document(tokens)
        assert document.isascii()  # so its size in bytes is its length
        reset_peak()  # the peak of generating it is the benchmark's, not the run's
        result, seconds = await chain(document)
    finally:
        server.terminate()  # also when the run fails: no server is left behind
    size, peak = len(document), memory_bytes("VmHWM") - before
    return {
        "tokens": result.document_tokens,
        "bytes": size,
        "chunks": result.chunk_count,
        "model_calls": result.usage["model_calls"],
        "answer": result.answer,
        "chunking_s": chunking[0],
        "run_s": seconds,
        "s_per_chunk": (seconds - chunking[0]) / result.chunk_count,
        "peak_memory_x_input": peak / size,
        "load_average": round(os.getloadavg()[0], 1),
    }


def run_child(tokens: int) -> dict[str, Any]:
    """One run over `tokens` tokens in a fresh process; its figures."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(tokens)], capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per size")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child))))
        return
    rows = []
    print("| tokens | chunks | chunking s | s per chunk | peak memory / input | load |")
    print("|---|---|---|---|---|---|")
    for tokens in args.sizes:
        runs = sorted(
            (run_child(tokens) for _ in range(args.repeats)),
            key=lambda run: run["peak_memory_x_input"],
        )
        row = {
            **runs[len(runs) // 2],
            "repeats": len(runs),
            "peak_memory_range": [runs[0]["peak_memory_x_input"], runs[-1]["peak_memory_x_input"]],
        }
        rows.append(row)
        low, high = row["peak_memory_range"]
        print(
            f"| {row['tokens']:,} | {row['chunks']} | {row['chunking_s']:.2f} | "
            f"{row['s_per_chunk'] * 1000:.1f} ms | {row['peak_memory_x_input']:.2f}x "
            f"({low:.2f}-{high:.2f}x) | {row['load_average']} |",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
