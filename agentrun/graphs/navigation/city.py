"""A seeded city for landmark navigation: street graph, landmarks, tasks, views, metrics.

The city is a jittered grid of intersections joined by streets that are split into short
segments, so most nodes are 2-way points along a street and intersections are 3-5-way (a few
diagonal avenues add the 5th way; dropped streets make 3-way ones). Coordinates are metres,
x east and y north; bearings are compass degrees, clockwise from north. Every node has at most
one exit per 45-degree compass bin, so an exit is named by its direction alone.

Named landmarks are visible within a radius, minus a fixed, seeded occlusion dropout per
(node, landmark); perception noise on bearing and distance is optional. Goals are described only
relative to landmarks. Everything derives from the seed: the same config gives the same city,
tasks, observations and metrics. `simulator.CityEnvironment` lets an agent walk it.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentrun.errors import UsageError

DIRECTIONS = (
    "north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west",
)  # fmt: skip
#: Success when reached; a step limit of this many times the shortest path.
STEP_LIMIT_FACTOR = 2.5

LANDMARK_NAMES = (
    "Central Tower", "Old Mill", "Clock Tower", "City Library", "Grand Theatre", "Lighthouse",
    "St. Anne's Church", "Museum of Art", "Railway Station", "Water Tower", "Stadium",
    "Town Hall", "Botanical Garden", "Fire Station", "Observatory", "Market Hall", "Opera House",
    "Red Bridge", "Science Centre", "Cathedral", "Post Office", "Windmill", "Aquarium",
    "Royal Hotel", "Bell Tower", "Harbour Crane", "Radio Mast", "Concert Hall",
)  # fmt: skip


def direction_of(bearing: float) -> str:
    """The 8-bin compass name of a bearing in degrees."""
    return DIRECTIONS[int(((bearing % 360.0) + 22.5) // 45.0) % 8]


def bearing_between(ax: float, ay: float, bx: float, by: float) -> float:
    """Compass bearing (0 = north, clockwise) from a to b, in [0, 360)."""
    return math.degrees(math.atan2(bx - ax, by - ay)) % 360.0


class CityConfig(BaseModel):
    """How to generate a city; defaults give ~1,000 nodes over ~3.4 x 3.4 km."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0
    grid: int = Field(default=15, ge=2, le=60, description="Intersections per side.")
    block_m: float = Field(default=240.0, gt=0)
    segment_nodes: int = Field(default=2, ge=0, le=10, description="2-way nodes per block.")
    jitter_m: float = Field(default=12.0, ge=0)
    street_drop: float = Field(default=0.12, ge=0, le=0.9)
    diagonal_rate: float = Field(default=0.06, ge=0, le=1)
    landmarks: int = Field(default=10, ge=1, le=len(LANDMARK_NAMES))
    visibility_m: float = Field(default=600.0, gt=0)
    occlusion: float = Field(default=0.2, ge=0, le=1, description="Dropout per node/landmark.")
    bearing_noise_deg: float = Field(default=0.0, ge=0, description="Std of perceived bearing.")
    distance_noise: float = Field(default=0.0, ge=0, description="Relative std of distance.")

    @model_validator(mode="after")
    def _jitter_keeps_bins(self) -> CityConfig:
        if self.jitter_m * 4 > self.block_m / (self.segment_nodes + 1):
            raise ValueError(
                "jitter_m is too large for the segment length: streets would change compass "
                "bins; lower jitter_m or segment_nodes"
            )
        return self


@dataclass(frozen=True)
class Landmark:
    name: str
    x: float
    y: float


@dataclass(frozen=True)
class Exit:
    direction: str
    node: int
    bearing: float
    length: float


