"""What `agentrun run` shows while a run streams its events, and what `--events` writes.

One line per finished node (its tokens, cost and time), streamed model text labelled with its
step, one line per tool call, and at the end the question a waiting run asks. Every text that
comes from a model, a document or a tool is printed literally (`literal`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from agentrun.agents.ledger import node_group
from agentrun.cli._common import err_console, literal
from agentrun.graphs.events import (
    Event,
    ModelCalled,
    NodeFinished,
    PendingQuestion,
    TokenDelta,
    ToolCalled,
    event_json,
)


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
    """Renders a run's events live on standard error."""

    def __init__(self, stream: bool, events: EventLog | None = None) -> None:
        self.started = time.perf_counter()
        self.stream = stream
        self.events = events
        self.text = StreamedText(self._write)
        #: Tokens and cost of the calls of each node since it last finished.
        self.spent: dict[str, tuple[int, float]] = {}

    @staticmethod
    def _write(text: str) -> None:
        err_console().print(literal(text), end="", style="dim")

    def __call__(self, event: Event) -> None:
        if self.events is not None:
            self.events.write(event)
        if isinstance(event, TokenDelta):
            if self.stream:
                self.text.add(event.node, event.text)
        elif isinstance(event, ModelCalled):
            tokens, cost = self.spent.get(node_group(event.node), (0, 0.0))
            used = event.prompt_tokens + event.completion_tokens
            self.spent[node_group(event.node)] = (tokens + used, cost + event.cost_usd)
        elif isinstance(event, ToolCalled):
            self.text.finish()
            self._tool(event)
        elif isinstance(event, NodeFinished):
            self.text.finish()
            self._node(event)

    def _node(self, event: NodeFinished) -> None:
        from rich.text import Text

        tokens, cost = self.spent.pop(event.node, (0, 0.0))
        detail = f"  {tokens} tokens" if tokens else ""
        detail += f"  ${cost:.4f}" if cost else ""
        elapsed = time.perf_counter() - self.started
        err_console().print(
            Text.assemble(("done", "green"), literal(f" {event.node}{detail}  {elapsed:.1f} s"))
        )

    @staticmethod
    def _tool(event: ToolCalled) -> None:
        from rich.text import Text

        arguments = ", ".join(f"{k}={v!r}"[:80] for k, v in event.arguments.items())
        outcome = f"error: {event.error}" if event.error else f"{event.result_chars} chars"
        line = f" {event.node}: {event.tool}({arguments}) -> {outcome}  {event.seconds:.1f} s"
        err_console().print(Text.assemble(("tool", "cyan"), literal(line)))


def show_question(pending: PendingQuestion, answer_with: str) -> None:
    """What a waiting run asks, what to review, and the command that answers it."""
    from rich.text import Text

    out = err_console()
    out.print(
        Text.assemble(("waiting", "yellow"), literal(f" at {pending.node}: {pending.question}"))
    )
    if pending.review == "approve":
        shown = pending.value if isinstance(pending.value, str) else json.dumps(
            pending.value, ensure_ascii=False, indent=2
        )  # fmt: skip
        out.print(literal(shown))
        out.print("answer approve, reject: <reason>, or an edited value (JSON, or @file)")
    if pending.answer_schema is not None:
        out.print(literal(f"the answer must match: {json.dumps(pending.answer_schema)}"))
    out.print(literal(f"answer with: {answer_with} --answer TEXT|@file"))


class EventLog:
    """`--events FILE`: every event as one JSON line, written as it happens (owner-only)."""

    def __init__(self, path: Path) -> None:
        from agentrun.settings import open_private

        self.handle: IO[Any] = open_private(path, "w")

    def write(self, event: Event) -> None:
        self.handle.write(event_json(event) + "\n")
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


__all__ = ["EventLog", "Progress", "StreamedText", "show_question"]
