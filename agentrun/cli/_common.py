"""What every command shares: the global options, consoles, and error rendering."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from agentrun.errors import AgentrunError


@dataclass(frozen=True)
class CliState:
    data_dir: Path | None = None
    verbose: int = 0
    debug: bool = False


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliState) else CliState()


@functools.cache
def console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


@functools.cache
def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def fail(error: AgentrunError) -> int:
    """Print one line for an error and return its exit code."""
    err_console().print(f"error: {error}", markup=False, style="bold red", soft_wrap=True)
    return error.exit_code
