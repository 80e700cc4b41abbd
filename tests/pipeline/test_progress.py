"""Streamed model text stays readable when fan-out branches stream at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentrun.agents.testing import scripted_model
from agentrun.cli import run as cli
from agentrun.cli.progress import StreamedText


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def streamed() -> tuple[StreamedText, list[str], Clock]:
    out: list[str] = []
    clock = Clock()
    return StreamedText(out.append, clock=clock, patience_s=1.0), out, clock


def test_a_lone_step_streams_live_with_its_label() -> None:
    text, out, _ = streamed()
    text.add("plan", "Wri")
    assert "".join(out) == "plan | Wri"
    text.add("plan", "te\nthree")
    assert "".join(out) == "plan | Write\nplan | three"
    text.finish()
    assert "".join(out) == "plan | Write\nplan | three\n"


def test_interleaved_branches_come_out_as_whole_labelled_lines() -> None:
    text, out, clock = streamed()
    text.add("a[0]", "The keeper ")
    text.add("a[1]", "Stripes ")
    text.add("a[1]", "help.\nMore")
    text.add("a[0]", "tends lamps.")
    assert "".join(out) == "a[0] | The keeper tends lamps."  # a[1] waits for the line
    text.add("a[0]", "\n")
    assert "".join(out).endswith("a[0] | The keeper tends lamps.\na[1] | Stripes help.\n")
    clock.now = 0.5
    text.add("a[1]", " to be seen")  # it takes the free line, its held text first
    text.add("a[0]", "Logs")
    clock.now = 2.0  # a[1] has been quiet for longer than the patience
    text.add("a[0]", " weather.")
    text.finish()
    assert "".join(out).splitlines() == [
        "a[0] | The keeper tends lamps.",
        "a[1] | Stripes help.",
        "a[1] | More to be seen",
        "a[0] | Logs weather.",
    ]


def test_cli_streams_a_fan_out_readably(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: agentrun/v1\nname: t\nmodels:\n  default: {model: fake/t}\n"
        "nodes:\n  - id: each\n    for_each: \"['red', 'blue', 'green']\"\n    concurrency: 3\n"
        "    agent: {prompt: '{{ item }}'}\n",
        encoding="utf-8",
    )
    with scripted_model(lambda m: " ".join([m[-1]["content"]] * 30), delay_s=0.05):
        assert cli(["--data-dir", str(data_dir), "run", str(path), "--no-cache"]) == 0
    streamed_lines = [line for line in capsys.readouterr().err.splitlines() if " | " in line]
    assert len(streamed_lines) == 3
    for line in streamed_lines:
        label, _, words = line.partition(" | ")
        index = int(label.removeprefix("each[").removesuffix("]"))
        assert set(words.split()) == {["red", "blue", "green"][index]}
