"""Pipeline commands: `run`, `validate`, `graph`, `resume`, `runs ls|show`, `schema`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from agentrun.cli._common import console, err_console, fail, literal, state, visible
from agentrun.errors import (
    EXIT_INTERRUPTED,
    EXIT_WAITING,
    AgentrunError,
    AnswerError,
    UsageError,
)

if TYPE_CHECKING:
    from agentrun.cli.progress import Progress
    from agentrun.pipeline import PipelineResult
    from agentrun.pipeline.spec import InputSpec

R = TypeVar("R")

runs_app = typer.Typer(help="List and inspect runs.", no_args_is_help=True)


def _pairs(values: list[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, raw = value.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"{option} {value!r}: expected name=value")
        pairs[name.strip()] = raw
    return pairs


def _text_or_file(raw: str, option: str) -> str:
    """`raw`, or with `@path` the file's text (UTF-8, or its declared encoding)."""
    from agentrun.text.files import read_text_file

    if not raw.startswith("@"):
        return raw
    path = Path(raw[1:]).expanduser()
    if not path.is_file():
        raise UsageError(f"{option}=@{raw[1:]}: no such file")
    return read_text_file(path)


def _inputs(pairs: Mapping[str, str], declared: Mapping[str, InputSpec]) -> dict[str, Any]:
    """`--input name=value`; `name=@path` reads the file, or for an input the pipeline declares
    as `video` or `images`, passes the path (the caller's choice: see agentrun.pipeline.media)."""
    from agentrun.pipeline.media import MEDIA_INPUTS, given_path

    return {
        name: given_path(raw, declared[name].type, f"--input {name}")
        if name in declared and declared[name].type in MEDIA_INPUTS
        else _text_or_file(raw, f"--input {name}")
        for name, raw in pairs.items()
    }


def _report(ctx: typer.Context, result: PipelineResult) -> None:
    """The outputs and totals of a finished run; for a waiting one, its question, then exit 4."""
    from rich.text import Text

    from agentrun.cli.progress import show_question

    if result.interrupt is not None:
        show_question(result.interrupt, resume_command(ctx, result.thread_id))
        raise typer.Exit(EXIT_WAITING)
    out = console()
    for name, value in result.outputs.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)
        out.print(Text.assemble((visible(name), "bold"), ": ", literal(text)))
    usage = result.usage
    out.print(
        f"{usage.get('prompt_tokens', 0)} prompt + {usage.get('completion_tokens', 0)} completion "
        f"tokens, {usage.get('model_calls', 0)} model calls ({usage.get('cache_hits', 0)} cached), "
        f"${usage.get('cost_usd', 0.0):.4f}"
    )
    out.print(f"result: {result.result_path}")
    out.print(f"thread: {result.thread_id}")


def _progress(stream: bool, events: Path | None) -> Progress:
    from agentrun.cli.progress import EventLog, Progress

    return Progress(stream, EventLog(events) if events is not None else None)


def resume_command(ctx: typer.Context, thread_id: str) -> str:
    """The exact command that resumes a run, with the data directory this one was given."""
    data_dir = state(ctx).data_dir
    where = f" --data-dir {data_dir}" if data_dir is not None else ""
    return f"agentrun{where} resume {thread_id}"


