"""Write docs/performance.md (and its plots) from fresh runs of peers.py and scale.py.

Runs `peers.py` (chain of agents against the hand loop and its peers, and the gateway per call)
and `scale.py` (1M / 3M / 10M tokens, or the sizes given), then writes the page with the machine,
the date, the load average and only the figures those runs printed.

    .venv/bin/python benchmarks/performance.py [--rounds 5] [--sizes 1000000 3000000 10000000]

`--peers-json` and `--scale-json` write the page from the `--json` output of earlier runs of
the two scripts instead (the page then names those commands).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent / "docs"
PAGE = DOCS / "performance.md"
PLOTS = DOCS / "performance"


def run(script: str, *args: str) -> Any:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([sys.executable, str(HERE / script), *args, "--json", out.name], check=True)
        return json.loads(Path(out.name).read_text())


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def plot_peers(rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 0.6 + 0.5 * len(rows)))
    names = [row["strategy"] for row in rows][::-1]
    axes.barh(names, [row["ratio"] for row in rows][::-1], color="#4c72b0")
    axes.axvline(1.10, color="#c44e52", linestyle="--", label="1.10x")
    axes.set_xlabel("wall time / hand-written loop, same prompts (median of interleaved rounds)")
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(PLOTS / "peers.png", dpi=110)
    plt.close(figure)


def plot_scale(rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    tokens = [row["tokens"] / 1e6 for row in rows]
    left.plot(tokens, [row["s_per_chunk"] * 1000 for row in rows], marker="o")
    left.set_xlabel("document, million tokens")
    left.set_ylabel("ms per chunk")
    left.set_ylim(bottom=0)
    right.plot(tokens, [row["chunking_s"] for row in rows], marker="o", label="chunking s")
    right.plot(tokens, [row["peak_memory_x_input"] for row in rows], marker="s",
               label="peak memory / input")  # fmt: skip
    right.set_xlabel("document, million tokens")
    right.set_ylim(bottom=0)
    right.legend()
    figure.tight_layout()
    figure.savefig(PLOTS / "scale.png", dpi=110)
    plt.close(figure)


def peak_range(row: dict[str, Any]) -> str:
    """` (low-high x)` over a size's repeated runs, when it was repeated."""
    low, high = row.get("peak_memory_range") or (None, None)
    return "" if low is None else f" ({low:.2f}-{high:.2f}x)"


def page(peers: dict[str, Any], scale: list[dict[str, Any]], command: str) -> str:
    machine = peers["machine"]
    lines = [
        "# Performance",
        "",
        f"Produced by `{command}` on {machine['date']}: {cpu_model()}, {os.cpu_count()} cores, "
        f"Python {machine['python']}, load average {machine['load_average']} when the peers "
        "run ended. The machine was shared: absolute times move with its load, so every "
        "comparison is a ratio between runs interleaved in one process.",
        "",
        "## Chain of agents against a hand-written loop and its peers",
        "",
        "A generated document with one fact in it and one question, on the loopback fake "
        "server (`benchmarks/peers.py`, 50 ms per reply). The hand loop, bare LangGraph and "
        "agentrun use the same prompts; LlamaIndex runs its own. agentrun runs with its defaults "
        "(SQLite checkpoints, response cache, memory store opened only if used) in a fresh data "
        "directory each time; for a model other than the embedded one they give the paper's "
        "summary workers (`cu_format: auto`). The evidence rows use chain of agents' evidence "
        "prompts (the embedded model's default), which show each chunk as numbered sentences "
        "for citing: the numbers are why their prompt tokens per document exceed 1. Each row's "
        "ratio is to the hand loop with its prompts.",
        "",
        *(
            [f"Document: {peers['document_tokens']:,} cl100k tokens.", ""]
            if "document_tokens" in peers
            else []
        ),
        "| strategy | model calls | prompt tokens / document | median s | vs its hand loop |",
        "|---|---|---|---|---|",
    ]
    for row in peers["peers"]:
        lines.append(
            f"| {row['strategy']} | {row['model_calls']} | "
            f"{row['prompt_tokens_per_document']:.3f} | {row['median_s']:.2f} | "
            f"{row['ratio']:.2f} |"
        )
    if peers.get("skipped"):
        lines += ["", peers["skipped"] + "."]
    lines += [
        "",
        "![ratios](performance/peers.png)",
        "",
        "## The gateway per call",
        "",
        "The same fake server at 0 ms, calls rotated among the three clients "
        "(`benchmarks/gateway_overhead.py`).",
        "",
        "| mode | raw LiteLLM ms/call | gateway ms/call | openai SDK ms/call | gateway / raw | "
        "gateway / SDK |",
        "|---|---|---|---|---|---|",
    ]
    for mode, row in peers["per_call"].items():
        lines.append(
            f"| {mode} ({row['calls']:.0f} calls) | {row['raw_ms_per_call']:.2f} | "
            f"{row['gateway_ms_per_call']:.2f} | {row['sdk_ms_per_call']:.2f} | "
            f"{row['gateway_vs_raw']:.3f} | {row['gateway_vs_sdk']:.3f} |"
        )
    lines += [
        "",
        "## Scale",
        "",
        "Chain of agents over generated documents, fake server at 0 ms (`benchmarks/scale.py`, "
        "one process per size). Chunking is splitting the document for the model and keeping "
        "its chunks; time per chunk is the rest of the run divided by the chunks; peak memory is "
        "the process's peak over its size before the document was made (the document "
        "included), over the document's size in bytes; each size ran in several fresh "
        "processes, and the row is the run with the median peak (the range of all in "
        "brackets).",
        "",
        "| tokens | chunks | chunking s | ms per chunk | peak memory / input | load |",
        "|---|---|---|---|---|---|",
    ]
    for row in scale:
        lines.append(
            f"| {row['tokens']:,} | {row['chunks']} | {row['chunking_s']:.2f} | "
            f"{row['s_per_chunk'] * 1000:.1f} | {row['peak_memory_x_input']:.2f}x"
            f"{peak_range(row)} | {row['load_average']} |"
        )
    lines += ["", "![scale](performance/scale.png)", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--peers-json", type=Path, help="peers.py --json output to use")
    parser.add_argument("--scale-json", type=Path, help="scale.py --json output to use")
    parser.add_argument("--repeats", type=int, default=3, help="scale.py runs per size")
    args = parser.parse_args()
    sizes = " ".join(map(str, args.sizes))
    if args.peers_json and args.scale_json:
        peers = json.loads(args.peers_json.read_text())
        scale = json.loads(args.scale_json.read_text())
        command = (
            f"python benchmarks/peers.py --rounds {args.rounds}` and "
            f"`python benchmarks/scale.py --sizes {sizes} --repeats {args.repeats}"
        )
    else:
        peers = run("peers.py", "--rounds", str(args.rounds))
        scale = run("scale.py", "--sizes", *map(str, args.sizes), "--repeats", str(args.repeats))
        command = (
            f"python benchmarks/performance.py --rounds {args.rounds} --sizes {sizes} "
            f"--repeats {args.repeats}"
        )
    PLOTS.mkdir(parents=True, exist_ok=True)
    plot_peers(peers["peers"])
    plot_scale(scale)
    PAGE.write_text(page(peers, scale, command), encoding="utf-8")
    print(f"wrote {PAGE} at {time.strftime('%H:%M')}")


if __name__ == "__main__":
    main()
