"""The city as an `Environment[CityTask]`: the seeded simulator a navigation run steps through.

It keeps the agent's node, heading and step count; observations are the text view of the city
(`describe_view`) and, on request, the heading-up local map (`render.local_map_png`), both from
one draw of the perception noise.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from agentrun.errors import UsageError
from agentrun.graphs.navigation.city import (
    City,
    CityTask,
    Sighting,
    describe_view,
    direction_of,
    exact_sightings,
)
from agentrun.graphs.navigation.environment import Observation, ObservationKind, StepResult
from agentrun.graphs.navigation.render import local_map_png


class CityEnvironment:
    """The city as an `Environment[CityTask]`: exact (oracle) perception unless noise is set."""

    def __init__(self, city: City | None = None) -> None:
        self._city = city
        self._task: CityTask | None = None
        self.node = 0
        self.heading = 0.0
        self.steps = 0
        self.path: list[int] = []
        self.done = False
        self.success = False

    @property
    def city(self) -> City:
        if self._city is None:
            raise UsageError("reset the environment with a task first")
        return self._city

    @property
    def task(self) -> CityTask:
        if self._task is None:
            raise UsageError("reset the environment with a task first")
        return self._task

    def reset(self, task: CityTask) -> Observation:
        if self._city is None or self._city.config != task.city:
            self._city = City.build(task.city)
        self._task = task
        self.node, self.heading, self.steps = task.start, 0.0, 0
        self.path = [task.start]
        self.done = self.success = task.start == task.goal
        return self.observe()

    def sightings(self) -> list[Sighting]:
        """Visible landmarks as (name, bearing, distance), noisy if the config says so."""
        city, node = self.city, self.node
        rng = random.Random(f"{city.config.seed}:{self.task.task_id}:{self.steps}:{node}")
        seen = []
        for name, bearing, distance in exact_sightings(city, node):
            if city.config.bearing_noise_deg:
                bearing = (bearing + rng.gauss(0, city.config.bearing_noise_deg)) % 360
            if city.config.distance_noise:
                distance *= max(0.05, 1 + rng.gauss(0, city.config.distance_noise))
            seen.append((name, bearing, distance))
        return sorted(seen, key=lambda s: s[2])

    def observe(self, kind: ObservationKind = "text") -> Observation:
        header = (
            f"Step {self.steps} of at most {self.task.step_limit}. "
            f"Heading: {direction_of(self.heading)} ({self.heading:.0f}°)."
        )
        sightings = self.sightings()  # one draw of the noise for the text and the image
        text = describe_view(sightings, list(self.city.exits[self.node].values()), header)
        if kind == "text":
            return Observation(text)
        image = local_map_png(self.city, self.node, self.heading, sightings=sightings)
        return Observation(text, image)

    def available_actions(self) -> list[str]:
        return [] if self.done else list(self.city.exits[self.node])

    def step(self, action: str) -> StepResult:
        if self.done:
            raise UsageError(f"task {self.task.task_id} is finished; reset before stepping")
        ex = self.city.exits[self.node].get(action)
        if ex is None:
            choices = ", ".join(self.city.exits[self.node])
            raise UsageError(f"{action!r} is not an exit here; choose one of {choices}")
        self.node, self.heading = ex.node, ex.bearing
        self.steps += 1
        self.path.append(ex.node)
        self.success = ex.node == self.task.goal
        self.done = self.success or self.steps >= self.task.step_limit
        info = {"moved_m": ex.length, "bearing": ex.bearing}
        return StepResult(self.observe(), self.done, self.success, self.steps, info)


def replay(task: CityTask, actions: Sequence[str]) -> list[int]:
    """The node path a sequence of actions walks (for rendering and checks)."""
    env = CityEnvironment()
    env.reset(task)
    for action in actions:
        if env.done:
            break
        env.step(action)
    return env.path
