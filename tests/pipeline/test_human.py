"""Questions to a person in pipelines: `human` steps, `approve: true`, and the CLI around them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrun.agents.testing import scripted_model
from agentrun.cli import run as cli
from agentrun.errors import EXIT_WAITING, AnswerError, SpecError
from agentrun.graphs.events import Interrupted, RunFinished, parse_event
from agentrun.pipeline import Pipeline, RunRecord

HEAD = "version: agentrun/v1\nname: t\nmodels:\n  default:\n    model: fake/t\n"

ASK = """
nodes:
  - id: topic
    human:
      question: "Which harbour should the brief cover?"
      schema: {type: string, enum: [Saltmere, Wend]}
  - id: brief
    agent: {prompt: "brief on {{ state.topic }}"}
edges:
  - {from: topic, to: brief}
outputs:
  brief: "{{ state.brief }}"
"""

APPROVE = """
nodes:
  - id: draft
    approve: true
    agent:
      prompt: "draft{% if review.feedback %} again: {{ review.feedback }}{% endif %}"
outputs:
  draft: "{{ state.draft }}"
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(HEAD + body, encoding="utf-8")
    return path


def test_a_human_step_waits_and_takes_a_checked_answer(tmp_path: Path, data_dir: Path) -> None:
    pipeline = Pipeline.load(write(tmp_path, ASK))
    with scripted_model(lambda m: m[-1]["content"].upper()) as fake:
        waiting = pipeline.run(thread_id="h1", data_dir=data_dir)
        assert waiting.waiting and not fake.calls  # nothing after the question ran
        assert waiting.interrupt is not None and waiting.interrupt.node == "topic"
        assert waiting.interrupt.question == "Which harbour should the brief cover?"
        assert RunRecord.open(data_dir, "h1").meta["status"] == "waiting"
        with pytest.raises(AnswerError, match="is not one of"):
            pipeline.resume("h1", answer="Atlantis", data_dir=data_dir)
        assert RunRecord.open(data_dir, "h1").meta["status"] == "waiting"  # still resumable
        done = pipeline.resume("h1", answer="Wend", data_dir=data_dir)
    assert done.outputs == {"brief": "BRIEF ON WEND"} and not done.waiting
    assert RunRecord.open(data_dir, "h1").meta["status"] == "done"


def test_approve_keeps_edits_or_reruns_a_rejected_step_with_feedback(
    tmp_path: Path, data_dir: Path
) -> None:
    pipeline = Pipeline.load(write(tmp_path, APPROVE))
    with scripted_model(lambda m: m[-1]["content"].upper()) as fake:
        first = pipeline.run(thread_id="a1", data_dir=data_dir)
        assert first.interrupt is not None and first.interrupt.value == "DRAFT"
        second = pipeline.resume("a1", answer="reject: shorter please", data_dir=data_dir)
        assert (
            second.interrupt is not None and second.interrupt.value == "DRAFT AGAIN: SHORTER PLEASE"
        )
        done = pipeline.resume("a1", answer="approve", data_dir=data_dir)
        prompts = [call.messages[-1]["content"] for call in fake.calls]
    assert done.outputs == {"draft": "DRAFT AGAIN: SHORTER PLEASE"}
    assert prompts == ["draft", "draft again: shorter please"]  # each call made once

    with scripted_model(lambda m: "model text"):
        pipeline.run(thread_id="a2", data_dir=data_dir)
        edited = pipeline.resume("a2", answer="my own words", data_dir=data_dir)
    assert edited.outputs == {"draft": "my own words"}


