"""The tool registry: built-ins, plugins' entry points (one tool or a list), tools registered
at run time; loaded only when asked for, and an unknown name lists the known ones."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint

import pytest

from agentrun.errors import ConfigError, UsageError
from agentrun.tools import registry
from agentrun.tools.function import tool


def point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=registry.TOOLS_GROUP)


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, EntryPoint]]:
    """Entry points the test declares, and a registry that forgets what it loaded after."""
    declared: dict[str, EntryPoint] = {}
    monkeypatch.setattr(registry, "_plugins", lambda: declared)
    monkeypatch.setattr(registry, "_plugins_loaded", set())
    monkeypatch.setattr(registry, "_loaded", {})
    monkeypatch.setattr(registry, "_registered", {})
    yield declared


def test_built_ins_are_found_by_name(plugins: dict[str, EntryPoint]) -> None:
    assert registry.tool_names() == ["file.list", "file.read", "memory.put", "memory.search"]
    found = registry.get_tool("file.read")
    assert found.name == "file.read" and "path" in found.parameters["properties"]
    assert "ctx" not in found.parameters["properties"]  # the run's context is not the model's
    assert registry.tool_source("memory.search") == "built-in"


def test_plugins_declare_one_tool_or_a_list(plugins: dict[str, EntryPoint]) -> None:
    plugins["weather.forecast"] = point("weather.forecast", "tests.tools.plugin_tools:forecast")
    plugins["units"] = point("units", "tests.tools.plugin_tools:UNITS")
    assert registry.get_tool("weather.forecast").name == "weather.forecast"
    assert registry.get_tool("units.to_feet").name == "units.to_feet"
    assert "units.to_metres" in registry.tool_names()
    assert registry.tool_source("units.to_feet") == "plugin"


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("broken", "tests.tools.no_such_module:x", "does not load: ModuleNotFoundError"),
        ("three", "tests.tools.plugin_tools:NOT_A_TOOL", "3 is not an agentrun Tool"),
        ("weather", "tests.tools.plugin_tools:forecast", "the tool is named 'weather.forecast'"),
    ],
)
def test_a_bad_plugin_is_a_clear_configuration_error(
    name: str, value: str, problem: str, plugins: dict[str, EntryPoint]
) -> None:
    plugins[name] = point(name, value)
    with pytest.raises(ConfigError, match=f"plugin entry point '{value}'") as caught:
        registry.get_tool(name)
    assert problem in str(caught.value)


def test_tools_registered_at_run_time(plugins: dict[str, EntryPoint]) -> None:
    @registry.register_tool
    @tool(name="shop.price")
    def price(item: str) -> int:
        """The price of an item."""
        return len(item)

    assert registry.get_tool("shop.price") is price
    assert registry.tool_source("shop.price") == "registered"
    registry.register_tool(price)  # the same tool again is fine
    with pytest.raises(UsageError, match=r"a tool named 'file\.read' exists already"):
        registry.register_tool(tool(name="file.read")(price.function))
    with pytest.raises(ConfigError, match="tool name 'bad name' is not usable"):
        registry.register_tool(tool(name="bad name")(price.function))


def test_an_unknown_name_lists_the_known_ones(plugins: dict[str, EntryPoint]) -> None:
    with pytest.raises(UsageError) as caught:
        registry.get_tool("file.reed")
    assert str(caught.value) == (
        "unknown tool 'file.reed'; did you mean 'file.read'? "
        "(tools: file.list, file.read, memory.put, memory.search)"
    )