class City:
    """The generated street graph (use `City.build(config)`; results are cached per config)."""

    def __init__(
        self,
        config: CityConfig,
        positions: list[tuple[float, float]],
        exits: list[dict[str, Exit]],
        landmarks: list[Landmark],
    ) -> None:
        self.config = config
        self.positions = positions
        self.exits = exits
        self.landmarks = landmarks
        self.visible = self._visibility()

    @staticmethod
    def build(config: CityConfig) -> City:
        return _build_cached(config)

    @property
    def size(self) -> int:
        return len(self.positions)

    def degree(self, node: int) -> int:
        return len(self.exits[node])

    def edges(self) -> Iterable[tuple[int, int]]:
        """Each undirected edge once."""
        for node, exits in enumerate(self.exits):
            for ex in exits.values():
                if node < ex.node:
                    yield node, ex.node

    def distance(self, node: int, x: float, y: float) -> float:
        nx, ny = self.positions[node]
        return math.hypot(x - nx, y - ny)

    def _visibility(self) -> list[tuple[int, ...]]:
        """Landmarks seen from each node: within the radius, minus seeded occlusion."""
        rng = random.Random(f"{self.config.seed}:occlusion")
        visible: list[tuple[int, ...]] = []
        for node in range(self.size):
            seen = []
            for index, mark in enumerate(self.landmarks):
                dropped = rng.random() < self.config.occlusion
                if self.distance(node, mark.x, mark.y) <= self.config.visibility_m and not dropped:
                    seen.append(index)
            visible.append(tuple(seen))
        return visible

    # --- paths ---------------------------------------------------------------------------------

    def hops_from(self, start: int) -> dict[int, int]:
        """Breadth-first hop counts from `start` to every reachable node."""
        hops = {start: 0}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            for ex in self.exits[node].values():
                if ex.node not in hops:
                    hops[ex.node] = hops[node] + 1
                    queue.append(ex.node)
        return hops

    def shortest_path(self, start: int, goal: int) -> list[int]:
        """One shortest path in hops (nodes, both ends included); empty if unreachable."""
        parent: dict[int, int] = {start: start}
        queue = deque([start])
        while queue and goal not in parent:
            node = queue.popleft()
            for ex in self.exits[node].values():
                if ex.node not in parent:
                    parent[ex.node] = node
                    queue.append(ex.node)
        if goal not in parent:
            return []
        path = [goal]
        while path[-1] != start:
            path.append(parent[path[-1]])
        return path[::-1]

    def actions_along(self, path: Sequence[int]) -> list[str]:
        """The exit directions that walk a node path."""
        actions = []
        for here, there in itertools.pairwise(path):
            actions.append(next(d for d, ex in self.exits[here].items() if ex.node == there))
        return actions

    def nearest_node(self, x: float, y: float) -> int:
        return min(range(self.size), key=lambda n: self.distance(n, x, y))


# --- generation ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _build_cached(config: CityConfig) -> City:
    return _generate(config)


def _generate(config: CityConfig) -> City:
    rng = random.Random(config.seed)
    n, block = config.grid, config.block_m

    def jitter() -> float:
        return rng.uniform(-config.jitter_m, config.jitter_m)

    corners = {
        (i, j): (i * block + jitter(), j * block + jitter()) for i in range(n) for j in range(n)
    }
    streets = _street_plan(config, rng)
    positions: list[tuple[float, float]] = []
    index_of: dict[tuple[int, int], int] = {}
    for key in sorted(corners):
        index_of[key] = len(positions)
        positions.append(corners[key])
    exits: list[dict[str, Exit]] = [{} for _ in positions]
    for a, b in streets:
        ax, ay = corners[a]
        bx, by = corners[b]
        diagonal = a[0] != b[0] and a[1] != b[1]
        inner = round(config.segment_nodes * (math.sqrt(2) if diagonal else 1))
        length = math.hypot(bx - ax, by - ay)
        px, py = -(by - ay) / length, (bx - ax) / length  # unit perpendicular
        points = [positions[index_of[a]]]
        for k in range(1, inner + 1):
            t, side = k / (inner + 1), rng.uniform(-config.jitter_m / 2, config.jitter_m / 2)
            points.append((ax + t * (bx - ax) + side * px, ay + t * (by - ay) + side * py))
        points.append(positions[index_of[b]])
        nodes = [index_of[a]]
        for point in points[1:-1]:
            nodes.append(len(positions))
            positions.append(point)
            exits.append({})
        nodes.append(index_of[b])
        _connect_street(positions, exits, nodes)
    return _largest_component(config, positions, exits, _place_landmarks(config, rng, positions))


def _street_plan(config: CityConfig, rng: random.Random) -> list[tuple[tuple[int, int], ...]]:
    """Grid streets minus a few (kept connected), plus single-block diagonals."""
    n = config.grid
    grid = [((i, j), (i + 1, j)) for i in range(n - 1) for j in range(n)]
    grid += [((i, j), (i, j + 1)) for i in range(n) for j in range(n - 1)]
    adjacency: dict[tuple[int, int], set[tuple[int, int]]] = {}
    for a, b in grid:
        adjacency.setdefault(a, set()).add(b)
        adjacency.setdefault(b, set()).add(a)
    for a, b in rng.sample(grid, len(grid)):
        if rng.random() >= config.street_drop or min(len(adjacency[a]), len(adjacency[b])) < 4:
            continue
        adjacency[a].discard(b)
        adjacency[b].discard(a)
        if not _reachable(adjacency, a, b):
            adjacency[a].add(b)
            adjacency[b].add(a)
    for i in range(n - 1):
        for j in range(n - 1):
            if rng.random() >= config.diagonal_rate:
                continue
            a, b = ((i, j), (i + 1, j + 1)) if rng.random() < 0.5 else ((i + 1, j), (i, j + 1))
            if len(adjacency[a]) <= 4 and len(adjacency[b]) <= 4:
                adjacency[a].add(b)
                adjacency[b].add(a)
    return sorted({(a, b) if a < b else (b, a) for a in adjacency for b in adjacency[a]})