def _resumable(ctx: typer.Context, thread_id: str, call: Callable[[], R]) -> R:
    """`call()`; when the run stops (Ctrl-C, or an error after it started), one more line says
    how to resume it. The error keeps its own exit code (Ctrl-C: 130)."""
    try:
        return call()
    except KeyboardInterrupt:
        hint = f"interrupted; resume with: {resume_command(ctx, thread_id)}"
        err_console().print(hint, markup=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except AgentrunError as exc:
        if exc.thread_id is None or isinstance(exc, AnswerError):
            raise  # refused before it started, or an answer refused: nothing new to say
        code = fail(exc)
        hint = (
            f"run {exc.thread_id} failed on its input, which a resume would read again; "
            "start a new run with the input corrected"
            if isinstance(exc, UsageError)
            else f"run {exc.thread_id} failed; resume with: {resume_command(ctx, exc.thread_id)}"
        )
        err_console().print(hint, markup=False)
        raise typer.Exit(code) from None


MAX_INPUT_TOKENS_HELP = "Refuse inputs estimated over this many tokens (default 1,000,000)."
MAX_COST_HELP = "Refuse, or stop resumably, a run over this cost in USD (default 1; paid models)."
RESUME_MAX_COST_HELP = "Stop once the run has cost this much in USD, over all its attempts."
EVENTS_HELP = "Also write every event of the run to this file, one JSON line each."
ANSWER_HELP = "Answer the question the run waits on: text, or @file."


def run(
    ctx: typer.Context,
    pipeline: Path | None = typer.Argument(
        None, help="The pipeline YAML file (or --workflow NAME instead)."
    ),
    workflow: str | None = typer.Option(
        None, metavar="NAME", help="Run a registered workflow without YAML (--set config.KEY=V)."
    ),
    input_: list[str] = typer.Option([], "--input", "-i", help="name=value, or name=@file."),
    set_: list[str] = typer.Option([], "--set", help="Override a spec value: a.b.c=value."),
    thread_id: str | None = typer.Option(None, help="Name the run (default: a new id)."),
    cache: bool = typer.Option(True, help="Reuse cached replies of identical calls."),
    stream: bool = typer.Option(True, help="Show model output as it streams."),
    max_input_tokens: int | None = typer.Option(None, min=1, help=MAX_INPUT_TOKENS_HELP),
    max_cost: float | None = typer.Option(None, min=0, help=MAX_COST_HELP),
    allow_dir: list[Path] = typer.Option(
        [],
        "--allow-dir",
        metavar="DIR",
        help="Let file tools also read inside this folder (repeatable).",
    ),
    events: Path | None = typer.Option(None, metavar="FILE", help=EVENTS_HELP),
) -> None:
    """Run a pipeline, or one workflow; results go to <data dir>/runs/<thread id>/result.json."""
    from agentrun.graphs.runtime import new_thread_id
    from agentrun.pipeline import Pipeline, load_pipeline

    overrides = _pairs(set_, "--set")
    named = _pairs(input_, "--input")
    if (pipeline is None) == (workflow is None):
        raise UsageError("name a pipeline file or --workflow NAME (one of them)")
    if workflow is not None:
        loaded = Pipeline.for_workflow(workflow, named, overrides)
    else:
        assert pipeline is not None
        loaded = load_pipeline(pipeline, overrides)
    given = _inputs(named, loaded.spec.inputs)
    thread = thread_id or new_thread_id()
    result = _resumable(ctx, thread, lambda: loaded.run(
        given, thread_id=thread, data_dir=state(ctx).data_dir, cache=cache,
        on_event=_progress(stream, events), stream_text=stream, file_roots=allow_dir,
        max_input_tokens=max_input_tokens, max_cost_usd=max_cost,
    ))  # fmt: skip
    _report(ctx, result)


def resume(
    ctx: typer.Context,
    thread_id: str = typer.Argument(..., help="The run to continue (see `agentrun runs ls`)."),
    cache: bool | None = typer.Option(
        None, help="Reuse cached replies of identical calls (default: as the run was started)."
    ),
    stream: bool | None = typer.Option(
        None, help="Show model output as it streams (default: as the run was started)."
    ),
    max_cost: float | None = typer.Option(None, min=0, help=RESUME_MAX_COST_HELP),
    answer: str | None = typer.Option(None, metavar="TEXT|@FILE", help=ANSWER_HELP),
    events: Path | None = typer.Option(None, metavar="FILE", help=EVENTS_HELP),
) -> None:
    """Continue a failed, killed or waiting run from its last checkpoint, with the options and
    the folders it was run with (an option given here replaces the stored one)."""
    from agentrun.graphs.base import NO_ANSWER
    from agentrun.pipeline import Pipeline, RunRecord
    from agentrun.settings import data_dir

    record = RunRecord.open(data_dir(state(ctx).data_dir), thread_id)
    pipeline = Pipeline.from_record(record)
    options = record.options().overridden(cache=cache, stream_text=stream, max_cost_usd=max_cost)
    reply = NO_ANSWER if answer is None else _text_or_file(answer, "--answer")
    result = _resumable(ctx, thread_id, lambda: pipeline.resume(
        thread_id, answer=reply, data_dir=state(ctx).data_dir, cache=options.cache,
        on_event=_progress(options.stream_text, events), stream_text=options.stream_text,
        max_cost_usd=options.max_cost_usd,
    ))  # fmt: skip
    _report(ctx, result)


def validate(
    pipeline: Path = typer.Argument(..., help="The pipeline YAML file."),
    set_: list[str] = typer.Option([], "--set", help="Override a spec value: a.b.c=value."),
) -> None:
    """Check a pipeline without running it: every problem with file:line:column."""
    from agentrun.pipeline import load_pipeline

    loaded = load_pipeline(pipeline, _pairs(set_, "--set"))
    kind = f"workflow {loaded.spec.workflow.type}" if loaded.spec.workflow else (
        f"{len(loaded.spec.nodes or [])} nodes"
    )  # fmt: skip
    console().print(f"{pipeline}: valid ({kind})")


def graph(
    pipeline: Path = typer.Argument(..., help="The pipeline YAML file."),
    png: Path | None = typer.Option(None, help="Also render a PNG here."),
) -> None:
    """Print the pipeline's graph as Mermaid (and render it to PNG, offline)."""
    from agentrun.pipeline import load_pipeline

    diagram = load_pipeline(pipeline).diagram()
    console().print(diagram.mermaid(), markup=False, end="")
    if png is not None:
        err_console().print(f"wrote {diagram.png(png)}")


def schema() -> None:
    """Print the JSON Schema of pipeline files (agentrun/v1)."""
    from agentrun.pipeline.spec import json_schema

    console().print_json(json.dumps(json_schema()))


@runs_app.command("ls")
def runs_ls(ctx: typer.Context) -> None:
    """List runs, newest first."""
    from rich.table import Table

    from agentrun.pipeline import RunRecord
    from agentrun.settings import data_dir

    table = Table("thread", "pipeline", "status", "started")
    for meta in RunRecord.all(data_dir(state(ctx).data_dir)):
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(meta.get("created", 0)))
        table.add_row(
            meta.get("thread_id", "?"), meta.get("pipeline", "?"), meta.get("status", "?"), started
        )
    console().print(table)


@runs_app.command("show")
def runs_show(ctx: typer.Context, thread_id: str = typer.Argument(...)) -> None:
    """Show a run's status, inputs and result."""
    from agentrun.pipeline import RunRecord
    from agentrun.settings import data_dir

    record = RunRecord.open(data_dir(state(ctx).data_dir), thread_id)
    out = console()
    out.print_json(json.dumps(record.meta))
    result = record.folder / "result.json"
    if result.is_file():
        out.print(literal(result.read_text(encoding="utf-8")))
    elif record.meta.get("status") != "done":
        out.print(f"not finished; resume with: {resume_command(ctx, thread_id)}", markup=False)
