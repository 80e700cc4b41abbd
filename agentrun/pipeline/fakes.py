"""Scripted replies for the `fake/` models of a pipeline, read from a replies file.

A replies file is YAML: either a list of strings (used in order, the last one repeated), or a
list of rules `{when: <regex>, reply: <text>}` tried in order against the prompt (a rule without
`when` always matches). Rules make a fake pipeline deterministic whatever the order of its
calls, which resumed runs rely on. Each fake alias names its own file; the file is read and
checked when the pipeline is validated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agentrun.agents.messages import Message, text_of
from agentrun.errors import SpecError
from agentrun.pipeline import load as spec_loader
from agentrun.pipeline.spec import ModelSpec
from agentrun.tools.sandbox import FileRoots


@dataclass(frozen=True)
class Rule:
    reply: str
    when: re.Pattern[str] | None = None


@dataclass
class Script:
    rules: list[Rule]
    sequence: list[str]
    position: int = 0

    def answer(self, prompt: str) -> str:
        if self.sequence:
            reply = self.sequence[min(self.position, len(self.sequence) - 1)]
            self.position += 1
            return reply
        for rule in self.rules:
            if rule.when is None or rule.when.search(prompt):
                return rule.reply
        return "NONE"


RULE_KEYS = ("when", "reply")


def load_script(path: Path) -> Script:
    """The replies in `path`; a `SpecError` naming file:line:column for anything malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read replies: {exc}") from exc
    data, source = spec_loader.load_yaml(text, str(path))
    if not isinstance(data, list) or not data:
        raise SpecError(f"{path}:1:1: replies must be a non-empty list (strings or rules)")
    if all(isinstance(item, str) for item in data):
        return Script(rules=[], sequence=list(data))
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
        rules.append(Rule(reply=str(item["reply"]), when=pattern))
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

    def __call__(self, messages: list[Message], model: str = "") -> str:
        script = self.scripts.get(model) or next(iter(self.scripts.values()))
        return script.answer(text_of(messages))
