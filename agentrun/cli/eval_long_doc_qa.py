"""`agentrun eval long-doc-qa`: strategies x context lengths on long-document QA."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from agentrun.cli._common import console, err_console, literal, option_error, state

if TYPE_CHECKING:
    from agentrun.evals.long_doc_qa import EvalSettings

MODEL = typer.Option("local/smollm2", help="Any LiteLLM model name, or local/smollm2.")
LENGTHS_HELP = "Comma-separated context lengths in tokens, e.g. 4k,16k,64k,128k."
QUESTIONS = typer.Option(8, "--questions", "-n", help="Questions per length.")
SEED = typer.Option(0, help="Seed of the generated items (same seed, same items).")
OUT_DIR = typer.Option(
    None,
    help="Output directory (default <data dir>/evals/<eval>-<timestamp>); pass an existing "
    "one to continue an interrupted run.",
)
DATASET = typer.Option(
    None, help="A LongBench JSONL or HotpotQA JSON file instead of generated items."
)
FORMAT = typer.Option("auto", "--format", help="auto, longbench or hotpotqa.")
ENCODING = typer.Option(None, help="Encoding of the dataset file if it is not UTF-8.")
CONCURRENCY = typer.Option(1, help="Items answered at once (per-model limits still apply).")
RAY = typer.Option(
    None,
    metavar="auto|ADDRESS",
    help="Answer on a Ray cluster (`auto`: the one `ray start` made here), --concurrency at once.",
)
CACHE = typer.Option(
    False, help="Reuse cached replies (off by default, so tokens and latency are measured)."
)
REPORT = typer.Option(
    None,
    "--report",
    metavar="FILE.html",
    help="Also write a self-contained HTML report: plots and every item.",
)


def write_report(out_dir: Path, report: Path | None) -> None:
    """`--report FILE.html`: the eval's results as one HTML file."""
    if report is not None:
        from agentrun.evals.html_report import write_html_report

        console().print(f"html:   {write_html_report(out_dir, report)}", markup=False)


def make_settings(**options: Any) -> EvalSettings:
    """Settings from command-line values; invalid ones are a one-line usage error."""
    from pydantic import ValidationError

    from agentrun.evals.long_doc_qa import EvalSettings, parse_length

    options["strategies"] = [s.strip() for s in options["strategies"].split(",") if s.strip()]
    options["lengths"] = [parse_length(n) for n in options["lengths"].split(",") if n.strip()]
    try:
        return EvalSettings(**options)
    except ValidationError as exc:
        raise option_error(exc) from None


def run_and_render(
    ctx: typer.Context,
    settings: EvalSettings,
    out_dir: Path | None,
    *,
    cache: bool,
    report: Path | None = None,
    ray: str | None = None,
) -> dict[str, Any]:
    """Run an eval with the CLI's data directory, print progress and the summary table."""
    from agentrun.agents import Gateway
    from agentrun.evals.long_doc_qa import arun_eval, default_out_dir
    from agentrun.graphs.runtime import run_sync
    from agentrun.memory import default_store
    from agentrun.settings import data_dir as resolve_data_dir

    root = resolve_data_dir(state(ctx).data_dir)
    out = out_dir or default_out_dir(root, settings.eval)
    errors = err_console()
    errors.print(f"writing to {out} (run again with --out-dir {out} to continue)", markup=False)

    def progress(row: dict[str, Any], done: int, total: int) -> None:
        said = "(abstained)" if row["answer"] is None else repr(row["answer"])
        gold = repr(row["answers"][0]) if row["answers"] else "(none)"
        outcome = f"error: {row['error']}" if row["error"] else f"{said} gold {gold}"
        errors.print(
            literal(f"[{done}/{total}] {row['strategy']} {row['item_id']}: {outcome} "
                    f"em={row['em']:.0f} f1={row['f1']:.2f} {row['wall_s']:.1f} s")
        )  # fmt: skip

    async def main() -> dict[str, Any]:
        async with Gateway(data_dir=root, cache=cache) as gateway:
            with default_store(root) as store:
                return await arun_eval(
                    settings, out, gateway=gateway, store=store, on_row=progress, ray=ray
                )

    result = run_sync(main())
    for strategy, why in result["failed_strategies"].items():
        errors.print(literal(f"strategy {strategy} failed: {why}"), style="bold red")
    render_summary(result)
    console().print(f"report: {out / 'report.json'}\nplot:   {out / 'accuracy_vs_length.png'}")
    write_report(out, report)
    return result


