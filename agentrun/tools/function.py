"""Tools a model can call: typed Python functions (`@tool`), and the `Tool` base they share
with the tools of MCP servers (`agentrun.tools.mcp`).

A `Tool` has a name, a description and the JSON Schema of its arguments; `tool.spec` is the
OpenAI function spec the gateway sends (`acomplete(..., tools=[tool])`), and
`await tool.call(arguments, context=ctx)` validates the arguments and runs it. Arguments that do
not validate raise `ToolArgumentsError` naming each field and its problem, a message written for
the model to correct its call. A function's parameter annotated `ToolContext` receives the
caller's run (store, namespace, folders, gateway) and is not part of the schema.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from agentrun.agents.messages import Message, tool_result
from agentrun.agents.tool_calls import ToolCall
from agentrun.errors import ToolArgumentsError, ToolError, UsageError
from agentrun.tools.context import ToolContext

_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters)\s*:\s*$")
_PARAMETER = re.compile(r"^\s*\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


class Tool(ABC):
    """A tool a model can call; subclasses validate arguments and run."""

    def __init__(self, name: str, description: str, parameters: dict[str, Any]) -> None:
        self.name = name
        self.description = description
        self.parameters = parameters

    @property
    def spec(self) -> dict[str, Any]:
        """The OpenAI function spec (what `acomplete(tools=[...])` sends)."""
        function: dict[str, Any] = {"name": self.name, "parameters": self.parameters}
        if self.description:
            function["description"] = self.description
        return {"type": "function", "function": function}

    async def call(
        self, arguments: Mapping[str, Any] | None = None, *, context: ToolContext | None = None
    ) -> Any:
        """Validate `arguments` (raising `ToolArgumentsError`), then run the tool in the
        caller's `context`."""
        return await self._run(self.validate(dict(arguments or {})), context)

    @property
    def arguments_model(self) -> type[BaseModel] | None:
        """The pydantic model of the arguments, when the tool has one (a pipeline checks literal
        arguments against it before the run); None when only `validate` knows."""
        return None

    @abstractmethod
    def validate(self, arguments: dict[str, Any]) -> Any:
        """The arguments in the form `_run` takes; `ToolArgumentsError` if they do not fit."""

    @abstractmethod
    async def _run(self, arguments: Any, context: ToolContext | None) -> Any: ...

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class FunctionTool(Tool):
    """A Python function as a tool; calling the object calls the function itself."""

    def __init__(
        self,
        function: Callable[..., Any],
        name: str,
        description: str,
        arguments: type[BaseModel],
    ) -> None:
        super().__init__(name, description, compact_schema(arguments.model_json_schema()))
        self.function = function
        self.arguments = arguments
        self.is_async = inspect.iscoroutinefunction(function)
        #: The parameter that receives the caller's `ToolContext`, if the function has one.
        self.context_parameter = context_parameter(function)

    @property
    def arguments_model(self) -> type[BaseModel]:
        return self.arguments

    def validate(self, arguments: dict[str, Any]) -> BaseModel:
        try:
            return self.arguments.model_validate(arguments)
        except ValidationError as exc:
            raise ToolArgumentsError(self.name, argument_problems(exc)) from None

    async def _run(self, arguments: Any, context: ToolContext | None) -> Any:
        values = {name: getattr(arguments, name) for name in type(arguments).model_fields}
        if self.context_parameter is not None:
            if context is None and not self._context_optional():
                raise UsageError(
                    f"tool {self.name!r} uses the run's context; call it with "
                    "`await tool.call(arguments, context=ToolContext(...))`"
                )
            values[self.context_parameter] = context
        if self.is_async:
            return await self.function(**values)
        return await asyncio.to_thread(self.function, **values)

    def _context_optional(self) -> bool:
        assert self.context_parameter is not None
        parameter = inspect.signature(self.function).parameters[self.context_parameter]
        return parameter.default is None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)


