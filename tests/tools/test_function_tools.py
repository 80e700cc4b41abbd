"""`@tool`: typed functions as tools with schemas, validation and calls (sync and async)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from agentrun.agents import Gateway
from agentrun.agents.testing import ScriptedToolCalls, scripted_model
from agentrun.agents.tool_calls import ToolCall
from agentrun.errors import ToolArgumentsError, UsageError
from agentrun.tools.function import FunctionTool, parse_docstring, run_tool_call, tool


class Point(BaseModel):
    x: float
    y: float


@tool
def forecast(city: str, days: int = 1, unit: Literal["C", "F"] = "C") -> str:
    """The weather forecast for a city.

    Uses the national service; slow at night.

    Args:
        city: The city's name,
            in English.
        days (int): How many days ahead.
        unit: Temperature unit.

    Returns:
        The forecast: one line per day.
    """
    return f"{city}: {days} day(s) in {unit}"


@tool(name="geo.distance", description="Distance between two points.")
async def distance(a: Point, b: Point, scale: Annotated[float, Field(gt=0)] = 1.0) -> float:
    return float(((a.x - b.x) ** 2 + (a.y - b.y) ** 2) ** 0.5 * scale)


def test_the_spec_is_an_openai_function_with_the_docstring() -> None:
    spec = forecast.spec
    assert spec["type"] == "function"
    function = spec["function"]
    assert function["name"] == "forecast"
    assert function["description"] == "The weather forecast for a city."
    parameters = function["parameters"]
    assert parameters["required"] == ["city"]
    assert parameters["additionalProperties"] is False
    assert parameters["properties"]["city"] == {
        "type": "string",
        "description": "The city's name, in English.",
    }
    assert parameters["properties"]["days"]["description"] == "How many days ahead."
    assert parameters["properties"]["unit"]["enum"] == ["C", "F"]
    assert "title" not in parameters and "title" not in parameters["properties"]["days"]
    jsonschema.Draft202012Validator.check_schema(parameters)


def test_a_named_tool_with_models_in_its_arguments() -> None:
    function = distance.spec["function"]
    assert function["name"] == "geo.distance"
    assert function["description"] == "Distance between two points."
    parameters = function["parameters"]
    assert parameters["properties"]["a"] == {"$ref": "#/$defs/Point"}
    assert parameters["$defs"]["Point"]["required"] == ["x", "y"]
    assert parameters["properties"]["scale"]["exclusiveMinimum"] == 0
    jsonschema.validate({"a": {"x": 0, "y": 0}, "b": {"x": 3, "y": 4}}, parameters)


async def test_call_validates_then_runs_sync_functions_in_a_thread() -> None:
    seen: list[str] = []

    @tool
    def where(city: str) -> str:
        """Which thread runs me."""
        seen.append(threading.current_thread().name)
        return city.upper()

    assert await where.call({"city": "oslo"}) == "OSLO"
    assert seen and seen[0] != threading.current_thread().name
    assert await forecast.call({"city": "Oslo", "days": "2"}) == "Oslo: 2 day(s) in C"


async def test_async_functions_get_validated_models() -> None:
    result = await distance.call({"a": {"x": 0, "y": 0}, "b": {"x": 3, "y": 4}, "scale": 2})
    assert result == 10.0
    assert await distance(Point(x=0, y=0), Point(x=0, y=1)) == 1.0  # still the function


async def test_invalid_arguments_name_each_field_and_problem() -> None:
    with pytest.raises(ToolArgumentsError) as caught:
        await forecast.call({"days": "soon", "unit": "K", "colour": "red"})
    message = str(caught.value)
    assert message.startswith("tool 'forecast': invalid arguments: ")
    assert "city: Field required" in message
    assert "days: Input should be a valid integer" in message and "(got 'soon')" in message
    assert "unit: Input should be 'C' or 'F' (got 'K')" in message
    assert "colour: Extra inputs are not permitted" in message
    assert caught.value.tool == "forecast" and len(caught.value.problems) == 4
    with pytest.raises(ToolArgumentsError, match=r"a\.y: Field required"):
        await distance.call({"a": {"x": 1}, "b": {"x": 1, "y": 1}})
    with pytest.raises(ToolArgumentsError, match="scale: Input should be greater than 0"):
        await distance.call({"a": {"x": 1, "y": 1}, "b": {"x": 1, "y": 1}, "scale": 0})


def test_functions_that_cannot_be_described_are_refused() -> None:
    def untyped(city):  # type: ignore[no-untyped-def]
        return city

    def variadic(*cities: str) -> str:
        return ""

    with pytest.raises(UsageError, match="parameter 'city' has no type annotation"):
        tool(untyped)
    with pytest.raises(UsageError, match=r"\*args and \*\*kwargs"):
        tool(variadic)


@pytest.mark.parametrize(
    ("doc", "summary", "args"),
    [
        ("", "", {}),
        ("One line.", "One line.", {}),
        (
            "Two\nlines.\n\nMore.\n\nArgs:\n    a: First.\n    b: Second\n        wrapped.",
            "Two lines.",
            {"a": "First.", "b": "Second wrapped."},
        ),
        ("Args:\n    a: Only args.\n\nRaises:\n    ValueError: never.", "", {"a": "Only args."}),
        (
            "Summary.\n\nParameters:\n    x (int): An x: with a colon.",
            "Summary.",
            {"x": "An x: with a colon."},
        ),
    ],
)
def test_docstrings_give_the_summary_and_the_argument_descriptions(
    doc: str, summary: str, args: dict[str, str]
) -> None:
    assert parse_docstring(doc) == (summary, args)


async def test_tools_go_to_the_gateway_and_answer_its_calls(data_dir: Path) -> None:
    script = [
        ScriptedToolCalls(
            [
                {"name": "forecast", "arguments": {"city": "Oslo"}, "id": "ok"},
                {"name": "forecast", "arguments": {"days": 3}, "id": "invalid"},
                {"name": "forecast", "arguments": '{"city": ', "id": "malformed"},
                {"name": "teleport", "arguments": {}, "id": "unknown"},
            ]
        )
    ]
    with scripted_model(script) as fake:
        async with Gateway(data_dir=data_dir) as gateway:
            reply = await gateway.acomplete("fake/m", "Oslo?", tools=[forecast, distance])
    sent = fake.calls[0].params["tools"]
    assert [spec["function"]["name"] for spec in sent] == ["forecast", "geo_distance"]
    answers = [await run_tool_call([forecast, distance], call) for call in reply.tool_calls]
    assert [a["tool_call_id"] for a in answers] == ["ok", "invalid", "malformed", "unknown"]
    assert answers[0]["content"] == "Oslo: 1 day(s) in C"
    assert answers[1]["content"].startswith("error: tool 'forecast': invalid arguments: city")
    assert answers[2]["content"].startswith("error: the arguments are not valid JSON")
    assert (
        answers[3]["content"]
        == "error: no tool 'teleport' is offered (tools: forecast, geo.distance)"
    )


async def test_a_call_the_gateway_did_not_flag_still_needs_a_known_tool() -> None:
    answer = await run_tool_call({"forecast": forecast}, ToolCall.parse("c9", "teleport", {}))
    assert answer == {
        "role": "tool",
        "tool_call_id": "c9",
        "content": "error: no tool 'teleport' (tools: forecast)",
    }


async def test_a_tool_that_raises_something_else_propagates() -> None:
    @tool
    def broken() -> str:
        """Always fails."""
        raise RuntimeError("disk on fire")

    assert isinstance(broken, FunctionTool)
    with pytest.raises(RuntimeError, match="disk on fire"):
        await run_tool_call([broken], ToolCall.parse("c1", "broken", {}))
