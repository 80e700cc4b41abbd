"""The numeric half of landmark navigation: parsing, goal estimates, memory grid, loops, plans.

All of it is deterministic code, so a navigation agent leaves to its model only the decisions
(which listed direction to take) and stays correct when the model is weak. Positions are
egocentric: the start is (0, 0), x east and y north in metres, advanced by dead reckoning from
the exits' bearings and lengths.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from agentrun.graphs.navigation.city import DIRECTIONS, direction_of

#: Grid cell for "have I been here": well under the ~80 m between nodes.
CELL_M = 25.0
_BIN = {name: index * 45.0 for index, name in enumerate(DIRECTIONS)}
_DIRECTION_WORDS = sorted(DIRECTIONS, key=len, reverse=True)
_DIRECTION_RE = re.compile(
    r"\b("
    + "|".join(re.escape(d) + "|" + re.escape(d.replace("-", " ")) for d in _DIRECTION_WORDS)
    + r"|northeast|northwest|southeast|southwest)\b",
    re.IGNORECASE,
)
_SHORT = {"n": "north", "ne": "north-east", "e": "east", "se": "south-east",
          "s": "south", "sw": "south-west", "w": "west", "nw": "north-west"}  # fmt: skip
_DISTANCE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:m|meters|metres)\b", re.IGNORECASE)
_BEARING_RE = re.compile(r"(?:bearing\s*)(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)\s*°")
_GOAL_RE = re.compile(
    r"(\d+(?:\.\d+)?)\s*m\s+([a-z\- ]+?)\s*(?:\(bearing\s*(\d+(?:\.\d+)?)°?\))?\s+of\s+"
    r"(?:the\s+)?([^,.;]+?)(?=\s*(?:,|\.|;|\band\b|$))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Sighting:
    name: str
    bearing: float
    distance: float


@dataclass(frozen=True)
class ExitView:
    direction: str
    bearing: float
    length: float


@dataclass(frozen=True)
class Perception:
    landmarks: tuple[Sighting, ...]
    exits: tuple[ExitView, ...]


@dataclass(frozen=True)
class Reference:
    landmark: str
    distance: float
    bearing: float


def normalize_direction(word: str) -> str | None:
    text = word.strip().lower().replace(" ", "-")
    text = {"northeast": "north-east", "northwest": "north-west", "southeast": "south-east",
            "southwest": "south-west"}.get(text, text)  # fmt: skip
    if text in _BIN:
        return text
    return _SHORT.get(text)


def vector(bearing: float, distance: float) -> tuple[float, float]:
    """(east, north) metres of a compass bearing and distance."""
    radians = math.radians(bearing)
    return distance * math.sin(radians), distance * math.cos(radians)


def bearing_to(dx: float, dy: float) -> float:
    return math.degrees(math.atan2(dx, dy)) % 360.0


def angle_between(a: float, b: float) -> float:
    """Smallest absolute difference of two bearings, 0-180."""
    return abs((a - b + 180.0) % 360.0 - 180.0)


# --- parsing ---------------------------------------------------------------------------------


def parse_sighting(line: str) -> Sighting | None:
    """One landmark line, leniently: 'Name: 320 m, bearing 45°' or 'Name - north-east, 300 m'."""
    text = line.strip().lstrip("-*• ").strip()
    if ":" in text:
        name, rest = text.split(":", 1)
    elif " - " in text:
        name, rest = text.split(" - ", 1)
    else:
        return None
    name = name.strip().strip("\"'*")
    distance = _DISTANCE_RE.search(rest)
    if not name or distance is None or name.lower() in ("exits", "visible landmarks"):
        return None
    bearing_match = _BEARING_RE.search(rest)
    if bearing_match:
        bearing = float(bearing_match.group(1) or bearing_match.group(2)) % 360.0
    else:
        word = _DIRECTION_RE.search(rest)
        direction = normalize_direction(word.group(1)) if word else None
        if direction is None:
            return None
        bearing = _BIN[direction]
    return Sighting(name, bearing, float(distance.group(1)))


def parse_landmarks(text: str) -> list[Sighting]:
    """Every landmark line in `text` (an observation's section or a VLM's reply)."""
    found = []
    for line in text.splitlines():
        if line.strip().lower().startswith(("exits", "step ")):
            continue
        sighting = parse_sighting(line)
        if sighting is not None and normalize_direction(sighting.name) is None:
            found.append(sighting)
    return found


def split_observation(text: str) -> tuple[str, str]:
    """(landmarks section, exits section) of a city text observation."""
    head, _, exits = text.partition("\nExits:")
    return head, exits


def parse_exits(text: str) -> list[ExitView]:
    exits = []
    for line in split_observation(text)[1].splitlines():
        match = re.match(
            r"\s*-\s*([a-z\-]+):\s*bearing\s*(\d+(?:\.\d+)?)°?,\s*(\d+(?:\.\d+)?)\s*m", line
        )
        if match:
            exits.append(ExitView(match.group(1), float(match.group(2)), float(match.group(3))))
    return exits


def parse_observation(text: str) -> Perception:
    landmarks_part, _ = split_observation(text)
    return Perception(tuple(parse_landmarks(landmarks_part)), tuple(parse_exits(text)))


def parse_goal(instruction: str) -> list[Reference]:
    """'The goal is 300 m north-east (bearing 48°) of the Central Tower, and ...'."""
    references = []
    for match in _GOAL_RE.finditer(instruction):
        distance, words, bearing, name = match.groups()
        if bearing is None:
            direction = normalize_direction(words)
            if direction is None:
                continue
            bearing = str(_BIN[direction])
        references.append(Reference(name.strip(), float(distance), float(bearing)))
    return references


def parse_direction(reply: str, allowed: Sequence[str]) -> str | None:
    """The first allowed direction named in a free-text reply (longest names matched first)."""
    for match in _DIRECTION_RE.finditer(reply):
        direction = normalize_direction(match.group(1))
        if direction in allowed:
            return direction
    tokens = re.findall(r"\b[a-z]{1,2}\b", reply.lower())
    for token in tokens[:3]:
        direction = _SHORT.get(token)
        if direction in allowed:
            return direction
    return None


# --- goal estimates, reflection, memory --------------------------------------------------------


@dataclass(frozen=True)
class GoalEstimate:
    x: float
    y: float
    step: int
    landmark: str


def estimate_goal(
    position: tuple[float, float],
    sightings: Sequence[Sighting],
    references: Sequence[Reference],
    step: int,
) -> list[GoalEstimate]:
    """One estimate per seen reference landmark: cur->goal = cur->L + L->goal."""
    seen = {s.name.strip().lower(): s for s in sightings}
    estimates = []
    for ref in references:
        sighting = seen.get(ref.landmark.lower())
        if sighting is None:
            continue
        lx, ly = vector(sighting.bearing, sighting.distance)
        gx, gy = vector(ref.bearing, ref.distance)
        estimates.append(
            GoalEstimate(position[0] + lx + gx, position[1] + ly + gy, step, ref.landmark)
        )
    return estimates


def reflect_goal(
    estimates: Sequence[GoalEstimate], min_radius: float = 60.0, spread: float = 3.0
) -> tuple[tuple[float, float] | None, int]:
    """Combine all estimates; drop outliers far from the median. Returns (goal, outliers)."""
    if not estimates:
        return None, 0
    mx = statistics.median(e.x for e in estimates)
    my = statistics.median(e.y for e in estimates)
    gaps = [math.hypot(e.x - mx, e.y - my) for e in estimates]
    limit = max(min_radius, spread * statistics.median(gaps))
    kept = [e for e, gap in zip(estimates, gaps, strict=True) if gap <= limit]
    x = sum(e.x for e in kept) / len(kept)
    y = sum(e.y for e in kept) / len(kept)
    return (x, y), len(estimates) - len(kept)


def cell_of(position: Sequence[float]) -> str:
    return f"{round(position[0] / CELL_M)},{round(position[1] / CELL_M)}"


def visit_counts(positions: Sequence[Sequence[float]]) -> dict[str, int]:
    """The egocentric grid: how often each cell was visited."""
    counts: dict[str, int] = {}
    for position in positions:
        key = cell_of(position)
        counts[key] = counts.get(key, 0) + 1
    return counts


def loop_detected(positions: Sequence[Sequence[float]], window: int = 12, repeats: int = 3) -> bool:
    """The current cell was visited `repeats` times within the last `window` positions."""
    recent = [cell_of(p) for p in positions[-window:]]
    return bool(recent) and recent.count(recent[-1]) >= repeats


# --- plans and options -------------------------------------------------------------------------


@dataclass(frozen=True)
class Leg:
    direction: str
    metres: float


def plan_legs(position: Sequence[float], goal: Sequence[float]) -> list[Leg]:
    """Direction-level plan to the goal: one leg, or two along the compass bins around it."""
    dx, dy = goal[0] - position[0], goal[1] - position[1]
    distance = math.hypot(dx, dy)
    if distance < 1:
        return []
    bearing = bearing_to(dx, dy)
    low = math.floor(bearing / 45.0) * 45.0
    if min(angle_between(bearing, low), angle_between(bearing, low + 45)) < 10:
        return [Leg(direction_of(bearing), distance)]
    # Solve v = a*u(low) + b*u(low+45) with a, b >= 0.
    ux, uy = vector(low, 1)
    wx, wy = vector(low + 45, 1)
    det = ux * wy - uy * wx
    a = (dx * wy - dy * wx) / det
    b = (ux * dy - uy * dx) / det
    legs = [Leg(direction_of(low), a), Leg(direction_of(low + 45), b)]
    return sorted(legs, key=lambda leg: -leg.metres)


def advance_legs(legs: Sequence[Leg], moved: tuple[float, float]) -> list[Leg]:
    """Legs left after a move: progress along the first leg's direction is subtracted."""
    if not legs:
        return []
    first, rest = legs[0], list(legs[1:])
    ux, uy = vector(_BIN[first.direction], 1)
    left = first.metres - (moved[0] * ux + moved[1] * uy)
    return ([Leg(first.direction, left)] if left > 30 else []) + rest


