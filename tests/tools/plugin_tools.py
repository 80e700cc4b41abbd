"""Tools as a plugin package declares them (entry points of `agentrun.tools`)."""

from __future__ import annotations

from agentrun.tools.function import tool


@tool(name="weather.forecast")
def forecast(city: str) -> str:
    """The forecast for a city."""
    return f"{city}: sunny"


@tool(name="units.to_feet")
def to_feet(metres: float) -> float:
    """Metres in feet."""
    return metres / 0.3048


@tool(name="units.to_metres")
def to_metres(feet: float) -> float:
    """Feet in metres."""
    return feet * 0.3048


#: Several tools under one entry point.
UNITS = [to_feet, to_metres]
NOT_A_TOOL = 3
