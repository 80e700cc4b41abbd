"""The `agentrun` command line: thin typer commands that call the SDK and render with rich.

Heavy modules (LiteLLM, LangGraph, chromadb) are imported inside commands, so `--help` and
`--version` answer at once. `run(argv)` returns the exit code, so the CLI is tested by calling it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from typer.exceptions import TyperException

from agentrun._version import __version__
from agentrun.cli._common import CliState, err_console, fail, literal
from agentrun.errors import EXIT_INTERRUPTED, EXIT_RUN_FAILED, EXIT_USAGE, AgentrunError

app = typer.Typer(
    name="agentrun",
    help="Graph-defined agent workflows over long context, on any model LiteLLM reaches.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"agentrun {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="Data directory (default: $AGENTRUN_DATA_DIR, else the user data dir).",
    ),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="Log events (-vv: debug)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of unexpected errors."),
) -> None:
    ctx.obj = CliState(data_dir=data_dir, verbose=verbose, debug=debug)
    if verbose:
        from agentrun.logs import configure_cli_logging

        configure_cli_logging(verbose)


def _register() -> None:
    from agentrun.cli import batch, cache, demo, eval, memory, models, pipeline, serve, workflows

    for command in (
        pipeline.run,
        pipeline.validate,
        pipeline.graph,
        pipeline.resume,
        pipeline.schema,
    ):
        app.command(command.__name__)(command)
    app.command("batch")(batch.batch)
    app.add_typer(pipeline.runs_app, name="runs")
    app.add_typer(workflows.app, name="workflows")
    app.add_typer(models.app, name="models")
    app.add_typer(cache.app, name="cache")
    app.add_typer(memory.app, name="memory")
    app.command("demo")(demo.demo)
    app.command("serve")(serve.serve)
    eval.register()
    app.add_typer(eval.app, name="eval")


_register()


def run(argv: list[str] | None = None) -> int:
    """Run the CLI with `argv` and return the exit code (0 ok, 1 run failed, 2 usage or spec,
    3 model or configuration, 130 interrupted)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        result = app(args=args, prog_name="agentrun", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        err_console().print("interrupted")
        return EXIT_INTERRUPTED
    except TyperException as exc:
        show = getattr(exc, "show", None)
        if callable(show):
            show(file=sys.stderr)
        else:
            err_console().print(literal(f"error: {exc}"))
        return EXIT_USAGE
    except AgentrunError as exc:
        return fail(exc)
    except KeyboardInterrupt:
        err_console().print("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if debug:
            raise
        hint = "(run with --debug for the traceback)"
        err_console().print(literal(f"error: unexpected {type(exc).__name__}: {exc} {hint}"))
        return EXIT_RUN_FAILED
    return result if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run())