def _reachable(adjacency: dict[tuple[int, int], set[tuple[int, int]]], a: Any, b: Any) -> bool:
    seen, queue = {a}, deque([a])
    while queue:
        node = queue.popleft()
        if node == b:
            return True
        for other in adjacency[node] - seen:
            seen.add(other)
            queue.append(other)
    return False


def _connect_street(
    positions: list[tuple[float, float]], exits: list[dict[str, Exit]], nodes: list[int]
) -> None:
    """Add a street's segments, unless one would share a compass bin with an existing exit."""
    segments = []
    for u, v in itertools.pairwise(nodes):
        (ux, uy), (vx, vy) = positions[u], positions[v]
        forward = bearing_between(ux, uy, vx, vy)
        length = math.hypot(vx - ux, vy - uy)
        segments.append((u, v, forward, length))
        if direction_of(forward) in exits[u] or direction_of(forward + 180) in exits[v]:
            return  # an isolated street's inner nodes are dropped with the small components
    for u, v, forward, length in segments:
        back = (forward + 180.0) % 360.0
        exits[u][direction_of(forward)] = Exit(direction_of(forward), v, forward, length)
        exits[v][direction_of(back)] = Exit(direction_of(back), u, back, length)


def _place_landmarks(
    config: CityConfig, rng: random.Random, positions: list[tuple[float, float]]
) -> list[Landmark]:
    """Landmarks beside streets, spread apart (rejection sampling, relaxed if crowded)."""
    names = rng.sample(LANDMARK_NAMES, config.landmarks)
    span = config.block_m * (config.grid - 1)
    spacing = span / math.sqrt(config.landmarks) * 0.7
    placed: list[Landmark] = []
    for name in names:
        for attempt in range(200):
            x, y = rng.choice(positions)
            x, y = x + rng.uniform(-30, 30), y + rng.uniform(-30, 30)
            limit = spacing * (0.98**attempt)
            if all(math.hypot(x - m.x, y - m.y) >= limit for m in placed):
                break
        placed.append(Landmark(name, round(x, 1), round(y, 1)))
    return placed


def _largest_component(
    config: CityConfig,
    positions: list[tuple[float, float]],
    exits: list[dict[str, Exit]],
    landmarks: list[Landmark],
) -> City:
    seen: set[int] = set()
    best: list[int] = []
    for start in range(len(positions)):
        if start in seen:
            continue
        component, queue = [start], deque([start])
        seen.add(start)
        while queue:
            for ex in exits[queue.popleft()].values():
                if ex.node not in seen:
                    seen.add(ex.node)
                    component.append(ex.node)
                    queue.append(ex.node)
        if len(component) > len(best):
            best = component
    keep = sorted(best)
    renumber = {old: new for new, old in enumerate(keep)}
    new_exits = [
        {
            d: Exit(d, renumber[ex.node], ex.bearing, ex.length)
            for d, ex in sorted(exits[old].items(), key=lambda item: DIRECTIONS.index(item[0]))
        }
        for old in keep
    ]
    rounded = [(round(positions[o][0], 1), round(positions[o][1], 1)) for o in keep]
    return City(config, rounded, new_exits, landmarks)


# --- tasks -----------------------------------------------------------------------------------


class GoalReference(BaseModel):
    """The goal, seen from a landmark: `distance_m` away at compass `bearing`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    landmark: str
    distance_m: float
    bearing: float

    def describe(self) -> str:
        return (
            f"{self.distance_m:.0f} m {direction_of(self.bearing)} (bearing {self.bearing:.0f}°) "
            f"of the {self.landmark}"
        )


class CityTask(BaseModel):
    """Reach `goal` from `start`; the agent is told only `instruction` (landmark-relative)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: str
    city: CityConfig
    start: int
    goal: int
    shortest_hops: int = Field(ge=1)
    step_limit: int = Field(ge=1)
    references: list[GoalReference]

    @property
    def instruction(self) -> str:
        return "The goal is " + ", and ".join(ref.describe() for ref in self.references) + "."


def step_limit_for(shortest_hops: int) -> int:
    return math.ceil(STEP_LIMIT_FACTOR * shortest_hops)


def goal_references(city: City, goal: int, count: int) -> list[GoalReference]:
    """The goal described from its `count` nearest landmarks."""
    gx, gy = city.positions[goal]
    nearest = sorted(city.landmarks, key=lambda m: math.hypot(gx - m.x, gy - m.y))[:count]
    return [
        GoalReference(
            landmark=m.name,
            distance_m=round(math.hypot(gx - m.x, gy - m.y)),
            bearing=round(bearing_between(m.x, m.y, gx, gy)),
        )
        for m in nearest
    ]


