"""Inputs of type `video` and `images`: the command line passes their paths (checked first), a
path the caller passed is theirs to choose, and any other path must stay inside the pipeline's
folders."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("av", reason="video input needs the video extra (PyAV)")

from agentrun.agents.testing import scripted_model
from agentrun.cli import run as cli
from agentrun.errors import UsageError
from agentrun.evals.scripted_vlm import ScriptedVLM
from agentrun.media.synthetic import SyntheticVideo
from agentrun.pipeline import Pipeline
from tests.videos import silent_video

__all__ = ["silent_video"]

SPEC = """version: agentrun/v1
name: describe
models:
  default:
    model: fake/vlm
inputs:
  clip: {type: video, default: clips/kept.mp4}
  note: {type: string, required: false}
workflow:
  type: long-caption
  config: {segment_s: 30, max_sections: 1}
  inputs:
    video: "VIDEO"
outputs:
  description: "{{ result.description }}"
"""


def spec(folder: Path, video: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "describe.yaml"
    path.write_text(SPEC.replace("VIDEO", video), encoding="utf-8")
    return path


def test_a_video_the_caller_passes_may_be_anywhere(
    silent_video: SyntheticVideo, tmp_path: Path, data_dir: Path
) -> None:
    pipeline = Pipeline.load(spec(tmp_path / "spec", "{{ inputs.clip }}"))
    with scripted_model(ScriptedVLM(silent_video.events)):
        result = pipeline.run({"clip": str(silent_video.path)}, data_dir=data_dir)
    assert silent_video.events[0].text in result.outputs["description"]


@pytest.mark.parametrize(
    ("video", "given"),
    [
        ("ABSOLUTE", {}),  # written in the spec
        ("{{ inputs.note }}", {"note": "ABSOLUTE"}),  # a string input, not a video one
        ("../{{ inputs.note }}", {"note": "elsewhere.mp4"}),  # leads out of the folder
        ("{{ inputs.clip }}", {}),  # the spec's default, outside its folder
    ],
)
def test_any_other_path_must_stay_inside_the_pipeline_folders(
    silent_video: SyntheticVideo, tmp_path: Path, data_dir: Path, video: str, given: dict[str, str]
) -> None:
    outside = str(silent_video.path)
    folder = tmp_path / "spec"
    text = spec(folder, video.replace("ABSOLUTE", outside)).read_text(encoding="utf-8")
    text = text.replace("clips/kept.mp4", f"../{Path(outside).name}")
    (folder / "describe.yaml").write_text(text, encoding="utf-8")
    pipeline = Pipeline.load(folder / "describe.yaml")
    values = {name: value.replace("ABSOLUTE", outside) for name, value in given.items()}
    with scripted_model(["never"]) as model, pytest.raises(UsageError) as caught:
        pipeline.run(values, data_dir=data_dir)
    assert "input 'video'" in str(caught.value) and "was not passed by the caller" in str(
        caught.value
    )
    assert not model.calls


def test_the_spec_default_inside_its_folder_is_found_there(
    silent_video: SyntheticVideo, tmp_path: Path, data_dir: Path
) -> None:
    folder = tmp_path / "spec"
    (folder / "clips").mkdir(parents=True)
    (folder / "clips" / "kept.mp4").write_bytes(silent_video.path.read_bytes())
    pipeline = Pipeline.load(spec(folder, "{{ inputs.clip }}"))
    with scripted_model(ScriptedVLM(silent_video.events)):
        result = pipeline.run({}, data_dir=data_dir)
    assert silent_video.events[-1].text in result.outputs["description"]


def test_the_command_line_passes_a_video_path_and_refuses_a_bad_file_before_the_run(
    silent_video: SyntheticVideo, tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = spec(tmp_path, "{{ inputs.clip }}")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(silent_video.path.read_bytes()[:4000])
    base = ["--data-dir", str(data_dir), "run", str(path), "--no-stream"]
    assert cli([*base, "--input", f"clip=@{broken}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {broken}: is not a video") and "resume" not in err
    assert not (data_dir / "runs").exists() or not any((data_dir / "runs").iterdir())
    assert cli([*base, "--input", f"clip=@{tmp_path / 'missing.mp4'}"]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    with scripted_model(ScriptedVLM(silent_video.events)):
        assert cli([*base, "--input", f"clip=@{silent_video.path}"]) == 0
    assert silent_video.events[0].text in capsys.readouterr().out


def test_a_workflow_run_without_yaml_takes_its_video_as_a_checked_path(
    silent_video: SyntheticVideo, tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(silent_video.path.read_bytes()[:4000])
    base = ["--data-dir", str(data_dir), "run", "--workflow", "long-caption", "--no-stream"]
    assert cli([*base, "--input", f"video=@{broken}"]) == 2
    assert capsys.readouterr().err.startswith(f"error: {broken}: is not a video")
    settings = ["--set", "config.model=fake/vlm", "--set", "config.segment_s=30"]
    with scripted_model(ScriptedVLM(silent_video.events)):
        assert cli([*base, *settings, "--input", f"video=@{silent_video.path}"]) == 0
    assert silent_video.events[0].text in capsys.readouterr().out
