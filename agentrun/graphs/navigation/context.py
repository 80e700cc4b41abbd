"""What the nodes of a workflow that acts in an environment see, and the base class giving it.

The environment is not graph state: it lives in the run's context, and a node finding it behind
the state (a resumed run, another process) brings it up to date by replaying the recorded
actions. Without one given, each run steps through its own city simulator.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentrun.graphs.base import ConfigT, InputsT, ResultT, Workflow
from agentrun.graphs.navigation.city import CityTask
from agentrun.graphs.navigation.environment import Environment
from agentrun.graphs.navigation.simulator import CityEnvironment
from agentrun.graphs.runtime import WorkflowContext, context


@dataclass
class NavigationContext(WorkflowContext):
    """The run context plus the environment (rebuilt from state on resume by replaying)."""

    environment: Environment[CityTask] | None = None
    applied: list[str] | None = None

    @classmethod
    def around(cls, ctx: WorkflowContext, environment: Environment[CityTask]) -> NavigationContext:
        shared = {f.name: getattr(ctx, f.name) for f in dataclasses.fields(WorkflowContext)}
        return cls(**shared, environment=environment)


def navigation_context() -> NavigationContext:
    """The running node's context (inside a navigation or tour graph)."""
    ctx = context()
    if not isinstance(ctx, NavigationContext) or ctx.environment is None:
        raise TypeError("navigation graphs run with a NavigationContext holding an environment")
    return ctx


class EnvironmentWorkflow(Workflow[ConfigT, InputsT, ResultT]):
    """A workflow whose nodes act in `environment` (by default a fresh city simulator per run);
    the other arguments are those of `Workflow`."""

    def __init__(
        self,
        config: ConfigT | Mapping[str, Any] | None = None,
        *,
        environment: Environment[CityTask] | None = None,
        **resources: Any,
    ) -> None:
        super().__init__(config, **resources)
        self.environment = environment

    def context(self, ctx: WorkflowContext) -> NavigationContext:
        environment = self.environment if self.environment is not None else CityEnvironment()
        return NavigationContext.around(ctx, environment)
