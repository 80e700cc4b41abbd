"""The built-in workflows a pipeline can name, and how a pipeline calls each one.

Each entry gives the workflow's typed config and the inputs its `arun` takes. Pipelines refer to
workflows by these names only (never by import path); an unknown name is an error that lists the
valid ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from agentrun.graphs.chain_of_agents import ChainOfAgentsConfig
from agentrun.graphs.retrieve_then_reason.models import RetrieveThenReasonConfig


@dataclass(frozen=True)
class WorkflowEntry:
    name: str
    module: str
    config: type[BaseModel]
    required_inputs: tuple[str, ...]
    optional_inputs: tuple[str, ...] = ()
    description: str = ""
    #: Pipeline input name -> the keyword of `arun` it is passed as, where they differ.
    keywords: tuple[tuple[str, str], ...] = ()

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.required_inputs + self.optional_inputs

    def runner(self) -> Callable[..., Awaitable[BaseModel]]:
        """The workflow's `arun(*inputs, config=..., gateway=..., store=..., ...)`."""
        return importlib.import_module(self.module).arun  # type: ignore[no-any-return]

    def resumer(self) -> Callable[..., Awaitable[BaseModel]]:
        return importlib.import_module(self.module).aresume  # type: ignore[no-any-return]

    def arguments(self, inputs: Mapping[str, object]) -> dict[str, object]:
        """Pipeline inputs as keyword arguments of `arun`."""
        renamed = dict(self.keywords)
        return {renamed.get(name, name): value for name, value in inputs.items()}


WORKFLOWS: dict[str, WorkflowEntry] = {}


def register(entry: WorkflowEntry) -> None:
    WORKFLOWS[entry.name] = entry


register(
    WorkflowEntry(
        name="chain-of-agents",
        module="agentrun.graphs.chain_of_agents",
        config=ChainOfAgentsConfig,
        required_inputs=("document",),
        optional_inputs=("query",),
        description="Workers read a long document in order; a manager answers (or summarizes).",
    )
)


register(
    WorkflowEntry(
        name="retrieve-then-reason",
        module="agentrun.graphs.retrieve_then_reason",
        config=RetrieveThenReasonConfig,
        required_inputs=("context", "query"),
        description="Extract supporting quotes, verify each against the source, then answer "
        "from the verified facts only (or abstain).",
        keywords=(("context", "context_in"),),
    )
)


def _step_model(entry: WorkflowEntry) -> type[BaseModel]:
    """The spec model of one workflow step: its type tag, config and input templates."""
    title = "".join(part.capitalize() for part in entry.name.split("-")) + "Step"
    inputs_doc = ", ".join(entry.required_inputs) + (
        f" (optional: {', '.join(entry.optional_inputs)})" if entry.optional_inputs else ""
    )
    model: type[BaseModel] = create_model(
        title,
        __config__=ConfigDict(extra="forbid"),
        __doc__=entry.description,
        type=(Literal[entry.name], Field(description="Which built-in workflow.")),  # type: ignore[arg-type]
        config=(entry.config, Field(default_factory=entry.config)),
        inputs=(
            dict[str, str],
            Field(default_factory=dict, description=f"Templates for its inputs: {inputs_doc}."),
        ),
    )
    return model


def step_models() -> tuple[type[BaseModel], ...]:
    return tuple(_step_model(entry) for entry in WORKFLOWS.values())


def _workflow_spec() -> Any:
    steps = step_models()
    if len(steps) == 1:
        return steps[0]
    return Annotated[Union[steps], Field(discriminator="type")]  # noqa: UP007


#: The spec of a workflow step: a union of every registered workflow, tagged by `type`.
WorkflowSpec: Any = _workflow_spec()


def entry_for(step: BaseModel) -> WorkflowEntry:
    return WORKFLOWS[str(step.type)]  # type: ignore[attr-defined]
