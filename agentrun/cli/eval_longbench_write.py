"""`agentrun eval longbench-write`: length (S_l) and quality (S_q) of long generation, AgentWrite
against a single call on the same model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from agentrun.cli._common import console, err_console, literal, option_error, state
from agentrun.cli.eval_long_doc_qa import REPORT, write_report

if TYPE_CHECKING:
    from agentrun.evals.longbench_write import LongBenchWriteSettings

SYSTEMS_HELP = (
    "Comma-separated: agentwrite (sections in order), agentwrite-parallel (sections at once), "
    "single (the baseline)."
)


def make_settings(**options: Any) -> LongBenchWriteSettings:
    """Settings from command-line values; invalid ones are a one-line usage error."""
    from pydantic import ValidationError

    from agentrun.evals.longbench_write import LongBenchWriteSettings

    options["systems"] = [s.strip() for s in options["systems"].split(",") if s.strip()]
    writer = {key: value for key, value in options.pop("writer", {}).items() if value is not None}
    try:
        settings = LongBenchWriteSettings(**options, writer=writer)
        settings.writer_config("agentwrite", strict=True)
    except ValidationError as exc:
        raise option_error(exc, unnamed="writer") from None
    return settings


def render(report: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"LongBench-Write: {report['settings']['model']}")
    for name in ("system", "bucket", "n", "S_l", "S_q", "S", "words/required", "tokens in",
                 "tokens out", "calls", "s/item", "errors"):  # fmt: skip
        table.add_column(name, justify="left" if name in ("system", "bucket") else "right")
    for system, buckets in report["by_bucket"].items():
        for label, row in {**buckets, "all": report["summary"][system]}.items():
            table.add_row(
                system, label, str(row["n"]),
                *(_fmt(row[k]) for k in ("s_l", "s_q", "s", "words_over_required")),
                str(row["prompt_tokens"]), str(row["completion_tokens"]),
                str(row["model_calls"]), _fmt(row["mean_wall_s"]), str(row["errors"]),
            )  # fmt: skip
    console().print(table)
    notes = [
        f"{system}: {row['errors']} of {row['n']} item(s) failed and score 0 "
        "(see results.jsonl; the same command retries them)"
        for system, row in report["summary"].items()
        if row["errors"]
    ]
    if report.get("pending"):
        pending = report["pending"]
        notes.append(
            f"not run yet ({len(pending)}): {', '.join(pending)}; the command without "
            "--report-only runs them"
        )
    for note in notes:
        err_console().print(note, markup=False, style="yellow")


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def command(
    ctx: typer.Context,
    model: str = typer.Option("local/smollm2", help="Any LiteLLM model name, or local/smollm2."),
    subset: str = typer.Option("en", help="en (60 prompts), zh (60) or all (120)."),
    sample: int | None = typer.Option(
        None, "--sample", "-n", help="Prompts to draw, spread across the length buckets."
    ),
    seed: int = typer.Option(0, help="Seed of the sample."),
    max_length: int | None = typer.Option(
        None, help="Skip prompts that require more words than this (for slow models)."
    ),
    systems: str = typer.Option("agentwrite,single", help=SYSTEMS_HELP),
    judge_model: str | None = typer.Option(
        None, help="A model that rates quality (S_q); without one S_q is not computed."
    ),
    baseline_max_tokens: int | None = typer.Option(
        None, help="Cap on the single call's output tokens (default: what the window leaves)."
    ),
    concurrency: int = typer.Option(1, help="Items written at once (per-model limits apply)."),
    tolerance: float | None = typer.Option(
        None, help="AgentWrite: allowed miss of each section's budget (default 0.2)."
    ),
    fix_attempts: int | None = typer.Option(
        None, help="AgentWrite: extension or condensing calls per section (default 2)."
    ),
    plan_fallback: str | None = typer.Option(
        None, help="AgentWrite without a usable outline: lines (default), outline or error."
    ),
    words_per_call: int | None = typer.Option(
        None,
        help="AgentWrite: words the model writes per call (default: measured from its sections "
        "and kept per model).",
    ),
    temperature: float | None = typer.Option(
        None, min=0, help="AgentWrite: sampling temperature (default 0.8; 0 for greedy)."
    ),
    out_dir: Path | None = typer.Option(
        None,
        help="Output directory (default <data dir>/evals/longbench-write-<model>-<subset>...; "
        "the same options continue the same run).",
    ),
    cache: bool = typer.Option(
        False, help="Reuse cached replies (off by default, so tokens and time are measured)."
    ),
    report_only: bool = typer.Option(
        False, help="Report the items finished so far and run nothing (slow models)."
    ),
    report_html: Path | None = REPORT,
) -> None:
    """LongBench-Write: S_l per length bucket (and S_q with a judge), AgentWrite vs one call."""
    from agentrun.agents import Gateway
    from agentrun.evals.longbench_write import NO_JUDGE, arun_eval, default_out_dir
    from agentrun.graphs.runtime import run_sync
    from agentrun.settings import data_dir as resolve_data_dir

    settings = make_settings(
        model=model, subset=subset, sample=sample, seed=seed, max_length=max_length,
        systems=systems, judge_model=judge_model, baseline_max_tokens=baseline_max_tokens,
        concurrency=concurrency,
        writer={"tolerance": tolerance, "fix_attempts": fix_attempts,
                "plan_fallback": plan_fallback, "words_per_call": words_per_call,
                "temperature": temperature},
    )  # fmt: skip
    root = resolve_data_dir(state(ctx).data_dir)
    out = out_dir or default_out_dir(root, settings)
    errors = err_console()
    errors.print(f"writing to {out} (the same command continues an interrupted run)", markup=False)
    if not settings.judge_model:
        errors.print(NO_JUDGE, markup=False, style="yellow")

    def progress(row: dict[str, Any], done: int, total: int) -> None:
        outcome = (
            f"error: {row['error']}"
            if row["error"]
            else f"{row['words']}/{row['required']} words S_l={row['s_l']:.1f}"
            + (f" S_q={row['s_q']:.1f}" if row.get("s_q") is not None else "")
        )
        errors.print(
            literal(f"[{done}/{total}] {row['system']} {row['item_id']}: {outcome} "
                    f"{row['wall_s']:.0f} s")
        )  # fmt: skip

    async def main() -> dict[str, Any]:
        async with Gateway(data_dir=root, cache=cache) as gateway:
            return await arun_eval(
                settings, out, gateway=gateway, on_row=progress, report_only=report_only
            )

    report = run_sync(main())
    render(report)
    console().print(
        f"report: {out / 'report.json'}\nplot:   {out / 'length_scores.png'}", markup=False
    )
    console().print(f"command: {report['command']}", markup=False)
    write_report(out, report_html)
