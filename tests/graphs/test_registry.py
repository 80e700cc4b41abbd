"""Pipelines name workflows through the registry; its inputs arrive as rendered text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrun.cli import run as cli
from agentrun.errors import UsageError
from agentrun.graphs.registry import WORKFLOWS


def test_every_workflow_is_registered_with_its_entry_point() -> None:
    assert set(WORKFLOWS) == {
        "chain-of-agents",
        "retrieve-then-reason",
        "agent-write",
        "navigation",
        "tour-navigation",
    }
    for entry in WORKFLOWS.values():
        assert callable(entry.runner()) and callable(entry.resumer())


def test_integer_inputs_are_converted_and_blank_ones_left_to_the_default() -> None:
    write = WORKFLOWS["agent-write"]
    assert write.arguments({"instruction": "Write.", "target_words": " 1500 "}) == {
        "instruction": "Write.",
        "target_words": 1500,
    }
    assert write.arguments({"instruction": "Write.", "target_words": ""}) == {
        "instruction": "Write."
    }
    assert WORKFLOWS["retrieve-then-reason"].arguments({"context": "c", "query": "q"}) == {
        "context_in": "c",
        "query": "q",
    }


def test_a_workflow_class_refuses_a_bad_input_by_name_before_the_run() -> None:
    with pytest.raises(UsageError, match=r"^workflow navigation: input 'task_seed': .*'three'"):
        WORKFLOWS["navigation"].arguments({"task_seed": "three"})
    with pytest.raises(UsageError, match=r"^workflow tour-navigation: input 'radius_m': .*'far'"):
        WORKFLOWS["tour-navigation"].arguments({"city_seed": "2", "radius_m": "far"})
    given = {"task_seed": "3", "occlusion": "0.5", "distance_noise": ""}
    assert WORKFLOWS["navigation"].arguments(given) == given  # the class converts them


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
    assert WORKFLOWS["agent-write"].arguments(step.inputs)["target_words"] == 500
