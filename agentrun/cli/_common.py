"""What every command shares: the global options, consoles, and error rendering.

Model, document, tool and error text is printed with `literal()`: as written, with no rich
markup or emoji codes read into it, and control characters shown as escapes, so no text a
model writes can recolour, clear, retitle or overwrite the terminal.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from pydantic import ValidationError
    from rich.console import Console
    from rich.text import Text

    from agentrun.errors import AgentrunError, UsageError


@dataclass(frozen=True)
class CliState:
    data_dir: Path | None = None
    verbose: int = 0
    debug: bool = False


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliState) else CliState()


#: Characters that would move the cursor, recolour, clear or retitle the terminal, or reorder
#: the text around them (bidirectional controls); newline and tab are kept.
_UNSAFE = (*range(0x00, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_ESCAPES = {code: repr(chr(code))[1:-1] for code in _UNSAFE if chr(code) not in "\n\t"}


def visible(text: str) -> str:
    """`text` with its control characters written as Python escapes (ESC as `\\x1b`)."""
    return text.translate(_ESCAPES)


def literal(text: object) -> Text:
    """Text from a model, a document, a tool or an error, to print as it is: a `Text` is never
    read for markup or emoji codes, and its control characters are made visible."""
    from rich.text import Text

    return Text(visible(str(text)))


def _console(stderr: bool) -> Console:
    from rich.console import Console

    class LiteralConsole(Console):
        """No markup, emoji codes or highlighting unless asked for, and control characters
        visible in every string printed (table cells and status lines included)."""

        def render_str(self, text: str, **options: Any) -> Text:
            return super().render_str(visible(text), **options)

    return LiteralConsole(stderr=stderr, markup=False, emoji=False, highlight=False, soft_wrap=True)


@functools.cache
def console() -> Console:
    return _console(stderr=False)


@functools.cache
def err_console() -> Console:
    return _console(stderr=True)


def fail(error: AgentrunError) -> int:
    """Print one line for an error and return its exit code."""
    err_console().print(literal(f"error: {error}"), style="bold red")
    return error.exit_code


def option_error(exc: ValidationError, unnamed: str = "options") -> UsageError:
    """The command-line option behind the first problem of an options model (`--max-hops`);
    `unnamed` for a problem of the whole model."""
    from agentrun.errors import UsageError

    first = exc.errors()[0]
    name = ".".join(str(part) for part in first["loc"]) or unnamed
    return UsageError(f"--{name.replace('_', '-')}: {first['msg']}")
