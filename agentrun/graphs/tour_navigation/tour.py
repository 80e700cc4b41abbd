"""Demonstration tours of a city neighbourhood, as a topological graph (Mobility VLA, offline).

A tour is a covering walk (depth-first, with backtracking) over the nodes within a radius of a
centre. Each frame keeps the pose the tour recorded, the text observation, a caption and the
move to the next frame; its image is rendered on demand. Frames become graph vertices joined
when consecutive (with the move) or at the same pose; a shortest-path executor then walks from
the frame matching the current view to a goal frame.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
import random
import re
from collections import deque
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from agentrun.errors import UsageError
from agentrun.graphs.navigation.city import (
    City,
    CityConfig,
    CityTask,
    bearing_between,
    describe_view,
    direction_of,
    exact_sightings,
    step_limit_for,
)


@dataclass(frozen=True)
class Frame:
    index: int
    node: int
    x: float
    y: float
    heading: float
    observation: str
    caption: str
    action: str | None  # the move that leads to the next frame


class Tour:
    """The frames of one covering walk and the topological graph over them."""

    def __init__(self, city: City, frames: list[Frame]) -> None:
        self.city = city
        self.frames = frames
        self.edges: dict[int, list[tuple[int, str | None]]] = {f.index: [] for f in frames}
        by_pose: dict[tuple[float, float], list[int]] = {}
        for frame in frames:
            by_pose.setdefault((round(frame.x), round(frame.y)), []).append(frame.index)
        for same in by_pose.values():
            for a in same:
                self.edges[a].extend((b, None) for b in same if b != a)
        for here, there in itertools.pairwise(frames):
            if here.action is None:
                continue
            back = next(d for d, ex in city.exits[there.node].items() if ex.node == here.node)
            self.edges[here.index].append((there.index, here.action))
            self.edges[there.index].append((here.index, back))

    def route(self, start: int, goal: int) -> list[str]:
        """Moves along the graph's shortest path (same-pose hops are free)."""
        best = {start: 0}
        previous: dict[int, tuple[int, str | None]] = {}
        queue = [(0, start)]
        while queue:
            cost, frame = heapq.heappop(queue)
            if frame == goal:
                break
            if cost > best[frame]:
                continue
            for other, action in self.edges[frame]:
                step = cost + (0 if action is None else 1)
                if step < best.get(other, math.inf):
                    best[other] = step
                    previous[other] = (frame, action)
                    heapq.heappush(queue, (step, other))
        if goal not in best:
            raise UsageError(f"tour frame {goal} cannot be reached from frame {start}")
        moves: list[str] = []
        frame = goal
        while frame != start:
            frame, action = previous[frame]
            if action is not None:
                moves.append(action)
        return moves[::-1]

    def localize(self, observation: str) -> int:
        """The frame whose recorded view matches `observation` best (exact match first)."""
        view = _view_part(observation)
        for frame in self.frames:
            if _view_part(frame.observation) == view:
                return frame.index
        words = set(re.findall(r"\w+", view))

        def overlap(frame: Frame) -> float:
            other = set(re.findall(r"\w+", _view_part(frame.observation)))
            return len(words & other) / max(1, len(words | other))

        return max(self.frames, key=overlap).index


def _view_part(observation: str) -> str:
    """The observation without its header line (step count and heading differ between visits)."""
    return observation.partition("\n")[2]


def view_text(city: City, node: int, header: str = "Tour frame.") -> str:
    """The exact text observation at `node` (tours are recorded without perception noise)."""
    return describe_view(exact_sightings(city, node), list(city.exits[node].values()), header)


def caption(city: City, node: int) -> str:
    x, y = city.positions[node]
    seen = []
    for index in sorted(city.visible[node], key=lambda i: city.distance(node, *_xy(city, i))):
        mark = city.landmarks[index]
        bearing = bearing_between(x, y, mark.x, mark.y)
        seen.append(
            f"{mark.name} {city.distance(node, mark.x, mark.y):.0f} m {direction_of(bearing)}"
        )
    streets = ", ".join(city.exits[node])
    return f"{'; '.join(seen) or 'no landmark in view'}; streets {streets}."


def _xy(city: City, landmark: int) -> tuple[float, float]:
    mark = city.landmarks[landmark]
    return mark.x, mark.y