def _count(value: int) -> str:
    """Token counts short enough for an 80-column table: 8681, 245k, 3.1M."""
    if value < 100_000:
        return str(value)
    return f"{value / 1000:.0f}k" if value < 10_000_000 else f"{value / 1e6:.1f}M"


def print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    """A compact table whose values are never cut: headers wrap instead (80-column terminals)."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for index, name in enumerate(columns):
        widest = max((len(row[index]) for row in rows), default=1)
        table.add_column(
            name, justify="left" if index == 0 else "right", min_width=widest, overflow="fold"
        )
    for row in rows:
        table.add_row(*row)
    console().print(table)


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def render_summary(result: dict[str, Any]) -> None:
    """Per strategy and length: quality, then cost (cost and errors only where there are any)."""
    from agentrun.evals.report import length_label

    summaries = list(result["summary"].values())
    show_cost = any(row["cost_usd"] for row in summaries)
    show_errors = any(row["errors"] for row in summaries)
    columns = ["strategy", "len", "n", "EM", "F1", "has", "abst", "tok in", "tok out", "calls"]
    columns += ["s/item"]
    columns += ["cost $"] * show_cost + ["errors"] * show_errors
    rows: list[list[str]] = []
    for strategy, lengths in result["by_length"].items():
        overall = {"all": result["summary"][strategy]} if len(lengths) > 1 else {}
        for length, row in {**lengths, **overall}.items():
            cells = [
                strategy,
                length if length == "all" else length_label(int(length)),
                str(row["scored"]),
                _fmt(row["em"]),
                _fmt(row["f1"]),
                _fmt(row.get("contains")),
                _fmt(row["abstention_accuracy"]),
                _count(row["prompt_tokens"]),
                _count(row["completion_tokens"]),
                str(row["calls"]),
                _fmt(row["mean_latency_s"], 1),
            ]
            cells += [_fmt(row["cost_usd"], 4)] * show_cost + [str(row["errors"])] * show_errors
            rows.append(cells)
    print_table(f"{result['eval']}: {result['settings']['model']}", columns, rows)
    for strategy, row in result["summary"].items():
        if chain := row.get("gold_chain"):
            console().print(
                f"{strategy}: of {chain['gold']} gold facts, workers quoted {chain['captured']} "
                f"and {chain['reached_manager']} reached the manager",
                markup=False,
            )


def command(
    ctx: typer.Context,
    model: str = MODEL,
    strategies: str = typer.Option(
        "coa,coa-free,vanilla,rag",
        help="Comma-separated: coa, coa-free, vanilla, rag, merge, hierarchical, rtr, "
        "rtr-unverified, direct.",
    ),
    lengths: str = typer.Option("4k,16k,64k,128k", help=LENGTHS_HELP),
    questions: int = QUESTIONS,
    seed: int = SEED,
    out_dir: Path | None = OUT_DIR,
    dataset: Path | None = DATASET,
    dataset_format: str = FORMAT,
    encoding: str | None = ENCODING,
    concurrency: int = CONCURRENCY,
    cache: bool = CACHE,
    report: Path | None = REPORT,
    ray: str | None = RAY,
) -> None:
    """Long-document QA: accuracy against context length for each strategy (JSON + PNG)."""
    settings = make_settings(
        model=model, strategies=strategies, lengths=lengths, questions=questions, seed=seed,
        dataset=str(dataset) if dataset else None, dataset_format=dataset_format,
        encoding=encoding, concurrency=concurrency,
    )  # fmt: skip
    run_and_render(ctx, settings, out_dir, cache=cache, report=report, ray=ray)
