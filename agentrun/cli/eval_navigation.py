"""`agentrun eval navigation`: PReP vs ReAct on seeded city tasks, or `--task tour`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from agentrun.cli._common import console, err_console, option_error, state
from agentrun.cli.eval_long_doc_qa import REPORT, write_report


def command(
    ctx: typer.Context,
    task: str = typer.Option("city", help="city (PReP vs baseline) or tour (goal frames)."),
    model: str = typer.Option("local/smollm2", help="Any LiteLLM model name, or local/smollm2."),
    strategies: str = typer.Option(
        "prep,react",
        help="Comma-separated: prep, react, ranked (PReP with code choosing every exit).",
    ),
    perception: str = typer.Option(
        "text", help="text (the simulator's text observation) or image (a VLM reads the map)."
    ),
    chooser: str = typer.Option(
        "model",
        help="model, or oracle: a scripted chooser picks the listed move nearest the goal by "
        "true hops (the ceiling of the choice step; no model is called).",
    ),
    candidates: int = typer.Option(3, help="PReP: top-ranked moves the model chooses among."),
    decision_tokens: int = typer.Option(16, help="Most tokens a choice reply may take."),
    seed: int = typer.Option(
        0, help="Seeds the city and the tasks (same seed, same tasks; any other is held out)."
    ),
    tasks: int = typer.Option(
        20, "--tasks", "-n", help="Number of tasks (more extends a run, fewer reports a prefix)."
    ),
    min_hops: int = typer.Option(10, help="Shortest path of a task: at least this many hops."),
    max_hops: int = typer.Option(50, help="Shortest path of a task: at most this many hops."),
    bearing_noise: float = typer.Option(0.0, help="Std of perceived landmark bearings (deg)."),
    distance_noise: float = typer.Option(0.0, help="Relative std of perceived distances."),
    occlusion: float = typer.Option(0.2, help="Chance a landmark in range is hidden."),
    visibility: float = typer.Option(600.0, help="Landmark visibility radius in metres."),
    out_dir: Path | None = typer.Option(
        None,
        help="Output directory (default <data dir>/evals/navigation-<settings id>); finished "
        "episodes in it are kept and skipped, so re-running continues.",
    ),
    cache: bool = typer.Option(False, help="Reuse cached replies (off: tokens are measured)."),
    report_html: Path | None = REPORT,
) -> None:
    """SR and SPL by path length and landmark visibility (city), or goal-frame accuracy (tour)."""
    from pydantic import ValidationError

    from agentrun.agents import Gateway
    from agentrun.evals.navigation import (
        REPORT_JSON,
        REPORT_MD,
        REPORT_PNG,
        NavigationEvalConfig,
        arun_eval,
    )
    from agentrun.graphs.runtime import run_sync
    from agentrun.settings import data_dir as resolve_data_dir

    try:
        config = NavigationEvalConfig(
            task=task, model=model, perception=perception, seed=seed, tasks=tasks,
            chooser=chooser, candidates=candidates, decision_max_tokens=decision_tokens,
            strategies=[s.strip() for s in strategies.split(",") if s.strip()],
            min_hops=min_hops, max_hops=max_hops, bearing_noise_deg=bearing_noise,
            distance_noise=distance_noise, occlusion=occlusion, visibility_m=visibility,
        )  # fmt: skip
    except ValidationError as exc:
        raise option_error(exc) from None
    root = resolve_data_dir(state(ctx).data_dir)
    out = out_dir or root / "evals" / f"navigation-{config.fingerprint()}"
    errors = err_console()
    errors.print(f"writing to {out} (the same command continues it)", markup=False)
    started = time.perf_counter()

    def progress(record: dict[str, Any]) -> None:
        elapsed = time.perf_counter() - started
        if config.task == "city":
            errors.print(
                f"{record['key']}: {'success' if record['success'] else 'failed'} in "
                f"{record['steps']}/{record['step_limit']} steps "
                f"(shortest {record['shortest_hops']}), "
                f"fallbacks {record['fallbacks']}/{record['decisions']}  {elapsed:.0f} s",
                markup=False,
            )
        else:
            errors.print(
                f"{record['key']}: frame {record['chosen_frame']} (goal {record['goal_frames']}) "
                f"{'success' if record['success'] else 'failed'}  {elapsed:.0f} s",
                markup=False,
            )

    async def main() -> dict[str, Any]:
        async with Gateway(data_dir=root, cache=cache) as gateway:
            return await arun_eval(config, out, gateway=gateway, data_dir=root, on_episode=progress)

    report = run_sync(main())
    render(report)
    lines = [f"report: {out / REPORT_JSON}", f"plot:   {out / REPORT_PNG}"]
    if config.task == "city":
        lines.append(f"table:  {out / REPORT_MD}")
    console().print("\n".join(lines), markup=False)
    write_report(out, report_html)


def render(report: dict[str, Any]) -> None:
    from rich.table import Table

    summary = report["summary"]
    config = report["config"]
    if config["task"] == "tour":
        table = Table(title=f"tour navigation: {config['model']}")
        for name in ("episodes", "goal-frame acc", "SR", "fallbacks", "tokens/episode"):
            table.add_column(name, justify="right")
        table.add_row(str(summary["episodes"]), f"{summary['goal_frame_accuracy']:.2f}",
                      f"{summary['sr']:.2f}", str(summary["fallbacks"]),
                      f"{summary['mean_tokens']:.0f}")  # fmt: skip
        console().print(table)
        return
    chooser = "scripted oracle chooser" if config["chooser"] == "oracle" else config["model"]
    table = Table(title=f"navigation: {chooser}, seed {config['seed']}, {report['tasks']} tasks")
    columns = ("strategy", "group", "n", "SR", "SR 95% CI", "SPL", "steps", "tokens/episode",
               "fallbacks")  # fmt: skip
    for name in columns:
        table.add_column(name, justify="left" if name in ("strategy", "group") else "right")
    for strategy, parts in summary.items():
        rows = {"all": parts["overall"]}
        rows.update({f"hops {k}": v for k, v in parts["by_hops"].items()})
        rows.update({f"visibility {k}": v for k, v in parts["by_visibility"].items()})
        for group, row in rows.items():
            if not row["episodes"]:
                continue
            fallbacks = f"{row['fallbacks']}/{row['decisions']}" if "fallbacks" in row else ""
            ci = "[{:.2f}, {:.2f}]".format(*row["sr_ci95"]) if "sr_ci95" in row else ""
            table.add_row(strategy, group, str(row["episodes"]), f"{row['sr']:.2f}", ci,
                          f"{row['spl']:.2f}", f"{row['mean_steps']:.1f}",
                          f"{row['mean_tokens']:.0f}", fallbacks)  # fmt: skip
    console().print(table)
    for name, row in report["comparisons"].items():
        sr = row["sr"]
        low, high = sr["ci95"]
        console().print(
            f"{name}: SR {sr['difference']:+.2f} [{low:+.2f}, {high:+.2f}] over {row['tasks']} "
            f"tasks (paired bootstrap 95%){'' if sr['outside'] else ', interval includes 0'}",
            markup=False,
        )
    console().print(f"command: {report['command']}", markup=False)
