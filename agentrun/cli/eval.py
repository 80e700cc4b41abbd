"""`agentrun eval ...`: the evaluation suites. Each command lives in its eval's own module."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run evaluations and write JSON + PNG reports.", no_args_is_help=True)


def register() -> None:
    """Add each eval's command; the modules import their heavy parts inside the command."""
    from agentrun.cli import eval_long_doc_qa, eval_retrieve_then_reason

    app.command("long-doc-qa")(eval_long_doc_qa.command)
    app.command("retrieve-then-reason")(eval_retrieve_then_reason.command)

    from agentrun.cli import eval_navigation

    app.command("navigation")(eval_navigation.command)

    from agentrun.cli import eval_longbench_write

    app.command("longbench-write")(eval_longbench_write.command)

    from agentrun.cli import eval_tool_use

    app.command("tool-use")(eval_tool_use.command)

    from agentrun.cli import eval_long_video

    app.command("long-video")(eval_long_video.command)
