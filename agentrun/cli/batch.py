"""`agentrun batch`: one pipeline run per line of a JSON Lines file, in-process or on Ray."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from agentrun.cli._common import console, err_console, literal, state
from agentrun.cli.pipeline import MAX_COST_HELP, MAX_INPUT_TOKENS_HELP, _pairs
from agentrun.errors import EXIT_INTERRUPTED, EXIT_RUN_FAILED, EXIT_WAITING

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from agentrun.pipeline.batch_output import BatchSummary, ItemOutcome

#: Failed items listed by name at the end; the output file has them all.
SHOWN_FAILURES = 10
RAY_HELP = (
    "Run the items as Ray tasks: `auto` joins the cluster `ray start` made on this machine, or "
    "give the head's address (HOST:PORT)."
)


class BatchProgress:
    """A live bar on standard error: done / failed / items per second / tokens / cost."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar: Progress = Progress(
            TextColumn("batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TextColumn("{task.fields[rate]}/s"),
            TextColumn("{task.fields[tokens]} tokens"),
            TextColumn("${task.fields[cost]}"),
            TimeElapsedColumn(),
            console=err_console(),
            transient=False,
        )
        self.task: TaskID | None = None
        self.finished = self.failed = self.tokens = 0
        self.cost = 0.0
        self.started = time.perf_counter()

    def start(self, summary: BatchSummary) -> None:
        self.started = time.perf_counter()
        self.bar.start()
        self.task = self.bar.add_task(
            "batch", total=summary.total, completed=summary.skipped, failed=0, rate="0.0",
            tokens=0, cost="0.0000",
        )  # fmt: skip

    def __call__(self, outcome: ItemOutcome) -> None:
        assert self.task is not None
        self.finished += 1
        self.failed += outcome.status == "failed"
        self.tokens += outcome.tokens
        self.cost += outcome.cost_usd
        elapsed = time.perf_counter() - self.started
        self.bar.update(
            self.task, advance=1, failed=self.failed, rate=f"{self.finished / elapsed:.1f}",
            tokens=self.tokens, cost=f"{self.cost:.4f}",
        )  # fmt: skip

    def stop(self) -> None:
        self.bar.stop()


def _report(summary: BatchSummary) -> int:
    """The summary lines, each failed item (the first few), and the exit code."""
    out = console()
    out.print(
        f"{summary.total} items: {summary.done} done, {summary.skipped} already done, "
        f"{summary.failed} failed, {summary.waiting} waiting, in {summary.seconds:.1f} s "
        f"({summary.items_per_s:.1f} items/s)"
    )
    out.print(
        f"{summary.prompt_tokens:,} prompt + {summary.completion_tokens:,} completion tokens, "
        f"${summary.cost_usd:.4f}"
    )
    out.print(f"results: {summary.output}")
    unfinished = [o for o in summary.outcomes if o.status != "done"]
    errors = err_console()
    for outcome in unfinished[:SHOWN_FAILURES]:
        errors.print(literal(f"{outcome.status}: line {outcome.line} ({outcome.key}, thread "
                             f"{outcome.thread_id}): {outcome.error}"))  # fmt: skip
    if len(unfinished) > SHOWN_FAILURES:
        errors.print(f"... and {len(unfinished) - SHOWN_FAILURES} more (see {summary.output})")
    if summary.failed:
        errors.print("run the same command again to retry the failed items", markup=False)
        return EXIT_RUN_FAILED
    return EXIT_WAITING if summary.waiting else 0


def batch(
    ctx: typer.Context,
    pipeline: Path = typer.Argument(..., help="The pipeline YAML file."),
    inputs: Path = typer.Option(
        ..., "--inputs", "-i", help="JSON Lines: one object of pipeline inputs per line."
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Results, one JSON line per item; run again to continue."
    ),
    key: str | None = typer.Option(
        None, help="The field that names each item (default: a hash of the item)."
    ),
    concurrency: int = typer.Option(8, min=1, help="Items run at once."),
    fail_fast: bool = typer.Option(False, help="Stop at the first failed item."),
    ray: str | None = typer.Option(None, metavar="auto|ADDRESS", help=RAY_HELP),
    set_: list[str] = typer.Option([], "--set", help="Override a spec value: a.b.c=value."),
    cache: bool = typer.Option(True, help="Reuse cached replies of identical calls."),
    max_input_tokens: int | None = typer.Option(None, min=1, help=MAX_INPUT_TOKENS_HELP),
    max_cost: float | None = typer.Option(None, min=0, help=MAX_COST_HELP + " Per item."),
    allow_dir: list[Path] = typer.Option(
        [], "--allow-dir", metavar="DIR", help="Let file tools also read inside this folder."
    ),
) -> None:
    """Run a pipeline once per input line; finished items are skipped when run again."""
    from agentrun.graphs.runtime import run_sync
    from agentrun.pipeline import load_pipeline
    from agentrun.pipeline.batch import BatchOptions, BatchRun, arun_batch, batch_items

    loaded = load_pipeline(pipeline, _pairs(set_, "--set"))
    loaded.file_roots(allow_dir)  # a folder that does not exist is refused before any item
    items = batch_items(loaded, inputs, key)
    options = BatchOptions(cache, max_input_tokens, max_cost, tuple(str(d) for d in allow_dir))
    run = BatchRun(loaded, items, out, concurrency, fail_fast, options, ray, state(ctx).data_dir)
    progress = BatchProgress()
    try:
        summary = run_sync(arun_batch(run, on_start=progress.start, on_outcome=progress))
    except KeyboardInterrupt:
        err_console().print("interrupted; run the same command again to continue", markup=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        progress.stop()
    raise typer.Exit(_report(summary))


__all__ = ["BatchProgress", "batch"]
