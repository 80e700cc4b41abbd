"""Every example validates, and runs on scripted models (no model needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agentrun.cli import run as cli
from agentrun.pipeline import load_pipeline

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
DEMO_TEXT = ROOT / "agentrun" / "data" / "demo" / "harbor_town.md"
#: What each example needs to run on a fake model: extra CLI arguments.
FAKE_RUNS = {
    "chain_of_agents.yaml": ["--input", f"document=@{DEMO_TEXT}"],
    "research_brief.yaml": [],
    "retrieve_then_reason.yaml": ["--input", f"context=@{DEMO_TEXT}"],
    "agent_write.yaml": [
        "--input",
        "target_words=500",
        "--set",
        "workflow.config.section_words=250",
    ],
    "navigation.yaml": [],
    "tour_navigation.yaml": [],
    "harbour_notes.yaml": [],
    "tool_agent.yaml": [],
    "long_caption.yaml": [],
    "video_qa.yaml": ["--set", "workflow.config.speech=false"],
}


def test_examples_exist_and_declare_the_schema() -> None:
    assert {p.name for p in EXAMPLES} >= set(FAKE_RUNS)
    for example in EXAMPLES:
        first = example.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schema/agentrun-v1.json", example.name


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_validates(example: Path) -> None:
    assert cli(["validate", str(example)]) == 0


@pytest.mark.parametrize("name", sorted(FAKE_RUNS))
def test_example_runs_on_its_scripted_replies(
    name: str, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stem = name.removesuffix(".yaml")
    args = [
        "--data-dir", str(data_dir), "run", str(ROOT / "examples" / name),
        "--set", f"models.default.model=fake/{stem}",
        "--set", f"models.default.replies=replies/{stem}.yaml",
        *FAKE_RUNS[name],
    ]  # fmt: skip
    assert cli(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "result:" in out and "thread:" in out
    result_path = Path(
        next(line for line in out.splitlines() if line.startswith("result:")).split()[1]
    )
    assert result_path.is_file()
    if name == "chain_of_agents.yaml":
        assert "answer: 1971" in out
    if name == "research_brief.yaml":
        assert "brief: Lighthouses guide ships" in out
    if name == "retrieve_then_reason.yaml":
        assert "answer: Daniel Ashby" in out and "facts: 1 verified facts" in out
    if name == "agent_write.yaml":
        assert "## Fires on the shore" in out and "## Lenses and keepers" in out
        assert "for a target of 500" in out and "plan: 2 sections (model plan)" in out
    if name == "navigation.yaml":  # the replies always take the first-ranked direction
        assert "outcome: reached the goal" in out
    if name == "tour_navigation.yaml":
        assert "outcome: reached the goal: frame 4 chosen" in out
    if name == "harbour_notes.yaml":
        assert "answer: Lady Elspeth Varne" in out and "notes: 4 notes kept" in out
    if name == "tool_agent.yaml":  # memory, then the folder, then the file were looked up
        assert "answer: 42 lamps: 18 in the harbour store and 24 in the north tower." in out
    if name == "long_caption.yaml":  # 4 segment captions, 2 merges, 2 sections
        assert "## [00:00:00]-[00:00:20]" in out and "## [00:00:20]-[00:00:40]" in out
        assert "2 sections, 42 words for a target of 200; 4 segments, 2 merges" in out
    if name == "video_qa.yaml":  # the segment holding MIRROR 37 (read on screen) was sent
        assert 'answer: "WINDOW 40" [00:00:09]' in out and "cited: [00:00:09] (grounded)" in out


def test_load_pipeline_runs_from_python_without_global_state(data_dir: Path) -> None:
    import logging

    handlers = list(logging.getLogger().handlers)
    pipeline = load_pipeline(
        ROOT / "examples" / "research_brief.yaml",
        {"models.default.model": "fake/b", "models.default.replies": "replies/research_brief.yaml"},
    )
    result = pipeline.run({"topic": "lighthouses"}, data_dir=data_dir)
    assert result.outputs["brief"] == "Lighthouses guide ships; keepers tend the lamps."
    assert result.results["plan"]["questions"][0] == "What does a lighthouse keeper do?"
    assert len(result.results["answers"]) == 2
    assert logging.getLogger().handlers == handlers


@pytest.mark.real_model
def test_the_main_job_runs_on_the_embedded_model(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `make demo` runs: the chain-of-agents example on local/smollm2 (wiring only).

    The document is the demo's first 600 words in chunks of 250 tokens, with small communication
    units and few output tokens per call: several workers and a manager, bounded by tokens
    however busy the machine is."""
    words = DEMO_TEXT.read_text(encoding="utf-8").split(" ")
    document = tmp_path / "demo_part.md"
    document.write_text(" ".join(words[:600]), encoding="utf-8")
    config = "workflow.config"
    args = ["--data-dir", str(data_dir), "run", str(ROOT / "examples" / "chain_of_agents.yaml"),
            "--input", f"document=@{document}", "--set", f"{config}.chunk_tokens=250",
            "--set", f"{config}.cu_tokens=128", "--set", f"{config}.worker_max_tokens=48",
            "--set", f"{config}.answer_max_tokens=24"]  # fmt: skip
    assert cli(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert re.search(r"answer: \S", out)
    calls = re.search(r"[1-9]\d* prompt \+ [1-9]\d* completion tokens, (\d+) model calls", out)
    assert calls is not None and int(calls.group(1)) >= 3  # two workers or more, and the manager