def region(city: City, centre: int, radius_m: float) -> set[int]:
    """Nodes within `radius_m` of the centre, reachable from it without leaving the circle."""
    cx, cy = city.positions[centre]
    inside = {centre}
    queue = deque([centre])
    while queue:
        for ex in city.exits[queue.popleft()].values():
            if ex.node not in inside and city.distance(ex.node, cx, cy) <= radius_m:
                inside.add(ex.node)
                queue.append(ex.node)
    return inside


@functools.lru_cache(maxsize=32)
def record_tour(config: CityConfig, centre: int, radius_m: float) -> Tour:
    """A depth-first covering walk of the region, one frame per node visited (with returns)."""
    city = City.build(config)
    nodes = region(city, centre, radius_m)
    walk, seen, stack = [centre], {centre}, [centre]
    while stack:
        here = stack[-1]
        unvisited = [ex.node for ex in city.exits[here].values() if ex.node in nodes - seen]
        if unvisited:
            seen.add(unvisited[0])
            stack.append(unvisited[0])
            walk.append(unvisited[0])
        else:
            stack.pop()
            if stack:
                walk.append(stack[-1])
    frames = []
    heading = 0.0
    for index, node in enumerate(walk):
        nxt = walk[index + 1] if index + 1 < len(walk) else None
        action = None
        if nxt is not None:
            action = next(d for d, ex in city.exits[node].items() if ex.node == nxt)
        x, y = city.positions[node]
        frames.append(Frame(index, node, x, y, heading, view_text(city, node),
                            caption(city, node), action))  # fmt: skip
        if action is not None:
            heading = city.exits[node][action].bearing
    return Tour(city, frames)


class TourTask(BaseModel):
    """Go from `start` to the tour node nearest `landmark`, told only `instruction`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: str
    city: CityConfig
    centre: int
    radius_m: float = Field(gt=0)
    start: int
    goal: int
    landmark: str
    shortest_hops: int = Field(ge=1)

    @property
    def instruction(self) -> str:
        return f"Go to the {self.landmark}."

    def tour(self) -> Tour:
        return record_tour(self.city, self.centre, self.radius_m)

    def goal_frames(self) -> list[int]:
        return [f.index for f in self.tour().frames if f.node == self.goal]

    def city_task(self) -> CityTask:
        """The same start and goal as a city task (for the environment and its step limit)."""
        limit = max(step_limit_for(self.shortest_hops), len(self.tour().frames))
        return CityTask(
            task_id=self.task_id, city=self.city, start=self.start, goal=self.goal,
            shortest_hops=self.shortest_hops, step_limit=limit, references=[],
        )  # fmt: skip


def sample_tour_tasks(
    config: CityConfig, count: int, *, seed: int = 0, radius_m: float = 300.0
) -> list[TourTask]:
    """Seeded tour tasks: a neighbourhood beside a landmark, a start 2+ hops from the goal."""
    city = City.build(config)
    rng = random.Random(f"tours:{config.seed}:{seed}")
    tasks: list[TourTask] = []
    attempts = 0
    while len(tasks) < count:
        attempts += 1
        if attempts > 50 * count + 100:
            raise UsageError(
                f"could not make {count} tour tasks in a {radius_m:g} m radius; raise the radius"
            )
        mark = rng.choice(city.landmarks)
        near = [n for n in range(city.size) if city.distance(n, mark.x, mark.y) <= radius_m * 0.6]
        if not near:
            continue
        centre = rng.choice(near)
        nodes = sorted(region(city, centre, radius_m))
        index = city.landmarks.index(mark)
        seeing = [n for n in nodes if index in city.visible[n]]
        if not seeing:
            continue
        goal = min(seeing, key=lambda n: city.distance(n, mark.x, mark.y))
        hops = city.hops_from(goal)
        starts = [n for n in nodes if hops.get(n, 0) >= 2]
        if not starts:
            continue
        start = rng.choice(starts)
        tasks.append(
            TourTask(
                task_id=f"t{config.seed}-s{seed}-{len(tasks):03d}",
                city=config,
                centre=centre,
                radius_m=radius_m,
                start=start,
                goal=goal,
                landmark=mark.name,
                shortest_hops=hops[start],
            )
        )
    return tasks
