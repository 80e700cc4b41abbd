"""Workflows by name: the built-ins, those plugins declare, and those registered at run time.

Pipelines, the CLI and the server name a workflow by its registered name only (never by import
path). A plugin package declares its workflows as entry points of the group `agentrun.workflows`
(`my-flow = "my_package:MyFlow"`), or a program calls `agentrun.register_workflow(MyFlow)`.
Nothing is imported until a workflow is asked for, so `agentrun --version` stays fast; an
unknown name is an error that lists the known ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib.metadata import EntryPoint
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails

from agentrun import plugins
from agentrun.errors import ConfigError, UsageError
from agentrun.graphs.base import Workflow, input_problem

W = TypeVar("W", bound=type[Workflow[Any, Any, Any]])

WORKFLOWS_GROUP = "agentrun.workflows"
NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_.][a-z0-9]+)*$")

#: The workflows agentrun ships: name -> "module:Class".
BUILTIN: dict[str, str] = {
    "chain-of-agents": "agentrun.graphs.chain_of_agents:ChainOfAgents",
    "retrieve-then-reason": "agentrun.graphs.retrieve_then_reason:RetrieveThenReason",
    "agent-write": "agentrun.graphs.agent_write:AgentWrite",
    "navigation": "agentrun.graphs.navigation:Navigation",
    "tour-navigation": "agentrun.graphs.tour_navigation:TourNavigation",
    "long-caption": "agentrun.graphs.long_caption:LongCaption",
    "video-qa": "agentrun.graphs.video_qa:VideoQA",
}

_registered: dict[str, type[Workflow[Any, Any, Any]]] = {}
_loaded: dict[str, type[Workflow[Any, Any, Any]]] = {}


def register_workflow(workflow: W) -> W:
    """Make `workflow` (a `Workflow` subclass) known by its `name`; usable as a decorator.

    A name already taken by another class is an error: pick another name.
    """
    check_workflow_class(workflow, f"register_workflow({getattr(workflow, '__name__', workflow)})")
    taken = _registered.get(workflow.name) or _loaded.get(workflow.name)
    if workflow.name in BUILTIN or (taken is not None and taken is not workflow):
        raise UsageError(f"a workflow named {workflow.name!r} exists already; give yours "
                         "another name")  # fmt: skip
    _registered[workflow.name] = workflow
    return workflow


def check_workflow_class(workflow: Any, where: str) -> None:
    """Refuse what is not a usable Workflow class, saying what is missing."""
    if not (isinstance(workflow, type) and issubclass(workflow, Workflow)):
        raise ConfigError(f"{where}: {workflow!r} is not a subclass of agentrun.Workflow")
    name = getattr(workflow, "name", None)
    if not isinstance(name, str) or not NAME.match(name):
        raise ConfigError(f"{where}: the class needs a `name` like 'my-flow' (lower case, "
                          f"digits and dashes), found {name!r}")  # fmt: skip
    for part in ("Config", "Inputs", "Result"):
        if not (isinstance(getattr(workflow, part, None), type)
                and issubclass(getattr(workflow, part), BaseModel)):  # fmt: skip
            raise ConfigError(f"{where}: workflow {name!r} needs `{part}`, a pydantic model")


@cache
def _plugins() -> dict[str, EntryPoint]:
    """Entry points of installed plugins, read once per process (importing nothing)."""
    return plugins.declared(WORKFLOWS_GROUP)


def workflow_names() -> list[str]:
    """Every name a pipeline may use, sorted."""
    return sorted({*BUILTIN, *_plugins(), *_registered})


def workflow_source(name: str) -> str:
    """Where a workflow comes from: `built-in`, `plugin <distribution>` or `registered`."""
    if name in _registered:
        return "registered"
    if name in BUILTIN:
        return "built-in"
    return plugins.plugin_source(_plugins().get(name))


def get_workflow(name: str) -> type[Workflow[Any, Any, Any]]:
    """The workflow class registered as `name`; an unknown name lists the known ones."""
    found = _registered.get(name) or _loaded.get(name)
    if found is not None:
        return found
    if name in BUILTIN:
        found = plugins.import_attribute(BUILTIN[name])
    elif name in _plugins():
        found = _load_plugin(name, _plugins()[name])
    else:
        raise UsageError(unknown_workflow(name))
    assert found is not None
    _loaded[name] = found
    return found


def unknown_workflow(name: str) -> str:
    return plugins.unknown_name("workflow", name, workflow_names())


def _load_plugin(name: str, point: EntryPoint) -> type[Workflow[Any, Any, Any]]:
    where = plugins.entry_point_place(point, WORKFLOWS_GROUP, name)
    loaded = plugins.load_entry_point(point, WORKFLOWS_GROUP, name)
    check_workflow_class(loaded, where)
    if loaded.name != name:
        raise ConfigError(f"{where}: the class is named {loaded.name!r}; make the entry point's "
                          "name and the class's `name` the same")  # fmt: skip
    return loaded  # type: ignore[no-any-return]


# --- inputs and config, as pipelines give them -------------------------------------------------


def given_inputs(
    workflow: type[Workflow[Any, Any, Any]], inputs: Mapping[str, Any]
) -> dict[str, Any]:
    """Rendered inputs, without those left blank that the workflow can do without (it then
    uses its default): a pipeline's optional `"{{ inputs.pages }}"` may render empty."""
    fields = workflow.Inputs.model_fields
    return {
        name: value
        for name, value in inputs.items()
        if not (isinstance(value, str) and value.strip() in ("", "None"))
        or name not in fields
        or fields[name].is_required()
    }


