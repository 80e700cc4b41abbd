"""Pipeline commands: `run`, `validate`, `graph`, `resume`, `runs ls|show`, `schema`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from agentrun.cli._common import console, err_console, fail, literal, state, visible
from agentrun.errors import EXIT_INTERRUPTED, AgentrunError, UsageError

if TYPE_CHECKING:
    from agentrun.graphs.runtime import WorkflowEvent
    from agentrun.pipeline import Pipeline, PipelineResult

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


def _inputs(values: list[str]) -> dict[str, Any]:
    """`--input name=value`; `name=@path` reads the file (UTF-8, or its declared encoding)."""
    from agentrun.text.files import read_text_file

    given: dict[str, Any] = {}
    for name, raw in _pairs(values, "--input").items():
        if raw.startswith("@"):
            path = Path(raw[1:]).expanduser()
            if not path.is_file():
                raise UsageError(f"--input {name}=@{raw[1:]}: no such file")
            given[name] = read_text_file(path)
        else:
            given[name] = raw
    return given


class StreamedText:
    """Streamed model text of steps that may run at once (fan-out), kept readable.

    Each line starts with its step's label, and one step's line is not broken by another's
    text: that waits until the line ends (or its step has been quiet for `patience_s`), and is
    then written as whole lines. A lone step streams live, token by token.
    """

    def __init__(
        self,
        write: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        patience_s: float = 1.0,
    ) -> None:
        self.write = write
        self.clock = clock
        self.patience_s = patience_s
        self.owner: str | None = None  # the step whose line is open
        self.last = 0.0
        self.waiting: dict[str, str] = {}

    def add(self, node: str, text: str) -> None:
        now = self.clock()
        if self.owner not in (None, node):
            if now - self.last < self.patience_s:
                self.waiting[node] = self.waiting.get(node, "") + text
                return
            self._close()  # the open line's step went quiet
        if self.owner is None:
            text = self.waiting.pop(node, "") + text
            self.owner = node
            self.write(f"{node} | ")
        self.last = now
        first, *rest = text.split("\n")
        self.write(first)
        for index, line in enumerate(rest):
            self.write("\n")
            if index == len(rest) - 1 and not line:
                self.owner = None
                self._whole_lines()
            else:
                self.write(f"{node} | {line}")

    def finish(self) -> None:
        """Write everything still held (a step finished)."""
        self._close()
        for node, text in self.waiting.items():
            for line in text.rstrip("\n").split("\n"):
                self.write(f"{node} | {line}\n")
        self.waiting.clear()

    def _close(self) -> None:
        if self.owner is not None:
            self.write("\n")
            self.owner = None
            self._whole_lines()

    def _whole_lines(self) -> None:
        for node, text in list(self.waiting.items()):
            done, newline, rest = text.rpartition("\n")
            if not newline:
                continue
            for line in done.split("\n"):
                self.write(f"{node} | {line}\n")
            if rest:
                self.waiting[node] = rest
            else:
                del self.waiting[node]


class Progress:
    """Live progress: one line per finished node, streamed model text, totals at the end."""

    def __init__(self, stream: bool) -> None:
        self.started = time.perf_counter()
        self.stream = stream
        self.text = StreamedText(self._write)

    @staticmethod
    def _write(text: str) -> None:
        err_console().print(literal(text), end="", style="dim")

    def __call__(self, event: WorkflowEvent) -> None:
        if event.kind == "text":
            if self.stream:
                self.text.add(event.node, event.text)
            return
        self.text.finish()
        usage = event.data.get("usage") or {}
        tokens = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
        detail = f"  {tokens} tokens" if tokens else ""
        from rich.text import Text

        elapsed = time.perf_counter() - self.started
        err_console().print(
            Text.assemble(("done", "green"), literal(f" {event.node}{detail}  {elapsed:.1f} s"))
        )


def _report(result: PipelineResult) -> None:
    from rich.text import Text

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
        if exc.thread_id is None:
            raise  # refused before it started: nothing to resume
        code = fail(exc)
        hint = f"run {exc.thread_id} failed; resume with: {resume_command(ctx, exc.thread_id)}"
        err_console().print(hint, markup=False)
        raise typer.Exit(code) from None


MAX_INPUT_TOKENS_HELP = "Refuse inputs estimated over this many tokens (default 1,000,000)."
MAX_COST_HELP = "Refuse, or stop resumably, a run over this cost in USD (default 1; paid models)."
RESUME_MAX_COST_HELP = "Stop once the run has cost this much in USD, over all its attempts."


def run(
    ctx: typer.Context,
    pipeline: Path = typer.Argument(..., help="The pipeline YAML file."),
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
) -> None:
    """Run a pipeline; results go to <data dir>/runs/<thread id>/result.json."""
    from agentrun.graphs.runtime import new_thread_id
    from agentrun.pipeline import load_pipeline

    loaded = load_pipeline(pipeline, _pairs(set_, "--set"))
    given = _inputs(input_)
    thread = thread_id or new_thread_id()
    result = _resumable(ctx, thread, lambda: loaded.run(
        given, thread_id=thread, data_dir=state(ctx).data_dir, cache=cache,
        on_event=Progress(stream), stream_text=stream, file_roots=allow_dir,
        max_input_tokens=max_input_tokens, max_cost_usd=max_cost,
    ))  # fmt: skip
    _report(result)


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
) -> None:
    """Continue a failed or killed run from its last checkpoint, with the options and the
    folders it was run with (an option given here replaces the stored one)."""
    from agentrun.pipeline import RunRecord
    from agentrun.settings import data_dir

    record = RunRecord.open(data_dir(state(ctx).data_dir), thread_id)
    pipeline: Pipeline = record.pipeline()
    options = record.options().overridden(cache=cache, stream_text=stream, max_cost_usd=max_cost)
    result = _resumable(ctx, thread_id, lambda: pipeline.resume(
        thread_id, data_dir=state(ctx).data_dir, cache=options.cache,
        on_event=Progress(options.stream_text), stream_text=options.stream_text,
        max_cost_usd=options.max_cost_usd,
    ))  # fmt: skip
    _report(result)


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
