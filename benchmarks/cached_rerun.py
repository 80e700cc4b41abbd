"""The demo run uncached on the embedded model, then again with every model call cached.

In a fresh data directory: `agentrun run` of the demo (examples/chain_of_agents.yaml on
harbor_town.md) once with the response cache empty, then `--repeats` times as a re-run (every
call a cache hit), and `--repeats` times in another fresh data directory holding only the
response cache (the document is split and stored again). For each it prints the CLI's wall
time end to end, and the run itself as the run record has it (`meta.json`, started to finished:
the store, checkpoints and gateway opened and closed, lazy imports included). Separately: the
start-up floor (`agentrun --version`), the import of everything a run uses, and the cached
re-run inside a process that has imported it all. Ratios are first run / cached run.

    .venv/bin/python benchmarks/cached_rerun.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = ROOT / "examples" / "chain_of_agents.yaml"
DOCUMENT = ROOT / "agentrun" / "data" / "demo" / "harbor_town.md"
CLI = [str(Path(sys.executable).parent / "agentrun")]
#: What a run of the demo imports, for timing imports apart from the run.
RUN_MODULES = (
    "agentrun.pipeline",
    "agentrun.graphs.chain_of_agents",
    "agentrun.memory.store",
    "agentrun.memory.checkpoint",
    "chromadb",
    "chromadb.api.rust",
    "filelock",
    "langgraph.checkpoint.sqlite.aio",
    "llama_cpp",
    "jinja2.sandbox",
)


def cli(*args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=ROOT, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"agentrun {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return wall, done.stdout


def run_demo(data_dir: Path) -> dict[str, float]:
    """One `agentrun run` of the demo: wall time, the run record's time, cache hits."""
    wall, out = cli("--data-dir", str(data_dir), "run", str(PIPELINE), "--no-stream",
                    "--input", f"document=@{DOCUMENT}")  # fmt: skip
    thread = next(line.split()[-1] for line in out.splitlines() if line.startswith("thread:"))
    run = data_dir / "runs" / thread
    meta = json.loads((run / "meta.json").read_text())
    usage = json.loads((run / "result.json").read_text())["usage"]
    return {
        "wall": wall,
        "run": meta["finished"] - meta["started"],
        "model_calls": usage["model_calls"],
        "cache_hits": usage["cache_hits"],
    }


def in_process(data_dir: Path) -> None:
    """(child) Import what a run uses, then run the demo; print both times as JSON."""
    import importlib

    started = time.perf_counter()
    for module in RUN_MODULES:
        importlib.import_module(module)
    imported = time.perf_counter()
    from agentrun.pipeline import load_pipeline

    result = load_pipeline(PIPELINE).run(
        {"document": DOCUMENT.read_text(encoding="utf-8")}, data_dir=data_dir
    )
    done = time.perf_counter()
    print(json.dumps({"imports": imported - started, "run": done - imported,
                      "model_calls": result.usage["model_calls"]}))  # fmt: skip


def child(data_dir: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(data_dir)],
        capture_output=True, text=True, cwd=ROOT, check=True,
    ).stdout  # fmt: skip
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def median(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        in_process(args.child)
        return
    with tempfile.TemporaryDirectory(prefix="agentrun-rerun-") as folder:
        first_dir, fresh_dir = Path(folder) / "first", Path(folder) / "fresh"
        version = [cli("--version")[0] for _ in range(args.repeats)]
        first = run_demo(first_dir)
        if first["model_calls"] == 0:
            raise SystemExit("the first run was served from a cache; it must call the model")
        again = [run_demo(first_dir) for _ in range(args.repeats)]
        fresh = []
        for _ in range(args.repeats):
            shutil.rmtree(fresh_dir, ignore_errors=True)
            shutil.copytree(first_dir / "cache", fresh_dir / "cache")
            fresh.append(run_demo(fresh_dir))
        warm = [child(first_dir) for _ in range(args.repeats)]
    for rows in (again, fresh):
        if any(row["model_calls"] for row in rows):
            raise SystemExit("a cached run called the model")
    print(f"demo: {PIPELINE.name} on {DOCUMENT.name}; medians of {args.repeats} (first run: 1)")
    print(f"  agentrun --version                  wall {statistics.median(version):7.2f} s")
    print(f"  import of what a run uses           {median(warm, 'imports'):12.2f} s")
    print(f"  first run, uncached ({first['model_calls']:.0f} calls)       "
          f"wall {first['wall']:7.2f} s   run {first['run']:7.2f} s")  # fmt: skip
    for label, rows in (("re-run, all cached", again), ("cached, fresh store", fresh)):
        wall, run = median(rows, "wall"), median(rows, "run")
        print(
            f"  {label:<35} wall {wall:7.2f} s   run {run:7.2f} s   "
            f"ratio wall {first['wall'] / wall:5.1f}x  run {first['run'] / run:5.1f}x"
        )
    run = median(warm, "run")
    print(
        f"  re-run in a process with imports done            run {run:7.2f} s   "
        f"ratio run {first['run'] / run:5.1f}x"
    )


if __name__ == "__main__":
    main()
