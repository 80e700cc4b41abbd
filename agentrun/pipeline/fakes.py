"""Scripted replies for the `fake/` models of a pipeline, read from a replies file.

A replies file is YAML: either a list of replies (used in order, the last one repeated), or a
list of rules `{when: <regex>, reply: ...}` tried in order against the prompt, tool results
included (a rule without `when` always matches). A reply is a text, or tool calls:
`{tool_calls: [{name: file.read, arguments: {path: notes.txt}}], text: ...}`. Rules make a
fake pipeline deterministic whatever the order of its calls, which resumed runs rely on. Each
fake alias names its own file; the file is read and checked when the pipeline is validated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentrun.agents.messages import Message, text_of
from agentrun.errors import SpecError, UsageError
from agentrun.pipeline import load as spec_loader
from agentrun.pipeline.spec import ModelSpec
from agentrun.tools.sandbox import FileRoots

if TYPE_CHECKING:
    from agentrun.agents.testing import Answer


@dataclass(frozen=True)
class Rule:
    reply: Answer
    when: re.Pattern[str] | None = None


@dataclass
class Script:
    rules: list[Rule]
    sequence: list[Answer]
    position: int = 0

    def answer(self, prompt: str) -> Answer:
        if self.sequence:
            reply = self.sequence[min(self.position, len(self.sequence) - 1)]
            self.position += 1
            return reply
        for rule in self.rules:
            if rule.when is None or rule.when.search(prompt):
                return rule.reply
        return "NONE"


RULE_KEYS = ("when", "reply")
CALL_KEYS = ("tool_calls", "text")


def _reply(value: Any, where: str) -> Answer:
    """A reply as written: a text (numbers and booleans as their text), or tool calls."""
    if not isinstance(value, dict):
        return str(value)
    unknown = [str(key) for key in value if key not in CALL_KEYS]
    calls = value.get("tool_calls")
    if unknown or not isinstance(calls, list) or not calls:
        found = f"unknown key {unknown[0]!r}" if unknown else "no list of `tool_calls`"
        raise SpecError(f"{where}: {found}; a reply is a text or {{tool_calls: [{{name: ..., "
                        "arguments: {...}}], text: ...}")  # fmt: skip
    from agentrun.agents.testing import ScriptedToolCalls  # loads LiteLLM: only when needed

    try:
        return ScriptedToolCalls(calls, text=str(value.get("text") or ""))
    except (UsageError, AttributeError, TypeError) as exc:
        raise SpecError(f"{where}: bad tool_calls: {exc}") from None


def load_script(path: Path) -> Script:
    """The replies in `path`; a `SpecError` naming file:line:column for anything malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read replies: {exc}") from exc
    data, source = spec_loader.load_yaml(text, str(path))
    if not isinstance(data, list) or not data:
        raise SpecError(f"{path}:1:1: replies must be a non-empty list (strings or rules)")
    if all(isinstance(item, str) or (isinstance(item, dict) and "tool_calls" in item)
           for item in data):  # fmt: skip
        sequence = [_reply(item, source.where(source.locate([i]))) for i, item in enumerate(data)]
        return Script(rules=[], sequence=sequence)
    rules = []
    for index, item in enumerate(data):
        where = source.where(source.locate([index]))
        expected = "expected a rule {when: <regex>, reply: <text>} (or make every item a string)"
        if not isinstance(item, dict):
            raise SpecError(f"{where}: item {index}: {expected}")
        unknown = [str(key) for key in item if key not in RULE_KEYS]
        if unknown or "reply" not in item:
            found = f"unknown key {unknown[0]!r}" if unknown else "no `reply`"
            raise SpecError(f"{where}: item {index}: {found}; a rule has the keys when, reply")
        try:
            pattern = re.compile(str(item["when"]), re.S) if item.get("when") else None
        except re.error as exc:
            raise SpecError(f"{where}: item {index}: `when` is not a valid regex: {exc}") from None
        reply = _reply(item["reply"], source.where(source.locate([index, "reply"])))
        rules.append(Rule(reply=reply, when=pattern))
    return Script(rules=rules, sequence=[])


class FakeReplies:
    """A scripted model's reply function that routes by fake model name."""

    def __init__(self, scripts: Mapping[str, Script]) -> None:
        self.scripts = dict(scripts)

    @classmethod
    def from_models(cls, models: Mapping[str, ModelSpec], roots: FileRoots) -> FakeReplies:
        """Each model's replies file, found inside the spec's folders."""
        scripts = {}
        for model in models.values():
            name = model.model.split("/", 1)[1]
            scripts[name] = (
                load_script(roots.resolve(model.replies))
                if model.replies
                else Script([Rule("ok")], [])
            )
        return cls(scripts)

    def __call__(self, messages: list[Message], model: str = "") -> Answer:
        script = self.scripts.get(model) or next(iter(self.scripts.values()))
        return script.answer(text_of(messages))
