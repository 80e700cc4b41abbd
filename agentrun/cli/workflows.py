"""`agentrun workflows ls` and `agentrun workflows show NAME`: what pipelines can run."""

from __future__ import annotations

import json

import typer

from agentrun.cli._common import console, literal

app = typer.Typer(help="List the registered workflows and show their inputs and config.",
                  no_args_is_help=True)  # fmt: skip


@app.command("ls")
def ls() -> None:
    """Every registered workflow (built-in, from plugins, or registered at run time): its
    inputs (optional ones in brackets) and what it does."""
    from agentrun.graphs.registry import get_workflow, input_fields, workflow_names, workflow_source

    out = console()
    for name in workflow_names():
        workflow = get_workflow(name)
        required, optional = input_fields(workflow)
        inputs = ", ".join([*required, *(f"[{field}]" for field in optional)])
        out.print(literal(f"{name} ({workflow_source(name)})"), style="bold")
        out.print(literal(f"    inputs: {inputs or 'none'}"))
        if workflow.description:
            out.print(literal(f"    {workflow.description}"))


@app.command("show")
def show(
    name: str = typer.Argument(..., help="A workflow's name (see `agentrun workflows ls`)."),
) -> None:
    """A workflow's description, and its inputs, config and result as JSON Schema."""
    from agentrun.graphs.registry import get_workflow, workflow_source

    workflow = get_workflow(name)
    described = {
        "name": workflow.name,
        "from": workflow_source(name),
        "description": workflow.description,
        "inputs": workflow.Inputs.model_json_schema(),
        "config": workflow.Config.model_json_schema(),
        "result": workflow.Result.model_json_schema(),
    }
    console().print(literal(json.dumps(described, indent=2, ensure_ascii=False)))