def explore_direction(positions: Sequence[Sequence[float]], heading: float) -> str:
    """With no goal estimate: away from the visited centroid, else straight on."""
    if len(positions) < 3:
        return direction_of(heading)
    cx = sum(p[0] for p in positions) / len(positions)
    cy = sum(p[1] for p in positions) / len(positions)
    x, y = positions[-1]
    if math.hypot(x - cx, y - cy) < 40:
        return direction_of(heading)
    return direction_of(bearing_to(x - cx, y - cy))


@dataclass(frozen=True)
class Option:
    """One exit, with what the memory says about it."""

    direction: str
    bearing: float
    length: float
    visits: int
    back: bool
    off_target: float

    def describe(self) -> str:
        notes = [f"bearing {self.bearing:.0f}°"]
        notes.append("back the way you came" if self.back else
                     ("unvisited" if not self.visits else f"visited {self.visits}x"))  # fmt: skip
        return f"{self.direction} ({', '.join(notes)})"


def rank_options(
    perception: Perception,
    position: Sequence[float],
    previous: Sequence[float] | None,
    target_bearing: float,
    visits: dict[str, int],
) -> list[Option]:
    """Exits best first: toward the target, unvisited, never straight back unless forced."""
    options = []
    for ex in perception.exits:
        mx, my = vector(ex.bearing, ex.length)
        arrival = (position[0] + mx, position[1] + my)
        back = previous is not None and cell_of(arrival) == cell_of(previous)
        options.append(
            Option(
                ex.direction,
                ex.bearing,
                ex.length,
                visits.get(cell_of(arrival), 0),
                back,
                angle_between(ex.bearing, target_bearing),
            )
        )
    options.sort(key=lambda o: (o.back, o.off_target / 90.0 + 0.6 * min(o.visits, 3)))
    allowed = [o for o in options if not o.back]
    return allowed or options
