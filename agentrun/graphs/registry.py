"""The built-in workflows a pipeline can name, and how a pipeline calls each one.

Each entry gives the workflow's typed config and the inputs its `arun` takes. Pipelines refer to
workflows by these names only (never by import path); an unknown name is an error that lists the
valid ones.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic_core import InitErrorDetails

from agentrun.errors import UsageError
from agentrun.graphs.agent_write import AgentWriteConfig
from agentrun.graphs.base import input_problem
from agentrun.graphs.chain_of_agents import ChainOfAgentsConfig
from agentrun.graphs.navigation import Navigation, NavigationConfig
from agentrun.graphs.retrieve_then_reason.models import RetrieveThenReasonConfig
from agentrun.graphs.tour_navigation import TourConfig, TourNavigation


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
    #: Inputs that are not text: rendered templates are converted to these types.
    integer_inputs: tuple[str, ...] = ()
    number_inputs: tuple[str, ...] = ()
    #: The module's entry point, when it is not `arun` (it takes the same keywords).
    runner_name: str = "arun"
    #: The module's `Workflow` class, when it has one: `runner` and `resumer` go through it.
    workflow_class: str | None = None

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.required_inputs + self.optional_inputs

    def runner(self) -> Callable[..., Awaitable[BaseModel]]:
        """The workflow's `arun(*inputs, config=..., gateway=..., store=..., ...)`."""
        if self.workflow_class is not None:
            cls = getattr(importlib.import_module(self.module), self.workflow_class)

            async def run(*, thread_id: str, **options: Any) -> BaseModel:
                resources = {name: options.pop(name) for name in _RESOURCES if name in options}
                workflow = cls(options.pop("config", None), **resources)
                return await workflow.arun(thread_id=thread_id, **options)  # type: ignore[no-any-return]

            return run
        return getattr(importlib.import_module(self.module), self.runner_name)  # type: ignore[no-any-return]

    def resumer(self) -> Callable[..., Awaitable[BaseModel]]:
        if self.workflow_class is not None:
            cls = getattr(importlib.import_module(self.module), self.workflow_class)

            async def resume(thread_id: str, **options: Any) -> BaseModel:
                resources = {name: options.pop(name) for name in _RESOURCES if name in options}
                workflow = cls(options.pop("config", None), **resources)
                return await workflow.aresume(thread_id)  # type: ignore[no-any-return]

            return resume
        return importlib.import_module(self.module).aresume  # type: ignore[no-any-return]

    def arguments(self, inputs: Mapping[str, object]) -> dict[str, object]:
        """Pipeline inputs as keyword arguments of `arun` (numbers converted, blanks dropped;
        a `Workflow` class converts its own, and a value it refuses is refused here already)."""
        if self.workflow_class is not None:
            workflow = getattr(importlib.import_module(self.module), self.workflow_class)
            check_inputs(workflow.name, workflow.Inputs, inputs)
        renamed = dict(self.keywords)
        arguments: dict[str, object] = {}
        for name, value in inputs.items():
            if name in self.integer_inputs or name in self.number_inputs:
                text = str(value).strip()
                if not text or text == "None":
                    continue  # an optional number left empty: the workflow's default
                value = self._number(name, text)
            arguments[renamed.get(name, name)] = value
        return arguments

    def _number(self, name: str, text: str) -> int | float:
        whole = name in self.integer_inputs
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            kind = "a whole number" if whole else "a number"
            raise UsageError(
                f"workflow {self.name}: input {name!r} must be {kind}, got "
                f"{text[:40]!r}; fix the template or the value passed with --input"
            ) from None
        return value


def check_inputs(workflow: str, model: type[BaseModel], inputs: Mapping[str, object]) -> None:
    """Refuse, naming the input, a value of `inputs` that the workflow's `Inputs` model cannot
    read. Inputs left out are not asked for: a pipeline check passes one input at a time."""
    try:
        model.model_validate(dict(inputs))
    except ValidationError as exc:
        errors = (error for error in exc.errors() if error["loc"][:1] and error["loc"][0] in inputs)
        first = next(errors, None)
        if first is None:
            return
        detail = InitErrorDetails(type=first["type"], loc=first["loc"], input=first["input"])
        if "ctx" in first:
            detail["ctx"] = first["ctx"]
        problem = ValidationError.from_exception_data(exc.title, [detail])
        raise UsageError(input_problem(workflow, problem)) from None


#: What a pipeline hands a workflow besides its config and inputs.
_RESOURCES = ("gateway", "store", "checkpointer", "namespace")
WORKFLOWS: dict[str, WorkflowEntry] = {}
#: The city simulator's settings a navigation pipeline may set (numbers).
_CITY_KNOBS = ("occlusion", "visibility_m", "bearing_noise_deg", "distance_noise")


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


register(
    WorkflowEntry(
        name="agent-write",
        module="agentrun.graphs.agent_write",
        config=AgentWriteConfig,
        required_inputs=("instruction",),
        optional_inputs=("target_words",),
        description="Plan sections with word budgets, then write them one by one (AgentWrite): "
        "long texts that hit the requested length.",
        integer_inputs=("target_words",),
    )
)


register(
    WorkflowEntry(
        name="navigation",
        module="agentrun.graphs.navigation",
        config=NavigationConfig,
        required_inputs=(),
        optional_inputs=("city_seed", "task_seed", "min_hops", "max_hops", *_CITY_KNOBS),
        description=Navigation.description,
        workflow_class="Navigation",
    )
)


register(
    WorkflowEntry(
        name="tour-navigation",
        module="agentrun.graphs.tour_navigation",
        config=TourConfig,
        required_inputs=(),
        optional_inputs=("city_seed", "task_seed", "radius_m", "occlusion", "visibility_m"),
        description=TourNavigation.description,
        workflow_class="TourNavigation",
    )
)


#: A workflow input: a template, or a plain number (`target_words: 500`) taken as its text.
InputTemplate = Annotated[str | int | float, AfterValidator(str)]


def _step_model(entry: WorkflowEntry) -> type[BaseModel]:
    """The spec model of one workflow step: its type tag, config and input templates."""
    title = "".join(part.capitalize() for part in entry.name.split("-")) + "Step"
    parts = [", ".join(entry.required_inputs)] if entry.required_inputs else []
    if entry.optional_inputs:
        parts.append(f"optional: {', '.join(entry.optional_inputs)}")
    inputs_doc = "; ".join(parts)
    model: type[BaseModel] = create_model(
        title,
        __config__=ConfigDict(extra="forbid"),
        __doc__=entry.description,
        type=(Literal[entry.name], Field(description="Which built-in workflow.")),  # type: ignore[arg-type]
        config=(entry.config, Field(default_factory=entry.config)),
        inputs=(
            dict[str, InputTemplate],
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
