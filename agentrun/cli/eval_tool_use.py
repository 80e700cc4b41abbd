"""`agentrun eval tool-use`: an agent with tools against the same model without them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from agentrun.cli._common import console, err_console, option_error, state


def command(
    ctx: typer.Context,
    model: str = typer.Option("local/smollm2", help="Any LiteLLM model name, or local/smollm2."),
    strategies: str = typer.Option("tools,no-tools", help="Comma-separated: tools, no-tools."),
    tasks: int = typer.Option(12, "--tasks", "-n", help="Number of generated tasks."),
    seed: int = typer.Option(0, help="Seeds the world and the tasks (same seed, same tasks)."),
    max_steps: int = typer.Option(8, help="Model calls an agent may make per task."),
    max_tokens: int = typer.Option(256, help="Output tokens per model call."),
    out_dir: Path | None = typer.Option(
        None,
        help="Output directory (default <data dir>/evals/tool-use-<settings id>); finished "
        "tasks in it are kept and skipped, so re-running continues.",
    ),
    cache: bool = typer.Option(False, help="Reuse cached replies (off: tokens are measured)."),
) -> None:
    """Task success, tool calls and tokens on multi-step look-up tasks, against no tools."""
    from pydantic import ValidationError

    from agentrun.agents import Gateway
    from agentrun.evals.tool_use import REPORT_JSON, REPORT_PNG, ToolUseEvalConfig, arun_eval
    from agentrun.graphs.runtime import run_sync
    from agentrun.settings import data_dir as resolve_data_dir

    try:
        config = ToolUseEvalConfig(
            model=model, tasks=tasks, seed=seed, max_steps=max_steps, max_tokens=max_tokens,
            strategies=[s.strip() for s in strategies.split(",") if s.strip()],
        )  # fmt: skip
    except ValidationError as exc:
        raise option_error(exc) from None
    root = resolve_data_dir(state(ctx).data_dir)
    out = out_dir or root / "evals" / f"tool-use-{config.fingerprint()}"
    errors = err_console()
    errors.print(f"writing to {out} (the same command continues it)", markup=False)
    started = time.perf_counter()

    def progress(row: dict[str, Any]) -> None:
        verdict = "right" if row["success"] else "wrong"
        errors.print(
            f"{row['strategy']} {row['item_id']}: {verdict} ({row['found']} for "
            f"{row['expected']}), {row['tool_calls']} tool calls, "
            f"{row['prompt_tokens'] + row['completion_tokens']} tokens  "
            f"{time.perf_counter() - started:.0f} s",
            markup=False,
        )

    async def main() -> dict[str, Any]:
        async with Gateway(data_dir=root, cache=cache) as gateway:
            return await arun_eval(config, out, gateway=gateway, on_task=progress)

    report = run_sync(main())
    render(report)
    console().print(f"report: {out / REPORT_JSON}\nplot:   {out / REPORT_PNG}", markup=False)


def render(report: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"tool use: {report['config']['model']}, seed {report['config']['seed']}")
    for name in ("strategy", "tasks", "kind", "success", "tool calls", "tokens/task"):
        table.add_column(name, justify="left" if name in ("strategy", "kind") else "right")
    for strategy, parts in report["summary"].items():
        rows = {"all": parts["overall"], **parts["by_kind"]}
        for kind, row in rows.items():
            if not row["tasks"]:
                continue
            table.add_row(strategy, str(row["tasks"]), kind, f"{row['success']:.2f}",
                          f"{row['mean_tool_calls']:.1f}", f"{row['mean_tokens']:.0f}")  # fmt: skip
    console().print(table)
