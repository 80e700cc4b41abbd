"""`agentrun eval long-video`: long-caption and video-qa (retrieval vs uniform frames) on
synthetic videos with known events, or on one given video and its ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from agentrun.cli._common import console, err_console, literal, option_error, state
from agentrun.cli.eval_long_doc_qa import REPORT, write_report


def command(
    ctx: typer.Context,
    model: str = typer.Option(
        "scripted", help="scripted (answers from the videos' ground truth) or a LiteLLM VLM."
    ),
    text_model: str | None = typer.Option(None, help="Model for merges and sections."),
    error_rate: float = typer.Option(0.1, help="How often the scripted VLM errs (0-1)."),
    methods: str = typer.Option("long-caption,rag,uniform", help="Comma-separated."),
    seed: int = typer.Option(0, help="Seeds the videos and questions (same seed, same items)."),
    videos: int = typer.Option(2, help="Synthetic videos to write."),
    duration: float = typer.Option(120.0, help="Seconds each synthetic video lasts."),
    speech: bool | None = typer.Option(
        None, help="Spoken sentences (default: where espeak-ng is installed)."
    ),
    questions: int = typer.Option(2, "--questions", "-n", help="Questions of each kind a video."),
    segment_s: float = typer.Option(10.0, help="Seconds per segment."),
    max_sections: int = typer.Option(4, help="Sections of each description, at most."),
    target_words: int = typer.Option(400, help="Length of each description."),
    max_frames: int = typer.Option(16, help="Frames sent with each question (both methods)."),
    video: Path | None = typer.Option(None, help="Evaluate this video instead of writing some."),
    events: Path | None = typer.Option(
        None, help="Its ground truth (default: <video>.events.json beside it)."
    ),
    out_dir: Path | None = typer.Option(
        None,
        help="Output directory (default <data dir>/evals/long-video-<settings id>); finished "
        "items in it are kept and skipped, so re-running continues.",
    ),
    cache: bool = typer.Option(False, help="Reuse cached replies (off: tokens are measured)."),
    report_html: Path | None = REPORT,
) -> None:
    """Event recall and order accuracy of long-caption; answer accuracy of video-qa against
    the uniform-frames baseline; tokens and cost of each."""
    from pydantic import ValidationError

    from agentrun.agents import Gateway
    from agentrun.evals.long_video import REPORT_JSON, REPORT_PNG, LongVideoEvalConfig, arun_eval
    from agentrun.graphs.runtime import run_sync
    from agentrun.settings import data_dir as resolve_data_dir

    try:
        config = LongVideoEvalConfig(
            model=model, text_model=text_model, error_rate=error_rate,
            methods=[m.strip() for m in methods.split(",") if m.strip()], seed=seed,
            videos=videos, duration_s=duration, speech=speech, per_kind=questions,
            segment_s=segment_s, max_sections=max_sections, target_words=target_words,
            max_frames=max_frames, video=str(video) if video else None,
            events=str(events) if events else None,
        )  # fmt: skip
    except ValidationError as exc:
        raise option_error(exc) from None
    root = resolve_data_dir(state(ctx).data_dir)
    out = out_dir or root / "evals" / f"long-video-{config.fingerprint()}"
    errors = err_console()
    errors.print(f"writing to {out} (the same command continues it)", markup=False)

    def progress(row: dict[str, Any]) -> None:
        if row["strategy"] == "long-caption":
            line = (f"{row['item_id']} long-caption: recall {row['event_recall']:.2f}, order "
                    f"{row['order_accuracy']:.2f}, {row['words']} words")  # fmt: skip
        else:
            verdict = "right" if row["right"] else "wrong"
            line = f"{row['item_id']} {row['strategy']}: {verdict}: {row['answer'][:80]!r}"
        errors.print(literal(line))

    async def main() -> dict[str, Any]:
        async with Gateway(data_dir=root, cache=cache) as gateway:
            return await arun_eval(config, out, gateway=gateway, data_dir=root, on_row=progress)

    report = run_sync(main())
    render(report)
    console().print(f"report: {out / REPORT_JSON}\nplot:   {out / REPORT_PNG}", markup=False)
    write_report(out, report_html)


def _number(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render(report: dict[str, Any]) -> None:
    from rich.table import Table

    summary = report["summary"]
    table = Table(title="long video")
    for name in ("method", "n", "score", "order", "time err s", "words", "tokens/item", "cost"):
        table.add_column(name, justify="left" if name == "method" else "right", no_wrap=True)
    for method, row in summary.items():
        caption = method == "long-caption"
        table.add_row(
            method, str(row["videos"] if caption else row["questions"]),
            _number(row["event_recall"] if caption else row["accuracy"]),
            _number(row.get("order_accuracy")), _number(row.get("timestamp_error_s"), 1),
            f"{_number(row['words'], 0)}/{row['target_words']:.0f}" if caption else "-",
            _number(row["prompt_tokens_per_item"], 0), f"${row['cost_usd']:.4f}",
        )  # fmt: skip
    console().print(table)
    asked = [m for m in ("rag", "uniform") if m in summary]
    if asked:
        kinds = Table(title="video-qa accuracy by question kind")
        for name in ("kind", *asked):
            kinds.add_column(name, justify="left" if name == "kind" else "right")
        for kind in dict.fromkeys(k for m in asked for k in summary[m]["by_kind"]):
            kinds.add_row(kind, *(_number(summary[m]["by_kind"].get(kind)) for m in asked))
        console().print(kinds)