@overload
def tool(function: Callable[..., Any], /) -> FunctionTool: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Turn a typed function (sync or async) into a `FunctionTool`: `@tool` or `@tool(name=...)`.

    The description is the docstring's first paragraph, and each parameter's description comes
    from its `Args:` section; every parameter needs a type annotation.
    """

    def build(function: Callable[..., Any]) -> FunctionTool:
        doc = inspect.getdoc(function) or ""
        summary, documented = parse_docstring(doc)
        tool_name = name or function.__name__
        model = arguments_model(function, tool_name, documented)
        return FunctionTool(function, tool_name, description or summary, model)

    return build(function) if function is not None else build


def arguments_model(
    function: Callable[..., Any], tool_name: str, descriptions: Mapping[str, str]
) -> type[BaseModel]:
    """A pydantic model of the function's parameters (extra arguments are refused)."""
    hints = get_type_hints(function, include_extras=True)
    fields: dict[str, Any] = {}
    injected = context_parameter(function)
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name == injected:
            continue  # the caller's run, never the model's to give
        where = f"@tool {tool_name}: parameter {parameter.name!r}"
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise UsageError(f"{where}: *args and **kwargs cannot be described to a model")
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise UsageError(f"{where}: positional-only parameters cannot be passed by name")
        if parameter.name not in hints:
            raise UsageError(f"{where} has no type annotation; annotate it (e.g. `: str`)")
        default = ... if parameter.default is parameter.empty else parameter.default
        field = Field(default, description=descriptions.get(parameter.name))
        fields[parameter.name] = (hints[parameter.name], field)
    config = ConfigDict(extra="forbid")
    model_name = f"{''.join(part.title() for part in re.split(r'[^A-Za-z0-9]+', tool_name))}Args"
    return create_model(model_name, __config__=config, **fields)


def context_parameter(function: Callable[..., Any]) -> str | None:
    """The parameter annotated `ToolContext` (or `ToolContext | None`), if there is one."""
    try:
        hints = get_type_hints(function)
    except (NameError, TypeError):
        return None
    for name, hint in hints.items():
        options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        if typing.get_origin(hint) is typing.Union:
            options = typing.get_args(hint)
        if name != "return" and ToolContext in options:
            return name
    return None


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The first paragraph, and the parameter descriptions of a Google-style `Args:` section."""
    first = re.split(r"\n\s*\n", doc.strip(), maxsplit=1)[0]
    if _SECTION.match(first.split("\n", 1)[0]):
        first = ""  # no summary: the docstring opens with its Args section
    summary = " ".join(line.strip() for line in first.splitlines())
    descriptions: dict[str, str] = {}
    current: str | None = None
    in_args = False
    indent = 0
    for line in doc.splitlines():
        if _SECTION.match(line):
            in_args, current = True, None
            continue
        if not in_args or not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        entry = _PARAMETER.match(line)
        if current is not None and depth < indent:
            in_args = False  # dedented past the parameters: the next section
        elif entry and (current is None or depth == indent):
            current, indent = entry.group(1), depth
            descriptions[current] = entry.group(2).strip()
        elif current is not None:
            descriptions[current] = f"{descriptions[current]} {line.strip()}".strip()
    return summary, descriptions


def argument_problems(error: ValidationError) -> list[str]:
    """One line per problem: the field, what is wrong, and what was given."""
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "(arguments)"
        given = "" if item["type"] == "missing" else f" (got {_short(repr(item['input']))})"
        problems.append(f"{where}: {item['msg']}{given}")
    return problems


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without pydantic's generated titles, which cost a model tokens and tell it
    nothing the names do not."""

    def walk(node: Any, under_properties: bool = False) -> Any:
        if isinstance(node, dict):
            return {
                key: walk(value, under_properties=key in ("properties", "$defs"))
                for key, value in node.items()
                if under_properties or key != "title"
            }
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(schema)  # type: ignore[no-any-return]


def chosen_tool(tools: Sequence[Tool] | Mapping[str, Tool], call: ToolCall) -> Tool | str:
    """The tool `call` names, or what is wrong with the call (malformed, or no such tool)."""
    by_name = tools if isinstance(tools, Mapping) else {tool.name: tool for tool in tools}
    if call.error is not None:
        return call.error
    chosen = by_name.get(call.name)
    if chosen is None:
        return f"no tool {call.name!r} (tools: {', '.join(by_name)})"
    return chosen


async def run_tool_call(
    tools: Sequence[Tool] | Mapping[str, Tool],
    call: ToolCall,
    *,
    context: ToolContext | None = None,
) -> Message:
    """The tool message answering `call`: the tool's result, or, for a call the model got wrong
    or a tool that failed (`ToolError`), the error for the model to act on."""
    chosen = chosen_tool(tools, call)
    if isinstance(chosen, str):
        return tool_result(call, f"error: {chosen}")
    try:
        return tool_result(call, await chosen.call(call.arguments, context=context))
    except ToolError as exc:
        return tool_result(call, f"error: {exc}")
