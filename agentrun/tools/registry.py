"""Tools by name: the built-ins, those plugins declare, and those registered at run time.

Pipelines and agents name tools by their registered name only (never by import path). A plugin
package declares its tools as entry points of the group `agentrun.tools`: an entry point names a
`Tool` (then the entry point's name is the tool's name) or a list of `Tool`s (then its name is
only a label). A program calls `agentrun.register_tool(my_tool)`. Nothing is imported until a
tool is asked for, and an unknown name is an error that lists the known ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from importlib.metadata import EntryPoint
from typing import Any, TypeVar

from agentrun import plugins
from agentrun.errors import ConfigError, UsageError
from agentrun.tools.function import Tool

T = TypeVar("T", bound=Tool)

TOOLS_GROUP = "agentrun.tools"
#: A tool name: labels of letters, digits, `_` and `-`, joined by dots (`memory.search`).
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$")

#: The tools agentrun ships: name -> "module:attribute".
BUILTIN: dict[str, str] = {
    "memory.search": "agentrun.tools.memory:memory_search",
    "memory.put": "agentrun.tools.memory:memory_put",
    "file.read": "agentrun.tools.files:file_read",
    "file.list": "agentrun.tools.files:file_list",
}

_registered: dict[str, Tool] = {}
_loaded: dict[str, Tool] = {}
_sources: dict[str, str] = {}


def register_tool(tool: T) -> T:
    """Make `tool` known by its name; usable as a decorator over `@tool`. A name already taken
    by another tool is an error: pick another name."""
    check_tool(tool, f"register_tool({tool!r})")
    taken = _registered.get(tool.name) or _loaded.get(tool.name)
    if tool.name in BUILTIN or (taken is not None and taken is not tool):
        raise UsageError(f"a tool named {tool.name!r} exists already; give yours another name")
    _registered[tool.name] = tool
    return tool


def check_tool(tool: Any, where: str) -> None:
    """Refuse what is not a usable Tool, saying why."""
    if not isinstance(tool, Tool):
        raise ConfigError(f"{where}: {tool!r} is not an agentrun Tool (make one with @tool)")
    if not NAME.match(tool.name):
        raise ConfigError(
            f"{where}: tool name {tool.name!r} is not usable; use letters, digits, _ and -, in "
            "labels joined by dots (e.g. 'weather.forecast')"
        )


@cache
def _plugins() -> dict[str, EntryPoint]:
    """Entry points of installed plugins, read once per process (importing nothing)."""
    return plugins.declared(TOOLS_GROUP)


_plugins_loaded: set[str] = set()


def tool_names() -> list[str]:
    """Every tool name, sorted (plugins that declare lists of tools are loaded to name them)."""
    for name in list(_plugins()):
        _load_plugin(name)
    return sorted({*BUILTIN, *_registered, *_loaded})


def tool_source(name: str) -> str:
    """Where a tool comes from: `built-in`, `plugin <distribution>` or `registered`."""
    if name in _registered:
        return "registered"
    if name in BUILTIN:
        return "built-in"
    get_tool(name)
    return _sources.get(name, "plugin")


def find_tool(name: str) -> Tool | None:
    """The tool registered as `name`, or None (loading what may declare it)."""
    found = _registered.get(name) or _loaded.get(name)
    if found is not None:
        return found
    if name in BUILTIN:
        found = plugins.import_attribute(BUILTIN[name])
        assert isinstance(found, Tool)
        _loaded[name] = found
        return found
    if name in _plugins():
        _load_plugin(name)
    else:
        for plugin in list(_plugins()):  # lists of tools declare names only when loaded
            _load_plugin(plugin)
    return _loaded.get(name)


def get_tool(name: str) -> Tool:
    """The tool registered as `name`; an unknown name lists the known ones."""
    found = find_tool(name)
    if found is None:
        raise UsageError(unknown_tool(name))
    return found


def unknown_tool(name: str, also: Iterable[str] = ()) -> str:
    """The message for an unknown tool: a close name, and every name (with `also`)."""
    return plugins.unknown_name("tool", name, [*tool_names(), *also], listed_as="tools")


def _load_plugin(name: str) -> None:
    if name in _plugins_loaded:
        return
    _plugins_loaded.add(name)
    point = _plugins()[name]
    where = plugins.entry_point_place(point, TOOLS_GROUP, name)
    loaded = plugins.load_entry_point(point, TOOLS_GROUP, name)
    if isinstance(loaded, list | tuple):
        tools = list(loaded)
    else:
        tools = [loaded]
        if isinstance(loaded, Tool) and loaded.name != name:
            raise ConfigError(f"{where}: the tool is named {loaded.name!r}; make the entry "
                              "point's name and the tool's name the same")  # fmt: skip
    source = plugins.plugin_source(point)
    for tool in tools:
        check_tool(tool, where)
        if tool.name in BUILTIN or tool.name in _registered or tool.name in _loaded:
            raise ConfigError(f"{where}: a tool named {tool.name!r} exists already")
        _loaded[tool.name] = tool
        _sources[tool.name] = source


__all__ = [
    "BUILTIN",
    "TOOLS_GROUP",
    "find_tool",
    "get_tool",
    "register_tool",
    "tool_names",
    "tool_source",
    "unknown_tool",
]