def test_too_many_rejections_fail_the_run_naming_the_limit(tmp_path: Path, data_dir: Path) -> None:
    pipeline = Pipeline.load(
        write(tmp_path, APPROVE.replace("approve: true", "approve: true\n    max_reviews: 1"))
    )
    with scripted_model(lambda m: "text"):
        pipeline.run(thread_id="r", data_dir=data_dir)
        with pytest.raises(Exception, match=r"rejected 1 times \(max_reviews\)"):
            pipeline.resume("r", answer="reject", data_dir=data_dir)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (ASK.replace("  - id: topic\n", "  - id: topic\n    for_each: '[1]'\n"), "cannot fan out"),
        (
            ASK.replace("{type: string, enum: [Saltmere, Wend]}", "{type: strin}"),
            "not a valid JSON Schema",
        ),
        (
            APPROVE.replace("review.feedback %}", "reviews.feedback %}"),
            "unknown variable 'reviews'",
        ),
    ],
)
def test_bad_questions_are_spec_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        Pipeline.load(write(tmp_path, body))


def test_the_cli_stops_with_its_code_prints_the_question_and_resumes_with_an_answer(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, ASK)
    events = tmp_path / "events.jsonl"
    with scripted_model(lambda m: m[-1]["content"].upper()):
        code = cli(["--data-dir", str(data_dir), "run", str(path), "--thread-id", "c1",
                    "--events", str(events)])  # fmt: skip
        err = capsys.readouterr().err
        assert code == EXIT_WAITING
        assert "Which harbour should the brief cover?" in err
        assert f"agentrun --data-dir {data_dir} resume c1 --answer TEXT|@file" in err
        kinds = [parse_event(line).kind for line in events.read_text().splitlines()]
        assert "interrupt" in kinds and kinds[-1] == "result"
        assert oct(events.stat().st_mode & 0o777) == "0o600"

        assert cli(["--data-dir", str(data_dir), "resume", "c1", "--answer", "Atlantis"]) == 2
        assert "is not one of" in capsys.readouterr().err
        answer = tmp_path / "answer.txt"
        answer.write_text("Saltmere", encoding="utf-8")
        assert cli(["--data-dir", str(data_dir), "resume", "c1", "--answer", f"@{answer}"]) == 0
    assert "brief: BRIEF ON SALTMERE" in capsys.readouterr().out


async def test_the_stream_carries_the_question_and_the_waiting_result(
    tmp_path: Path, data_dir: Path
) -> None:
    pipeline = Pipeline.load(write(tmp_path, ASK))
    with scripted_model(lambda m: "x"):
        events = [e async for e in pipeline.astream(thread_id="s1", data_dir=data_dir)]
    asked = [e for e in events if isinstance(e, Interrupted)]
    assert [e.pending.node for e in asked] == ["topic"]
    final = events[-1]
    assert isinstance(final, RunFinished) and final.status == "waiting"
    assert json.loads(final.model_dump_json())["result"]["interrupt"]["node"] == "topic"


REVIEWED_WRITE = """
inputs:
  topic: {type: string}
workflow:
  type: agent-write
  config: {review_plan: true, fix_attempts: 0, summary: extractive}
  inputs: {instruction: "Write a 3000-word article about {{ inputs.topic }}."}
outputs:
  words: "{{ result.words }}"
"""


def test_a_workflow_question_is_relayed_and_answered_through_the_cli(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.graphs.test_agent_write import Writer

    path = write(tmp_path, REVIEWED_WRITE)
    base = ["--data-dir", str(data_dir)]
    with scripted_model(Writer(1.0)) as fake:
        code = cli([*base, "run", str(path), "--input", "topic=lighthouses", "--thread-id", "w"])
        err = capsys.readouterr().err
        assert code == EXIT_WAITING and "waiting at result/review" in err
        assert '"title": "Era 1"' in err  # the outline to review is shown
        planned = len(fake.calls)
        assert cli([*base, "resume", "w", "--answer", "approve"]) == 0, capsys.readouterr().err
        wrote = len(fake.calls) - planned
    assert wrote >= 6  # every section written after approval, and the plan not asked again
    assert "words: " in capsys.readouterr().out
    assert RunRecord.open(data_dir, "w").meta["status"] == "done"
