"""The long-video eval on small generated videos: long-caption recall and order, video-qa
against the uniform baseline, the scripted VLM's error rate, resumable rows, and the CLI on a
held-out video made with the documented command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("av", reason="video input needs the video extra (PyAV)")

from agentrun.agents import Gateway
from agentrun.agents.messages import Image, user
from agentrun.cli import run as cli
from agentrun.evals.html_report import load_view
from agentrun.evals.long_video import REPORT_JSON, REPORT_PNG, LongVideoEvalConfig, arun_eval
from agentrun.evals.report import RESULTS_FILE
from agentrun.evals.scripted_vlm import ScriptedVLM, frame_times
from agentrun.evals.video_questions import make_questions
from agentrun.graphs.long_caption.prompts import CAPTION_SYSTEM
from agentrun.media.synthetic import main as write_video
from agentrun.media.synthetic import plan_scenes
from agentrun.memory import in_memory_store

#: One 30 s video, one question of each kind, no OCR nor speech: a few seconds.
SMALL = {"videos": 1, "duration_s": 30.0, "speech": False, "per_kind": 1, "ocr": False}


async def run(tmp_path: Path, data_dir: Path, **settings: Any) -> dict[str, Any]:
    config = LongVideoEvalConfig(**(SMALL | settings))
    async with Gateway(data_dir=data_dir, cache=False) as gateway:
        return await arun_eval(
            config, tmp_path / "out", gateway=gateway, store=in_memory_store(), data_dir=data_dir
        )


async def test_the_eval_scores_both_workflows_and_the_baseline(
    tmp_path: Path, data_dir: Path
) -> None:
    report = await run(tmp_path, data_dir, error_rate=0.0)
    summary = report["summary"]
    caption = summary["long-caption"]
    assert caption["videos"] == 1 and caption["event_recall"] == 1.0
    assert caption["order_accuracy"] == 1.0 and caption["timestamp_error_s"] < 2.0
    assert abs(caption["words"] - 400) <= 40
    rag, uniform = summary["rag"], summary["uniform"]
    assert rag["questions"] == uniform["questions"] == 3  # silent: no speech question
    assert set(rag["by_kind"]) == {"text_after", "text_at", "colour_first"}
    assert rag["accuracy"] == 1.0 and rag["grounded_citations"] == 1.0
    assert uniform["accuracy"] <= rag["accuracy"]
    for method in ("long-caption", "rag", "uniform"):
        assert summary[method]["prompt_tokens"] > 0 and summary[method]["model_calls"] > 0
    out = tmp_path / "out"
    assert (out / REPORT_PNG).read_bytes().startswith(b"\x89PNG")
    assert json.loads((out / REPORT_JSON).read_text())["summary"] == summary
    rows = (out / RESULTS_FILE).read_text().splitlines()
    assert len(rows) == 1 + 3 + 3
    again = await run(tmp_path, data_dir, error_rate=0.0)  # every row is done: nothing re-run
    assert again["summary"] == summary
    assert len((out / RESULTS_FILE).read_text().splitlines()) == len(rows)


async def test_the_scripted_vlm_errs_at_its_rate(tmp_path: Path, data_dir: Path) -> None:
    report = await run(tmp_path, data_dir, error_rate=1.0, methods=["long-caption", "rag"])
    summary = report["summary"]
    assert summary["long-caption"]["event_recall"] < 0.8  # many captions name a wrong text
    assert summary["rag"]["accuracy"] == 0.0
    assert "uniform" not in summary


def test_the_scripted_vlm_sees_the_frames_it_is_sent() -> None:
    events = plan_scenes(seed=1, duration_s=30.0, fps=2.0, scene_s=(3.0, 8.0))
    picture = Image(b"\x89PNG...", mime_type="image/png")
    message = user("Frames:", "[00:00:00]", picture, "[00:00:29.5]", picture)
    assert frame_times([message]) == [0.0, 29.5]
    vlm = ScriptedVLM(events, error_rate=0.5, seed=4)
    caption = [{"role": "system", "content": CAPTION_SYSTEM}, message]
    reply = vlm(caption)
    assert reply.startswith("[00:00:00] A") and "\n[00:00:29.5] A" in reply
    assert vlm(caption) == reply  # the same call, the same errors
    wrong = sum(events[-1].text not in ScriptedVLM(events, error_rate=0.5, seed=s)(caption)
                for s in range(40))  # fmt: skip
    assert 8 <= wrong <= 32  # about half of them err, one way or the other


def test_questions_have_one_right_answer_each() -> None:
    events = plan_scenes(seed=2, duration_s=60.0, fps=2.0, scene_s=(3.0, 8.0))
    questions = make_questions(events, 2, seed=0, spoken=False)
    assert [q.kind for q in questions] == ["text_after"] * 2 + ["text_at"] * 2 + [
        "colour_first"
    ] * 2
    after = questions[0]
    assert after.expected == events[after.scene].text
    assert events[after.scene - 1].text in after.question


def test_the_cli_evaluates_a_held_out_video_made_as_documented(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = tmp_path / "held_out.mp4"
    write_video(video, seed=99, duration=20.0, speech=False)  # python -m agentrun.media.synthetic
    assert (tmp_path / "held_out.events.json").is_file()
    out = tmp_path / "report"
    args = ["--data-dir", str(data_dir), "eval", "long-video", "--video", str(video),
            "--methods", "long-caption,rag", "-n", "1", "--error-rate", "0",
            "--target-words", "200", "--out-dir", str(out)]  # fmt: skip
    assert cli(args) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "long-caption" in printed and f"report: {out / REPORT_JSON}" in printed
    summary = json.loads((out / REPORT_JSON).read_text())["summary"]
    assert summary["long-caption"]["event_recall"] == 1.0 and summary["rag"]["accuracy"] == 1.0
    page = tmp_path / "report.html"
    assert cli([*args, "--report", str(page)]) == 0  # a re-run continues and writes the page
    assert f"html:   {page}" in capsys.readouterr().out
    view = load_view(out)
    assert view.systems == ["long-caption", "rag"] and view.facets["kind"][0] == "description"
    assert {item.system for item in view.items} == {"long-caption", "rag"}
    assert all(item.score == 1.0 for item in view.items)
    assert page.read_text(encoding="utf-8").count("everything recorded</summary>") == len(
        view.items
    )
    assert cli([*args[:-2], "--events", str(tmp_path / "nowhere.json")]) == 2
    assert "nowhere.json: no such file" in capsys.readouterr().err