def sample_tasks(
    config: CityConfig,
    count: int,
    *,
    seed: int = 0,
    min_hops: int = 10,
    max_hops: int = 50,
    references: int = 2,
) -> list[CityTask]:
    """`count` solvable tasks whose shortest paths have `min_hops`..`max_hops` hops (seeded)."""
    if not 1 <= min_hops <= max_hops:
        raise UsageError(f"need 1 <= min_hops <= max_hops, got {min_hops} and {max_hops}")
    if count < 0:
        raise UsageError(f"the number of tasks must be >= 0, got {count}")
    city = City.build(config)
    rng = random.Random(f"tasks:{config.seed}:{seed}")
    tasks: list[CityTask] = []
    attempts = 0
    while len(tasks) < count:
        attempts += 1
        if attempts > 50 * count + 200:
            raise UsageError(
                f"the city (seed {config.seed}, {city.size} nodes) has too few node pairs "
                f"{min_hops}-{max_hops} hops apart; lower min_hops or use a larger grid"
            )
        start = rng.randrange(city.size)
        hops = city.hops_from(start)
        candidates = sorted(n for n, h in hops.items() if min_hops <= h <= max_hops)
        if not candidates:
            continue
        goal = rng.choice(candidates)
        tasks.append(
            CityTask(
                task_id=f"c{config.seed}-s{seed}-{len(tasks):03d}",
                city=config,
                start=start,
                goal=goal,
                shortest_hops=hops[goal],
                step_limit=step_limit_for(hops[goal]),
                references=goal_references(city, goal, references),
            )
        )
    return tasks


def path_visibility(task: CityTask) -> float:
    """Share of a shortest path's nodes that see a landmark the goal is described from."""
    city = City.build(task.city)
    names = {ref.landmark for ref in task.references}
    wanted = {i for i, m in enumerate(city.landmarks) if m.name in names}
    path = city.shortest_path(task.start, task.goal)
    return sum(1 for n in path if wanted & set(city.visible[n])) / len(path)


# --- what a node sees ------------------------------------------------------------------------

Sighting = tuple[str, float, float]  # (landmark name, compass bearing, distance in metres)


def exact_sightings(city: City, node: int) -> list[Sighting]:
    """The landmarks `node` sees at their true bearing and distance, nearest first."""
    x, y = city.positions[node]
    marks = (city.landmarks[index] for index in city.visible[node])
    seen = [(m.name, bearing_between(x, y, m.x, m.y), math.hypot(m.x - x, m.y - y)) for m in marks]
    return sorted(seen, key=lambda s: s[2])


def describe_view(sightings: Sequence[Sighting], exits: Sequence[Exit], header: str) -> str:
    """The text observation: landmarks (name, bearing, distance), then exits."""
    lines = [header, "Visible landmarks:" if sightings else "Visible landmarks: none"]
    for name, bearing, distance in sightings:
        lines.append(
            f"- {name}: {distance:.0f} m, bearing {bearing:.0f}° ({direction_of(bearing)})"
        )
    lines.append("Exits:")
    lines.extend(f"- {ex.direction}: bearing {ex.bearing:.0f}°, {ex.length:.0f} m" for ex in exits)
    return "\n".join(lines)


# --- metrics ---------------------------------------------------------------------------------


def spl(success: bool, shortest: int, steps: int) -> float:
    """Success weighted by path length for one episode: S * l / max(l, p)."""
    if not success:
        return 0.0
    return shortest / max(shortest, steps, 1)


class EpisodeOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_id: str
    success: bool
    shortest_hops: int
    steps: int
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def spl(self) -> float:
        return spl(self.success, self.shortest_hops, self.steps)


def summarize(outcomes: Sequence[EpisodeOutcome]) -> dict[str, float]:
    """SR, SPL (= mean S*l/max(l,p)) and mean tokens per episode."""
    count = len(outcomes)
    if count == 0:
        return {"episodes": 0, "sr": 0.0, "spl": 0.0, "mean_steps": 0.0, "mean_tokens": 0.0}
    return {
        "episodes": count,
        "sr": sum(o.success for o in outcomes) / count,
        "spl": sum(o.spl for o in outcomes) / count,
        "mean_steps": sum(o.steps for o in outcomes) / count,
        "mean_prompt_tokens": sum(o.prompt_tokens for o in outcomes) / count,
        "mean_completion_tokens": sum(o.completion_tokens for o in outcomes) / count,
        "mean_tokens": sum(o.prompt_tokens + o.completion_tokens for o in outcomes) / count,
    }
