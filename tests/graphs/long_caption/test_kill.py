"""A long-caption run killed with SIGKILL part way, through the CLI and a model server, resumes
without captioning again the segments whose captions it had received."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agentrun.agents.fake_server import FakeOpenAIServer
from agentrun.evals.scripted_vlm import ScriptedVLM, frame_times
from agentrun.evals.video_questions import score_description
from agentrun.graphs.long_caption.prompts import CAPTION_SYSTEM
from agentrun.media.synthetic import SyntheticVideo
from tests.videos import silent_video

__all__ = ["silent_video"]

AGENTRUN = str(Path(sys.executable).with_name("agentrun"))

SPEC = """version: agentrun/v1
name: describe
models:
  default: {{model: openai/vlm, api_base: "{url}", context_window: 16384}}
inputs:
  video: {{type: video}}
workflow:
  type: long-caption
  config: {{segment_s: 10, max_sections: 2, merge_fan_in: 2, reuse: false, vision: true}}
  inputs: {{video: "{{{{ inputs.video }}}}"}}
outputs:
  description: "{{{{ result.description }}}}"
"""


def agentrun(data_dir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [AGENTRUN, "--data-dir", str(data_dir), *args, "--no-cache", "--no-stream"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def captioned(server: FakeOpenAIServer) -> list[int]:
    """The segments (by 10 s) whose caption the server was asked for, in order."""
    segments = []
    for request in server.chat_requests():
        messages = request.body["messages"]
        if messages[0]["content"] == CAPTION_SYSTEM:
            segments.append(int(min(frame_times(messages)) // 10))
    return segments


def test_a_killed_run_resumes_without_captioning_a_finished_segment_again(
    silent_video: SyntheticVideo, tmp_path: Path
) -> None:
    vlm = ScriptedVLM(silent_video.events)

    def reply(body: dict[str, Any]) -> str:
        return vlm(body["messages"])

    with FakeOpenAIServer(reply=reply, latency_s=0.5) as server:
        path = tmp_path / "describe.yaml"
        path.write_text(SPEC.format(url=server.url), encoding="utf-8")
        run = agentrun(tmp_path, "run", str(path), "--input", f"video=@{silent_video.path}",
                       "--thread-id", "cut")  # fmt: skip
        deadline = time.monotonic() + 120
        while len(captioned(server)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
        assert run.returncode == -signal.SIGKILL
        before = captioned(server)
        assert before[:3] == [0, 1, 2]
        resumed = agentrun(tmp_path, "resume", "cut")
        assert resumed.wait(timeout=180) == 0, resumed.stderr.read() if resumed.stderr else ""
        after = captioned(server)[len(before) :]

    # the segments answered before the kill are not asked for again (the one in flight may be)
    assert after == list(range(len(before) - 1, 6)) or after == list(range(len(before), 6))
    result = json.loads((tmp_path / "runs" / "cut" / "result.json").read_text(encoding="utf-8"))
    description = result["outputs"]["description"]
    assert score_description(description, silent_video.events).recall == 1.0