def check_inputs(workflow: type[Workflow[Any, Any, Any]], inputs: Mapping[str, Any]) -> None:
    """Refuse, naming the input, a value the workflow's `Inputs` cannot read. Inputs left out
    are not asked for: a pipeline check passes literal inputs one at a time."""
    try:
        workflow.Inputs.model_validate(given_inputs(workflow, inputs))
    except ValidationError as exc:
        errors = (error for error in exc.errors() if error["loc"][:1] and error["loc"][0] in inputs)
        first = next(errors, None)
        if first is None:
            return
        detail = InitErrorDetails(type=first["type"], loc=first["loc"], input=first["input"])
        if "ctx" in first:
            detail["ctx"] = first["ctx"]
        problem = ValidationError.from_exception_data(exc.title, [detail])
        raise UsageError(input_problem(workflow.name, problem)) from None


def input_fields(workflow: type[Workflow[Any, Any, Any]]) -> tuple[list[str], list[str]]:
    """The workflow's (required, optional) input names, in declaration order."""
    fields = workflow.Inputs.model_fields
    required = [name for name, field in fields.items() if field.is_required()]
    return required, [name for name in fields if name not in required]


def workflow_schema(workflow: type[Workflow[Any, Any, Any]]) -> dict[str, Any]:
    """The JSON Schema of a pipeline step running `workflow`: its `type`, `config` (the
    workflow's Config) and `inputs` (templates, named by the workflow's Inputs)."""
    required, optional = input_fields(workflow)
    template = {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}
    descriptions = {
        name: field.description or "" for name, field in workflow.Inputs.model_fields.items()
    }
    inputs = {
        name: {**template, **({"description": descriptions[name]} if descriptions[name] else {})}
        for name in [*required, *optional]
    }
    return {
        "type": "object",
        "title": f"workflow {workflow.name}",
        "description": workflow.description,
        "properties": {
            "type": {"const": workflow.name},
            "config": workflow.Config.model_json_schema(),
            "inputs": {
                "type": "object",
                "properties": inputs,
                "required": required,
                "additionalProperties": False,
            },
        },
        "required": ["type"],
        "additionalProperties": False,
    }


__all__ = [
    "BUILTIN",
    "WORKFLOWS_GROUP",
    "check_inputs",
    "get_workflow",
    "given_inputs",
    "input_fields",
    "register_workflow",
    "unknown_workflow",
    "workflow_names",
    "workflow_schema",
    "workflow_source",
]
