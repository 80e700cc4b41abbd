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


def parse_choice(reply: str, candidates: Sequence[str]) -> str | None:
    """The candidate a reply picks, by its number in the list (1-based) or by its direction,
    whichever the reply names first; None when it names neither."""
    number = re.search(r"\b(\d{1,2})\b", reply)
    by_number = None
    if number and 1 <= int(number.group(1)) <= len(candidates):
        by_number = candidates[int(number.group(1)) - 1]
    word = _DIRECTION_RE.search(reply)
    by_name = normalize_direction(word.group(1)) if word else None
    if by_name not in candidates:
        by_name = None
    if by_number and by_name and word and number:
        return by_number if number.start() < word.start() else by_name
    return by_number or by_name


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
    tried: int = 0

    def describe(self) -> str:
        notes = [f"bearing {self.bearing:.0f}°", f"{self.off_target:.0f}° off the target"]
        notes.append("back the way you came" if self.back else
                     ("unvisited" if not self.visits else f"visited {self.visits}x"))  # fmt: skip
        if self.tried:
            notes.append(f"taken from here {self.tried}x before")
        return f"{self.direction} ({', '.join(notes)})"


def rank_options(
    perception: Perception,
    position: Sequence[float],
    previous: Sequence[float] | None,
    target_bearing: float,
    visits: dict[str, int],
    tried: dict[str, int] | None = None,
) -> list[Option]:
    """Exits best first: toward the target, unvisited, never straight back unless forced.
    `tried` (directions already taken from here) is shown to the model, not ranked on."""
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
                (tried or {}).get(ex.direction, 0),
            )
        )
    options.sort(key=lambda o: (o.back, o.off_target / 90.0 + 0.6 * min(o.visits, 3)))
    allowed = [o for o in options if not o.back]
    return allowed or options


# --- the reflection's evidence for the model's choice --------------------------------------------


@dataclass(frozen=True)
class Agreement:
    """How well the landmark goal estimates agree: the spread of those kept around the goal."""

    estimates: int
    landmarks: int
    spread_m: float
    outliers: int

    def describe(self) -> str:
        if not self.estimates:
            return "no landmark named in the goal seen yet"
        tone = "agree" if self.spread_m <= 100 else "disagree"
        return (
            f"{self.estimates} estimates from {self.landmarks} landmark(s) {tone} "
            f"within {self.spread_m:.0f} m ({self.outliers} outlier(s) dropped)"
        )


def landmark_agreement(
    estimates: Sequence[GoalEstimate], goal: Sequence[float] | None, outliers: int
) -> Agreement:
    """The agreement of the goal estimates with the reflected goal (the model weighs how far
    to trust the goal bearing: a wide spread means the bearing may be wrong)."""
    if goal is None or not estimates:
        return Agreement(0, 0, 0.0, 0)
    gaps = sorted(math.hypot(e.x - goal[0], e.y - goal[1]) for e in estimates)
    kept = gaps[: len(gaps) - outliers] or gaps
    return Agreement(len(estimates), len({e.landmark for e in estimates}), kept[-1], outliers)


def departures(
    positions: Sequence[Sequence[float]], actions: Sequence[str], here: Sequence[float]
) -> dict[str, int]:
    """How often each direction was already taken from the cell of `here`: a move tried from
    the same spot that brought the walk back is a recent failure."""
    cell = cell_of(here)
    taken: dict[str, int] = {}
    for position, action in zip(positions, actions, strict=False):
        if cell_of(position) == cell:
            taken[action] = taken.get(action, 0) + 1
    return taken


def revisits(positions: Sequence[Sequence[float]], last: int) -> int:
    """How many of the last `last` moves arrived at a cell visited before."""
    seen: set[str] = set()
    repeated: list[bool] = []
    for position in positions:
        cell = cell_of(position)
        repeated.append(cell in seen)
        seen.add(cell)
    return sum(repeated[1:][-last:])


@dataclass(frozen=True)
class Evidence:
    """What the reflection hands the model for its choice: the landmarks' agreement on the
    goal, a loop (times at this spot within the loop window) and recent moves that led back."""

    agreement: Agreement
    loop: bool
    here_times: int
    window: int
    revisits: int
    recent: int

    def lines(self) -> list[str]:
        found = [f"Landmark agreement: {self.agreement.describe()}."]
        if self.loop:
            found.append(
                f"Loop detected: you have stood here {self.here_times} times in the last "
                f"{self.window} moves; a move taken from here before is likely to repeat it."
            )
        if self.revisits:
            found.append(
                f"Recent failures: {self.revisits} of your last {self.recent} moves led back "
                "to places you had already visited."
            )
        return found


def gather_evidence(
    estimates: Sequence[GoalEstimate],
    goal: Sequence[float] | None,
    outliers: int,
    positions: Sequence[Sequence[float]],
    loop: bool,
    window: int,
    recent: int = 5,
) -> Evidence:
    here = cell_of(positions[-1])
    times = [cell_of(p) for p in positions[-window:]].count(here)
    return Evidence(
        landmark_agreement(estimates, goal, outliers), loop, times, window,
        revisits(positions, recent), min(recent, len(positions) - 1),
    )  # fmt: skip
