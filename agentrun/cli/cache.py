"""`agentrun cache clear`: forget every cached model response."""

from __future__ import annotations

import typer

from agentrun.cli._common import console, state

app = typer.Typer(help="Manage the response cache.", no_args_is_help=True)


@app.command("clear")
def clear(ctx: typer.Context) -> None:
    """Delete every cached response under the data directory."""
    from agentrun.agents.cache import response_cache

    cache = response_cache(state(ctx).data_dir)
    removed = cache.clear()
    console().print(f"removed {removed} cached responses from {cache.root}")
