"""The environment seam: what an embodied workflow sees of a world it acts in.

An environment is reset with a task, shows an observation (text, and a PNG image on request),
lists the actions available where the agent stands, and applies one action per step. Workflows
depend on this Protocol only, so a simulator, a recorded tour or a real robot plug in alike.
`simulator.CityEnvironment` is the seeded city shipped for tests and evals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

ObservationKind = Literal["text", "image"]

TaskT_contra = TypeVar("TaskT_contra", contravariant=True)


@dataclass(frozen=True)
class Observation:
    """What the agent perceives now: always text; a PNG image when one was asked for."""

    text: str
    image: bytes | None = None


@dataclass(frozen=True)
class StepResult:
    """The outcome of one action. `done` is set on success and when the step limit is hit."""

    observation: Observation
    done: bool
    success: bool
    steps: int
    info: dict[str, Any] = field(default_factory=dict)


class Environment(Protocol[TaskT_contra]):
    """A world an agent acts in, one discrete action at a time."""

    def reset(self, task: TaskT_contra) -> Observation:
        """Start the task from its first state and return the first (text) observation."""
        ...

    def observe(self, kind: ObservationKind = "text") -> Observation:
        """The current observation; `image` also renders a PNG (text is always included)."""
        ...

    def available_actions(self) -> list[str]:
        """The actions `step` accepts here."""
        ...

    def step(self, action: str) -> StepResult:
        """Apply one available action; a UsageError for an unknown action or a finished task."""
        ...
