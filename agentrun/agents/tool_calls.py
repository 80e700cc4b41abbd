"""Tool calls: the tools offered to a model, and the calls it replies with, in one typed form.

Requests carry OpenAI-format function specs, which LiteLLM translates for every provider it
reaches; whatever the provider, a reply's calls become `ToolCall`s with the arguments parsed and
the raw JSON kept. Providers accept tool names matching `^[A-Za-z0-9_-]{1,64}$` only, so a name
such as `files.read` travels as `files_read` and comes back as `files.read`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from agentrun.errors import UsageError

ToolChoice = Literal["auto", "none", "required"] | str | dict[str, Any]

_CHOICES = ("auto", "none", "required")
_NOT_ON_THE_WIRE = re.compile(r"[^A-Za-z0-9_-]")


@runtime_checkable
class ToolSpecSource(Protocol):
    """Anything with an OpenAI-format function spec: agentrun's `Tool` objects, for one."""

    @property
    def spec(self) -> dict[str, Any]: ...


ToolLike = Mapping[str, Any] | ToolSpecSource


@dataclass(frozen=True)
class ToolCall:
    """One call a model asked for. `arguments` is `{}` and `error` says why when the model's
    JSON (`raw_arguments`, kept as sent) is not a JSON object, or names a tool not offered."""

    id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str
    error: str | None = None

    @classmethod
    def parse(cls, id: str, name: str, arguments: str | Mapping[str, Any] | None) -> ToolCall:
        """A call from the model's arguments, a JSON text (possibly malformed) or a mapping."""
        if isinstance(arguments, Mapping):
            value = dict(arguments)
            return cls(id, name, value, json.dumps(value, ensure_ascii=False))
        raw = arguments or ""
        if not raw.strip():
            return cls(id, name, {}, raw)
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as exc:
            problem = f"the arguments are not valid JSON ({exc.msg}, character {exc.pos})"
            return cls(id, name, {}, raw, f"{problem}; send one JSON object")
        if not isinstance(parsed, dict):
            kind = type(parsed).__name__
            return cls(id, name, {}, raw, f"the arguments must be a JSON object, not a {kind}")
        return cls(id, name, parsed, raw)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCall:
        """The inverse of `dataclasses.asdict` (cache entries, checkpoints)."""
        return cls(
            id=data["id"],
            name=data["name"],
            arguments=dict(data.get("arguments") or {}),
            raw_arguments=data.get("raw_arguments", ""),
            error=data.get("error"),
        )

    def to_openai(self) -> dict[str, Any]:
        """The call as an assistant message carries it (the raw JSON, as the model sent it)."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.raw_arguments or "{}"},
        }

    def with_error(self, error: str) -> ToolCall:
        return ToolCall(self.id, self.name, self.arguments, self.raw_arguments, error)


def as_tool_calls(items: Iterable[ToolCall | Mapping[str, Any]]) -> list[ToolCall]:
    """Calls given as `ToolCall`s or `{"name", "arguments", "id"?}` dicts (for scripted replies);
    a missing id becomes `call_<position>`."""
    calls: list[ToolCall] = []
    for index, item in enumerate(items):
        if isinstance(item, ToolCall):
            calls.append(item)
            continue
        if "name" not in item:
            raise UsageError(f"tool call {index}: needs a 'name' (and 'arguments')")
        arguments = item.get("arguments")
        calls.append(ToolCall.parse(item.get("id") or f"call_{index}", item["name"], arguments))
    return calls


# --- the request side ----------------------------------------------------------------------------


def tool_specs(tools: Sequence[ToolLike]) -> list[dict[str, Any]]:
    """OpenAI-format specs for the tools offered: spec dicts, bare function dicts or `Tool`s."""
    specs: list[dict[str, Any]] = []
    seen: dict[str, str] = {}  # wire name -> name
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        spec = tool.spec if isinstance(tool, ToolSpecSource) else tool
        if not isinstance(spec, Mapping):
            raise UsageError(f"{where}: give a function spec dict or a Tool, not {type(tool)}")
        function = (
            spec.get("function", spec) if spec.get("type", "function") == "function" else None
        )
        if not isinstance(function, Mapping):
            raise UsageError(f"{where}: only function tools are supported (type: function)")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise UsageError(f"{where}: the function needs a 'name'")
        if name in seen.values():
            raise UsageError(f"{where}: the tool name {name!r} is offered twice")
        if wire_name(name) in seen:
            raise UsageError(
                f"{where}: tools {seen[wire_name(name)]!r} and {name!r} both travel as "
                f"{wire_name(name)!r} (providers accept letters, digits, _ and - only); rename one"
            )
        seen[wire_name(name)] = name
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(parameters, Mapping) or parameters.get("type", "object") != "object":
            raise UsageError(f"{where} ({name}): 'parameters' must be a JSON Schema of an object")
        entry: dict[str, Any] = {"name": name, "parameters": dict(parameters)}
        if function.get("description"):
            entry["description"] = str(function["description"])
        specs.append({"type": "function", "function": entry})
    return specs


def spec_names(specs: Sequence[Mapping[str, Any]]) -> list[str]:
    return [spec["function"]["name"] for spec in specs]


def tool_choice_of(choice: ToolChoice | None, names: Sequence[str]) -> str | dict[str, Any] | None:
    """ "auto", "none", "required", or `{"type": "function", ...}` for a tool named by a string
    or given in that form already; a name not offered is an error."""
    if choice is None or choice in _CHOICES:
        return choice
    if isinstance(choice, str):
        name = choice
    elif isinstance(choice, Mapping) and isinstance(choice.get("function"), Mapping):
        name = choice["function"].get("name", "")
    else:
        raise UsageError(
            f"tool_choice: use 'auto', 'none', 'required' or a tool name, not {choice!r}"
        )
    if name not in names:
        offered = ", ".join(names) or "no tools"
        raise UsageError(f"tool_choice names {name!r}, which is not offered (offered: {offered})")
    return {"type": "function", "function": {"name": name}}


def request_fields(
    tools: Sequence[ToolLike] | None, choice: ToolChoice | None, parallel: bool | None = None
) -> dict[str, Any]:
    """The `tools`, `tool_choice` and `parallel_tool_calls` fields of a request (none without
    tools)."""
    specs = tool_specs(tools or [])
    if not specs:
        if choice not in (None, "none"):
            raise UsageError(f"tool_choice={choice!r} needs tools; pass tools=[...]")
        return {}
    fields: dict[str, Any] = {"tools": specs}
    normalized = tool_choice_of(choice, spec_names(specs))
    if normalized is not None:
        fields["tool_choice"] = normalized
    if parallel is not None:
        fields["parallel_tool_calls"] = parallel
    return fields


def chosen_tool(choice: str | dict[str, Any] | None) -> str | None:
    """The tool a `tool_choice` names, if it names one."""
    return choice["function"]["name"] if isinstance(choice, dict) else None


def uses_tools(request: Mapping[str, Any]) -> bool:
    """Whether the request offers tools or its messages hold calls or results."""
    return bool(request.get("tools")) or any(
        message.get("tool_calls") or message.get("role") == "tool"
        for message in request["messages"]
    )


# --- names on the wire (native tool calls) ---------------------------------------------------


def wire_name(name: str) -> str:
    return _NOT_ON_THE_WIRE.sub("_", name)[:64]


def native_request(request: dict[str, Any]) -> dict[str, Any]:
    """The request with every tool name in the form providers accept."""
    specs = request.get("tools") or []
    if all(wire_name(name) == name for name in spec_names(specs)) and not _renamed_calls(request):
        return request
    updated = {**request, "messages": [_wire_message(m) for m in request["messages"]]}
    if specs:
        updated["tools"] = [
            {**spec, "function": {**spec["function"], "name": wire_name(spec["function"]["name"])}}
            for spec in specs
        ]
    choice = request.get("tool_choice")
    if isinstance(choice, dict):
        updated["tool_choice"] = {
            "type": "function",
            "function": {"name": wire_name(chosen_tool(choice) or "")},
        }
    return updated


def _renamed_calls(request: Mapping[str, Any]) -> bool:
    return any(
        wire_name(call["function"]["name"]) != call["function"]["name"]
        for message in request["messages"]
        for call in message.get("tool_calls") or []
    )


def _wire_message(message: dict[str, Any]) -> dict[str, Any]:
    calls = message.get("tool_calls")
    if not calls:
        return message
    return {
        **message,
        "tool_calls": [
            {**call, "function": {**call["function"], "name": wire_name(call["function"]["name"])}}
            for call in calls
        ],
    }


# --- the reply side --------------------------------------------------------------------------


def native_calls(message: Any, request: Mapping[str, Any]) -> list[ToolCall]:
    """The tool calls on a LiteLLM reply message (OpenAI's shape for every provider), with
    names mapped back and calls of tools not offered flagged."""
    raw_calls = getattr(message, "tool_calls", None) or []
    legacy = getattr(message, "function_call", None)
    if not raw_calls and legacy is not None and getattr(legacy, "name", None):
        raw_calls = [_Legacy(legacy)]
    names = spec_names(request.get("tools") or [])
    by_wire = {wire_name(name): name for name in names}
    calls: list[ToolCall] = []
    for index, raw in enumerate(raw_calls):
        function = getattr(raw, "function", None)
        wire = getattr(function, "name", None) or ""
        call = ToolCall.parse(
            getattr(raw, "id", None) or f"call_{index}",
            by_wire.get(wire, wire),
            getattr(function, "arguments", None),
        )
        calls.append(offered_or_flagged(call, names))
    return calls


def offered_or_flagged(call: ToolCall, names: Sequence[str]) -> ToolCall:
    if call.name in names:
        return call
    offered = ", ".join(names) or "none"
    return call.with_error(f"no tool {call.name!r} is offered (tools: {offered})")


@dataclass(frozen=True)
class _Legacy:
    """A reply in the deprecated `function_call` form, shaped like one tool call."""

    function: Any
    id: str = "call_0"
