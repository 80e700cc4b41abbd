"""`agentrun eval retrieve-then-reason`: verified facts vs unverified two-stage vs direct."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from agentrun.cli.eval_long_doc_qa import (
    CACHE,
    CONCURRENCY,
    DATASET,
    ENCODING,
    FORMAT,
    LENGTHS_HELP,
    MODEL,
    OUT_DIR,
    QUESTIONS,
    RAY,
    REPORT,
    SEED,
    make_settings,
    print_table,
    run_and_render,
)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def render_evidence(result: dict[str, Any]) -> None:
    from agentrun.evals.retrieve_then_reason import evidence_table

    columns = ["strategy", "EM", "F1", "quotes", "not found", "re-ask won", "mapped",
               "gold raw", "gold kept"]  # fmt: skip
    rows = [
        [
            row["strategy"],
            "-" if row["em"] is None else f"{row['em']:.2f}",
            "-" if row["f1"] is None else f"{row['f1']:.2f}",
            "-" if row["proposed"] is None else str(row["proposed"]),
            _pct(row["hallucinated_rate"]),
            _pct(row["reask_recovery_rate"]),
            "-" if row["paraphrased"] is None else str(row["paraphrased"]),
            _pct(row["gold_recall_raw"]),
            _pct(row["gold_recall_verified"]),
        ]
        for row in evidence_table(result)
    ]
    print_table(
        "extraction: raw quotes, and gold facts recalled before/after checks", columns, rows
    )


def command(
    ctx: typer.Context,
    model: str = MODEL,
    strategies: str = typer.Option(
        "rtr,rtr-unverified,direct",
        help="Comma-separated; any long-doc-qa strategy may be added for comparison.",
    ),
    lengths: str = typer.Option("4k,16k", help=LENGTHS_HELP),
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
    """Retrieve-then-reason: hallucinated quotes, re-ask recovery, gold-fact recall, EM/F1."""
    settings = make_settings(
        eval="retrieve-then-reason", model=model, strategies=strategies, lengths=lengths,
        questions=questions, seed=seed, dataset=str(dataset) if dataset else None,
        dataset_format=dataset_format, encoding=encoding, concurrency=concurrency,
    )  # fmt: skip
    result = run_and_render(ctx, settings, out_dir, cache=cache, report=report, ray=ray)
    render_evidence(result)
