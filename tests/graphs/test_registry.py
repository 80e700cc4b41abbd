"""Pipelines name workflows through the registry; its inputs arrive as rendered text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrun.cli import run as cli
from agentrun.errors import UsageError
from agentrun.graphs import registry
from agentrun.graphs.agent_write import AgentWrite
from agentrun.graphs.registry import get_workflow, register_workflow, workflow_names
from tests.graphs.test_base import Echo


def test_every_builtin_workflow_is_found_by_its_name() -> None:
    assert {
        "chain-of-agents", "retrieve-then-reason", "agent-write", "navigation", "tour-navigation",
        "long-caption", "video-qa",
    } <= set(workflow_names())  # fmt: skip
    for name in registry.BUILTIN:
        workflow = get_workflow(name)
        assert workflow.name == name and registry.workflow_source(name) == "built-in"


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match=r"unknown workflow 'chain-of-agent'; did you mean "
                       r"'chain-of-agents'\? \(known: .*agent-write"):  # fmt: skip
        get_workflow("chain-of-agent")


def test_a_workflow_registered_at_run_time_is_found_and_names_are_not_taken_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(registry, "_registered", {})
    assert register_workflow(Echo) is Echo and get_workflow("echo") is Echo
    assert "echo" in workflow_names() and registry.workflow_source("echo") == "registered"
    register_workflow(Echo)  # the same class again: fine

    class Other(Echo):
        pass

    with pytest.raises(UsageError, match="a workflow named 'echo' exists already"):
        register_workflow(Other)

    class Clash(Echo):
        name = "agent-write"

    with pytest.raises(UsageError, match="'agent-write' exists already"):
        register_workflow(Clash)

    class Nameless(Echo):
        name = "Bad Name"

    with pytest.raises(Exception, match="needs a `name` like 'my-flow'"):
        register_workflow(Nameless)


def test_inputs_are_read_by_the_workflow_model_and_blank_ones_left_to_the_default() -> None:
    given = {"instruction": "Write.", "target_words": ""}
    assert registry.given_inputs(AgentWrite, given) == {"instruction": "Write."}
    registry.check_inputs(AgentWrite, {"target_words": " 1500 "})
    with pytest.raises(UsageError, match=r"^workflow navigation: input 'task_seed': .*'three'"):
        registry.check_inputs(get_workflow("navigation"), {"task_seed": "three"})
    with pytest.raises(UsageError, match=r"^workflow tour-navigation: input 'radius_m': .*'far'"):
        registry.check_inputs(
            get_workflow("tour-navigation"), {"city_seed": "2", "radius_m": "far"}
        )


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(
    name: str, data_dir: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> dict[str, str]:
    """Run an example on its scripted replies; its outputs, from the result file."""
    stem = name.removesuffix(".yaml")
    code = cli([
        "--data-dir", str(data_dir), "run", str(EXAMPLES / name),
        "--set", f"models.default.model=fake/{stem}",
        "--set", f"models.default.replies=replies/{stem}.yaml", *args,
    ])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    result = next(line for line in out.splitlines() if line.startswith("result:")).split()[1]
    outputs: dict[str, str] = json.loads(Path(result).read_text())["outputs"]
    return outputs


def test_the_navigation_pipeline_sets_the_city_from_its_inputs(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = run_example("navigation.yaml", data_dir, capsys)
    hidden = run_example("navigation.yaml", data_dir, capsys, "--input", "occlusion=1")
    assert seen["outcome"].startswith("reached the goal")
    assert hidden["route"] != seen["route"]  # no landmark in view: nothing to head for
    code = cli(["--data-dir", str(data_dir), "run", str(EXAMPLES / "navigation.yaml"),
                "--input", "occlusion=2"])  # fmt: skip
    assert code == 2
    assert "navigation input 'occlusion': Input should be less than or equal to 1" in (
        capsys.readouterr().err
    )


def test_the_tour_pipeline_runs_on_its_scripted_replies(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = run_example("tour_navigation.yaml", data_dir, capsys)
    assert outputs["instruction"] == "Go to the Windmill."
    assert outputs["outcome"].startswith("reached the goal: frame 4 chosen")
    other = run_example("tour_navigation.yaml", data_dir, capsys, "--input", "task_seed=2")
    assert other["outcome"].startswith("did not reach the goal")  # the replies know task 1 only


def test_a_plain_number_is_a_valid_workflow_input(tmp_path: Path) -> None:
    from agentrun.pipeline import Pipeline

    spec = tmp_path / "write.yaml"
    spec.write_text(
        "version: agentrun/v1\nname: w\nmodels:\n  default: {model: fake/w}\n"
        "workflow:\n  type: agent-write\n"
        "  inputs: {instruction: Write about tides., target_words: 500}\n",
        encoding="utf-8",
    )
    step = Pipeline.load(spec).spec.workflow
    assert step is not None and step.inputs["target_words"] == "500"
    assert AgentWrite.Inputs.model_validate(step.inputs).target_words == 500
