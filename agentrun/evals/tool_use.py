"""The tool-use eval: generated tasks that need several tool calls, with exact answers.

A seeded world of harbour stock: notes in memory ("The north depot holds 47 lamps.") and price
files (`prices/lamps.txt`: "One lamp costs 12 coins."). Each task needs look-ups in both and
arithmetic over what was found, and has one integer answer:

- `worth`: what the lamps in the north depot are worth (a search, a read, a product);
- `together`: how many lamps two depots hold together (two searches, a sum);
- `difference`: how much more one lamp costs than one rope (two reads, a difference).

Strategies: `tools` (the agent loop with memory.search, file.read, file.list and
`math.calculate`) against `no-tools` (the same model asked directly, a baseline that can only
guess). A task succeeds when the last number of the answer is the expected one. The report
gives success, tool calls and tokens per strategy and task kind (`report.json`, `tool_use.png`);
finished tasks are appended to `results.jsonl` at once and skipped on a re-run.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel, ConfigDict, Field

from agentrun.agents.config import LOCAL_MODEL
from agentrun.agents.gateway import Gateway
from agentrun.evals.report import ResultLog, latest, prepare_out_dir, write_json
from agentrun.graphs.tool_agent import ToolAgent
from agentrun.memory.namespaces import CHUNKS, records_ns
from agentrun.settings import open_private, private_dir, write_private
from agentrun.tools.function import tool

Strategy = Literal["tools", "no-tools"]
Kind = Literal["worth", "together", "difference"]
STRATEGIES: tuple[Strategy, ...] = ("tools", "no-tools")
KINDS: tuple[Kind, ...] = ("worth", "together", "difference")
NAMESPACE = ("tool-use",)
REPORT_JSON = "report.json"
REPORT_PNG = "tool_use.png"
TOOLS = ["memory.search", "file.read", "file.list"]
PLACES = ("north depot", "east pier", "old mill", "south quay", "harbour store", "west gate",
          "fish market", "rope walk")  # fmt: skip
GOODS = ("lamps", "ropes", "barrels", "sails", "anchors", "lanterns", "nets", "oars")
WITH_TOOLS = (
    "Answer the question with your tools: memory.search finds notes on stock, file.read reads "
    "the price files (prices/<goods>.txt; file.list lists them), math.calculate does the "
    "arithmetic. End your answer with the number."
)
WITHOUT_TOOLS = "Answer the question. End your answer with the number."

TaskCallback = Callable[[dict[str, Any]], None]


@tool(name="math.calculate")
def calculate(a: float, op: Literal["+", "-", "*", "/"], b: float) -> float | int:
    """Arithmetic on two numbers.

    Args:
        a: The first number.
        op: One of + - * /.
        b: The second number.
    """
    value = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else float("nan")}[op]
    return int(value) if float(value).is_integer() else value


class ToolUseEvalConfig(BaseModel):
    """What one eval run measures; its fingerprint keys the saved results."""

    model_config = ConfigDict(extra="forbid")

    model: str = LOCAL_MODEL
    strategies: list[Strategy] = Field(default_factory=lambda: list(STRATEGIES), min_length=1)
    tasks: int = Field(default=12, ge=1)
    seed: int = 0
    max_steps: int = Field(default=8, ge=1, le=100)
    max_tokens: int = Field(default=256, gt=0)

    def fingerprint(self) -> str:
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]


# --- the generated world and tasks --------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """Stock per (place, goods) in memory; a price per goods in files."""

    stock: dict[tuple[str, str], int]
    prices: dict[str, int]

    def notes(self) -> dict[str, str]:
        return {
            f"{place}-{goods}".replace(" ", "-"): f"The {place} holds {count} {goods}."
            for (place, goods), count in sorted(self.stock.items())
        }

    def files(self) -> dict[str, str]:
        return {
            f"prices/{goods}.txt": f"One of the {goods} costs {price} coins."
            for goods, price in sorted(self.prices.items())
        }


@dataclass(frozen=True)
class Task:
    id: str
    kind: Kind
    question: str
    answer: int


def generate(seed: int, count: int) -> tuple[World, list[Task]]:
    """A world and `count` tasks over it, the same for the same seed."""
    rng = random.Random(seed)
    stock = {(p, g): rng.randint(3, 60) for p in PLACES for g in GOODS if rng.random() < 0.6}
    prices = {goods: rng.randint(2, 40) for goods in GOODS}
    by_goods: dict[str, list[str]] = {}
    for place, goods in stock:
        by_goods.setdefault(goods, []).append(place)
    tasks: list[Task] = []
    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        task_id = f"{kind}-{index}"
        if kind == "worth":
            place, goods = rng.choice(sorted(stock))
            question = f"What are the {goods} in the {place} worth together, in coins?"
            tasks.append(Task(task_id, kind, question, stock[(place, goods)] * prices[goods]))
        elif kind == "together":
            goods = rng.choice(sorted(g for g, places in by_goods.items() if len(places) >= 2))
            first, second = rng.sample(sorted(by_goods[goods]), 2)
            question = f"How many {goods} do the {first} and the {second} hold together?"
            total = stock[(first, goods)] + stock[(second, goods)]
            tasks.append(Task(task_id, kind, question, total))
        else:
            dear, cheap = sorted(rng.sample(GOODS, 2), key=lambda g: -prices[g])
            if prices[dear] == prices[cheap]:
                prices[dear] += 1
            question = f"How many coins more does one of the {dear} cost than one of the {cheap}?"
            tasks.append(Task(task_id, kind, question, prices[dear] - prices[cheap]))
    return World(stock, prices), tasks


def last_number(text: str) -> int | None:
    """The last number in a reply (`1,234` and `564.0` read as integers), or None."""
    found = re.findall(r"-?\d[\d,]*(?:\.\d+)?", text)
    if not found:
        return None
    value = float(found[-1].replace(",", ""))
    return int(value) if value.is_integer() else None


# --- running -----------------------------------------------------------------------------------


def write_world(world: World, folder: Path) -> Path:
    """The price files, under `folder` (owner-only, like every eval output)."""
    private_dir(folder)
    for relative, text in world.files().items():
        write_private(folder / relative, text)
    return folder


async def run_task(
    task: Task,
    strategy: Strategy,
    config: ToolUseEvalConfig,
    *,
    gateway: Gateway,
    store: Any,
    files: Path,
) -> dict[str, Any]:
    """One task on one strategy: the answer, whether it is right, its tool calls and tokens."""
    tools = strategy == "tools"
    agent = ToolAgent(
        {"model": config.model, "tools": TOOLS if tools else [], "max_steps": config.max_steps,
         "max_tokens": config.max_tokens, "file_roots": [str(files)] if tools else [],
         "system": WITH_TOOLS if tools else WITHOUT_TOOLS},
        tools=[calculate] if tools else [], gateway=gateway, store=store,
        checkpointer=InMemorySaver(), namespace=NAMESPACE,
    )  # fmt: skip
    started = time.perf_counter()
    thread = f"{strategy}-{task.id}-{uuid.uuid4().hex[:8]}"
    error: str | None = None
    answer, steps, tool_calls, usage = "", 0, 0, {}
    try:
        result = await agent.arun(task.question, thread_id=thread)
        answer, steps, tool_calls, usage = (
            result.answer, result.steps, result.tool_calls, result.usage,
        )  # fmt: skip
    except Exception as exc:  # a failed task (the step limit, say) counts as a failure
        error = f"{type(exc).__name__}: {exc}"
        spent = gateway.ledger.total(run_id=thread)  # what it spent before it failed
        tool_calls, usage = spent.tool_calls, spent.to_dict()
    found = last_number(answer)
    return {
        "strategy": strategy, "item_id": task.id, "kind": task.kind, "question": task.question,
        "expected": task.answer, "answer": answer, "found": found,
        "success": found == task.answer, "steps": steps, "tool_calls": tool_calls,
        "prompt_tokens": usage.get("prompt_tokens", 0),
        "completion_tokens": usage.get("completion_tokens", 0),
        "seconds": round(time.perf_counter() - started, 3), "error": error,
    }  # fmt: skip


async def arun_eval(
    config: ToolUseEvalConfig,
    out_dir: Path,
    *,
    gateway: Gateway,
    on_task: TaskCallback | None = None,
) -> dict[str, Any]:
    """Run every (strategy, task) not already in `out_dir`, then write the report and plot."""
    from agentrun.memory.inmemory import in_memory_store

    prepare_out_dir(out_dir, {"eval": "tool-use", **config.model_dump(mode="json")})
    world, tasks = generate(config.seed, config.tasks)
    files = write_world(world, out_dir / "world")
    store = in_memory_store()
    for key, text in world.notes().items():
        await store.aput(records_ns(NAMESPACE, CHUNKS), key, {"text": text, "source": "notes"})
    log = ResultLog(out_dir)
    fingerprint = config.fingerprint()
    done = {key for key, row in latest(log.read()).items() if row.get("fingerprint") == fingerprint}
    for strategy in config.strategies:
        for task in tasks:
            if (strategy, task.id) in done:
                continue
            row = await run_task(task, strategy, config, gateway=gateway, store=store, files=files)
            row["fingerprint"] = fingerprint
            log.append(row)
            if on_task is not None:
                on_task(row)
    rows = [row for row in latest(log.read()).values() if row.get("fingerprint") == fingerprint]
    report = {"config": config.model_dump(mode="json"), "summary": summarize(rows, config),
              "tasks": rows}  # fmt: skip
    write_json(out_dir / REPORT_JSON, report)
    plot(report, out_dir / REPORT_PNG)
    return report


def summarize(rows: Sequence[dict[str, Any]], config: ToolUseEvalConfig) -> dict[str, Any]:
    """Per strategy: success rate, mean tool calls and tokens, overall and by task kind."""

    def totals(selected: list[dict[str, Any]]) -> dict[str, Any]:
        count = len(selected)
        if not count:
            return {"tasks": 0, "success": None, "mean_tool_calls": None, "mean_tokens": None}
        tokens = sum(r["prompt_tokens"] + r["completion_tokens"] for r in selected)
        return {
            "tasks": count,
            "success": sum(bool(r["success"]) for r in selected) / count,
            "mean_tool_calls": sum(r["tool_calls"] for r in selected) / count,
            "mean_tokens": tokens / count,
            "failed_runs": sum(r["error"] is not None for r in selected),
        }

    summary: dict[str, Any] = {}
    for strategy in config.strategies:
        mine = [row for row in rows if row["strategy"] == strategy]
        by_kind = {kind: totals([r for r in mine if r["kind"] == kind]) for kind in KINDS}
        summary[strategy] = {"overall": totals(mine), "by_kind": by_kind}
    return summary


def plot(report: dict[str, Any], path: Path) -> Path:
    """Success rate by task kind, and tokens per task, for each strategy."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    summary = report["summary"]
    figure = Figure(figsize=(10.0, 4.0), dpi=100)
    FigureCanvasAgg(figure)
    success, tokens = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    groups = ["overall", *KINDS]
    width = 0.8 / max(1, len(summary))
    for offset, (strategy, parts) in enumerate(summary.items()):
        rows = [parts["overall"], *(parts["by_kind"][kind] for kind in KINDS)]
        xs = [i + offset * width for i in range(len(groups))]
        success.bar(xs, [row["success"] or 0.0 for row in rows], width, label=strategy)
        tokens.bar(offset, parts["overall"]["mean_tokens"] or 0.0, 0.6, label=strategy)
    success.set_xticks([i + width * (len(summary) - 1) / 2 for i in range(len(groups))], groups)
    success.set_ylim(0, 1.02)
    success.set_ylabel("task success")
    success.legend(fontsize="small")
    tokens.set_xticks(range(len(summary)), list(summary))
    tokens.set_ylabel("tokens per task")
    figure.suptitle(f"tool use: {report['config']['model']}")
    figure.tight_layout()
    with open_private(path, "wb") as handle:
        figure.savefig(handle, format="png")
    return path


__all__ = [
    "REPORT_JSON",
    "REPORT_PNG",
    "Task",
    "ToolUseEvalConfig",
    "World",
    "arun_eval",
    "calculate",
    "generate",
    "last_number",
]
