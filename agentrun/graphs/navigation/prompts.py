"""What the navigation agents are told, in plain short text.

Small local models follow "reply with one direction from the list" far better than a JSON schema,
so every decision is asked for in plain words and read back with `wayfinding.parse_direction`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from agentrun.agents.messages import Image, Message, system, user
from agentrun.graphs.navigation.city import direction_of
from agentrun.graphs.navigation.wayfinding import Evidence, Leg, Option, Perception, bearing_to

NAVIGATOR = "You are a navigation agent walking through a city's streets to reach a goal."


def describe_landmarks(perception: Perception) -> str:
    seen = ", ".join(
        f"{s.name} {s.distance:.0f} m {direction_of(s.bearing)}" for s in perception.landmarks
    )
    return f"Saw {seen or 'no landmark'}"


def describe_perception(perception: Perception) -> str:
    """A one-line memory of what was seen (also the text experiences are matched on)."""
    exits = ", ".join(ex.direction for ex in perception.exits)
    return f"{describe_landmarks(perception)}; streets {exits or 'none'}."


def describe_legs(legs: Sequence[Leg]) -> str:
    return ", then ".join(f"{leg.direction} {leg.metres:.0f} m" for leg in legs) or "none"


def prep_decision(
    instruction: str,
    goal: Sequence[float] | None,
    position: Sequence[float],
    legs: Sequence[Leg],
    plan_note: str,
    evidence: Evidence,
    recent: Sequence[str],
    experiences: Sequence[str],
    summary: str,
    candidates: Sequence[Option],
) -> list[Message]:
    """PReP's choice: the plan, the reflection's evidence and memory in brief, then the top
    candidate moves numbered, best-ranked first; the model answers with a number."""
    if goal is None:
        where = (
            "Goal not located yet: no landmark named in the goal has been seen. "
            "Explore streets you have not walked."
        )
    else:
        dx, dy = goal[0] - position[0], goal[1] - position[1]
        bearing = bearing_to(dx, dy)
        where = (
            f"Estimated goal: {math.hypot(dx, dy):.0f} m away, bearing {bearing:.0f}° "
            f"({direction_of(bearing)})."
        )
    lines = [f"Goal: {instruction}", where, f"Plan: {describe_legs(legs)} ({plan_note})."]
    lines.extend(evidence.lines())
    if summary:
        lines.append(f"Trajectory so far: {summary}")
    if recent:
        lines.append("Recent moves: " + ", ".join(recent) + ".")
    if experiences:
        lines.append("Similar earlier moments:")
        lines.extend(f"- {text}" for text in experiences)
    lines.append("Candidate moves, best first:")
    lines.extend(f"{i}. {option.describe()}" for i, option in enumerate(candidates, 1))
    lines.append(
        "Move 1 follows the plan. Pick another only if the evidence above says move 1 "
        f"will fail. Reply with one number from 1 to {len(candidates)}."
    )
    return [system(NAVIGATOR), user("\n".join(lines))]


def react_decision(
    instruction: str, observation: str, history: Sequence[str], actions: Sequence[str]
) -> list[Message]:
    """The ReAct-style baseline: the observation and past steps, then pick an action."""
    lines = [f"Goal: {instruction}"]
    if history:
        lines.append("Your steps so far:")
        lines.extend(f"- {entry}" for entry in history)
    lines += [
        "What you see now:",
        observation,
        "Think about where the goal is from the landmarks, then choose where to go.",
        f"Directions you can take: {', '.join(actions)}.",
        "Reply with one direction from the list.",
    ]
    return [system(NAVIGATOR), user("\n".join(lines))]


def perceive_image(png: bytes, heading: float) -> list[Message]:
    """Ask a VLM to read the landmarks off the local map image."""
    text = (
        f"This map shows what you see around you. You are the red triangle in the centre, "
        f"facing {direction_of(heading)} ({heading:.0f}°), which points up in the image; the "
        "arrow marked N points north and the bar is 100 m long.\n"
        "List every named landmark on the map, one per line, as:\n"
        "Name: distance m, bearing degrees\n"
        "Bearings are compass degrees (0 = north, 90 = east). If there is none, reply NONE."
    )
    return [system("You read maps precisely."), user(text, Image(png, mime_type="image/png"))]


def summarize_trajectory(recent: Sequence[str]) -> list[Message]:
    """The paper's trajectory summary (optional): wandering, dead ends, progress."""
    steps = "\n".join(f"- {entry}" for entry in recent)
    return [
        system(NAVIGATOR),
        user(
            f"Your recent steps:\n{steps}\n"
            "In one sentence: are you making progress, wandering, or stuck at a dead end?"
        ),
    ]
