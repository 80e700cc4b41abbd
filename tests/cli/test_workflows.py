"""`agentrun workflows ls|show` and `agentrun run --workflow NAME` (no YAML)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrun.agents.testing import scripted_model
from agentrun.cli import run as cli
from agentrun.pipeline import RunRecord


def test_workflows_are_listed_with_their_inputs_and_shown_as_json_schema(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli(["workflows", "ls"]) == 0
    listed = capsys.readouterr().out
    for name in ("chain-of-agents", "retrieve-then-reason", "agent-write", "navigation"):
        assert name in listed
    assert "document, [query]" in listed and "built-in" in listed

    assert cli(["workflows", "show", "agent-write"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["inputs"]["required"] == ["instruction"]
    assert "review_plan" in shown["config"]["properties"]
    assert cli(["workflows", "show", "agent-writer"]) == 2
    assert "did you mean 'agent-write'" in capsys.readouterr().err


def test_a_workflow_runs_from_the_cli_without_yaml_and_resumes(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "doc.md"
    document.write_text("The harbour wall was finished in 1734. " * 40, encoding="utf-8")
    args = ["--data-dir", str(data_dir), "run", "--workflow", "chain-of-agents",
            "--input", f"document=@{document}", "--input", "query=When was the wall finished?",
            "--set", "config.cu_format=free", "--set", "config.chunk_tokens=200",
            "--set", "models.default.model=fake/w", "--thread-id", "w1"]  # fmt: skip
    with scripted_model(lambda m: "1734") as fake:
        assert cli(args) == 0
    out = capsys.readouterr().out
    assert "answer: 1734" in out
    assert len(fake.calls) >= 3  # several workers and the manager
    record = RunRecord.open(data_dir, "w1")
    assert record.meta["status"] == "done" and record.meta["pipeline"] == "chain-of-agents"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workflow", "chain-of-agent"], "did you mean 'chain-of-agents'"),
        (["--workflow", "chain-of-agents", "--input", "documnt=x"], "has no input 'documnt'"),
        (
            [
                "--workflow",
                "chain-of-agents",
                "--input",
                "document=x",
                "--set",
                "config.cu_format=bad",
            ],
            "config.cu_format: Input should be 'auto', 'evidence' or 'free'",
        ),
        (["--workflow", "chain-of-agents"], "missing input 'document'"),
        ([], "name a pipeline file or --workflow NAME"),
    ],
)
def test_bad_workflow_runs_are_one_clear_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["run", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_run_that_fails_on_its_input_says_to_start_again_not_to_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    args = ["run", "--workflow", "chain-of-agents", "--input", f"document=@{empty}",
            "--input", "query=What?", "--thread-id", "empty"]  # fmt: skip
    assert cli(args) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "the document is empty" in err
    assert "run empty failed on its input" in err and "start a new run" in err
    assert "resume with" not in err
