"""File tools in pipelines read only inside the spec's folder and the folders a spec or caller
allows; a refused path fails the run with one line, and the file's text is nowhere after."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from agentrun.agents.testing import scripted_model
from agentrun.cli import run as cli
from agentrun.errors import AgentrunError, FileOutsideRootsError, SpecError
from agentrun.pipeline import Pipeline, RunRecord

SECRET = "s3cret-token-do-not-leak"
READER = """version: agentrun/v1
name: reader
models:
  default: {model: fake/t}
memory: {backend: memory}
inputs:
  p: {type: string}
nodes:
  - id: read
    tool: {name: file.read, args: {path: "{{ inputs.p }}"}}
outputs:
  text: "{{ state.read }}"
"""


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    """spec/p.yaml and spec/notes.txt; extra/shared.txt; outside/secret.txt (and a symlink to
    it in spec/)."""
    spec = tmp_path / "spec"
    spec.mkdir()
    (spec / "notes.txt").write_text("harbour notes", encoding="utf-8")
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "shared.txt").write_text("shared notes", encoding="utf-8")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text(SECRET, encoding="utf-8")
    (spec / "link.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (spec / "p.yaml").write_text(READER, encoding="utf-8")
    return spec


def leaked(folder: Path) -> list[Path]:
    """Files under `folder` (a data directory: runs, checkpoints, caches) holding the secret."""
    return [p for p in folder.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("{outside}/secret.txt", "is absolute"),
        ("../outside/secret.txt", "leads outside"),
        ("../../../../../../../../..{outside}/secret.txt", "leads outside"),
        ("link.txt", "leads outside"),
    ],
    ids=["absolute", "dot-dot", "deep-dot-dot", "symlink"],
)
def test_a_path_from_input_cannot_leave_the_allowed_folders(
    spec_dir: Path,
    data_dir: Path,
    given: str,
    reason: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    path = given.format(outside=spec_dir.parent / "outside")
    code = cli(["run", str(spec_dir / "p.yaml"), "--input", f"p={path}"])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert "node read: file.read: path" in err and reason in err
    assert str(spec_dir) in err and "--allow-dir" in err
    assert "Traceback" not in out + err
    assert SECRET not in out + err + caplog.text
    assert leaked(data_dir) == []
    [meta] = RunRecord.all(data_dir)
    assert meta["status"] == "failed" and reason in meta["error"]


def test_a_path_inside_the_spec_folder_is_read(spec_dir: Path, data_dir: Path) -> None:
    result = Pipeline.load(spec_dir / "p.yaml").run({"p": "notes.txt"}, data_dir=data_dir)
    assert result.outputs == {"text": "harbour notes"}


def test_the_spec_may_allow_another_folder(spec_dir: Path, data_dir: Path) -> None:
    (spec_dir / "p.yaml").write_text(READER + "files: {roots: [../extra]}\n", encoding="utf-8")
    pipeline = Pipeline.load(spec_dir / "p.yaml")
    assert pipeline.run({"p": "shared.txt"}, data_dir=data_dir).outputs == {"text": "shared notes"}
    with pytest.raises(FileOutsideRootsError, match="leads outside"):
        pipeline.run({"p": "../outside/secret.txt"}, data_dir=data_dir)


def test_a_folder_the_spec_allows_must_exist(spec_dir: Path) -> None:
    (spec_dir / "p.yaml").write_text(READER + "files: {roots: [../nowhere]}\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r":13:\d+: folder '../nowhere' not found"):
        Pipeline.load(spec_dir / "p.yaml")


def test_the_command_line_may_allow_another_folder(
    spec_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, extra = str(spec_dir / "p.yaml"), str(spec_dir.parent / "extra")
    assert cli(["run", spec, "--input", "p=../extra/shared.txt"]) == 2
    assert "leads outside" in capsys.readouterr().err
    assert cli(["run", spec, "--input", "p=../extra/shared.txt", "--allow-dir", extra]) == 0
    assert "shared notes" in capsys.readouterr().out
    missing = str(spec_dir.parent / "nowhere")
    assert cli(["run", spec, "--input", "p=notes.txt", "--allow-dir", missing]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_a_resumed_run_keeps_the_folders_it_started_with(
    spec_dir: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = '  - id: first\n    agent: {prompt: "go"}\nedges:\n  - from: first\n    to: read\n'
    text = READER.replace("nodes:\n", "nodes:\n" + first.split("edges:")[0])
    text = text.replace("outputs:", "edges:" + first.split("edges:")[1] + "outputs:")
    (spec_dir / "p.yaml").write_text(text, encoding="utf-8")
    pipeline = Pipeline.load(spec_dir / "p.yaml")
    extra = spec_dir.parent / "extra"
    inputs = {"p": "../extra/shared.txt"}
    with scripted_model([RuntimeError("the model went away")]), pytest.raises(AgentrunError):
        pipeline.run(inputs, thread_id="t1", file_roots=[extra], data_dir=data_dir)
    meta = json.loads((data_dir / "runs" / "t1" / "meta.json").read_text(encoding="utf-8"))
    assert meta["file_roots"] == [str(spec_dir), str(extra)]
    with scripted_model(["went"]):
        assert cli(["resume", "t1"]) == 0
    assert "shared notes" in capsys.readouterr().out
    with scripted_model(["went"]), pytest.raises(FileOutsideRootsError):
        pipeline.run(inputs, thread_id="t2", data_dir=data_dir)


def test_a_replies_file_outside_the_spec_folder_is_refused(spec_dir: Path) -> None:
    (spec_dir.parent / "outside" / "replies.yaml").write_text("- hi\n", encoding="utf-8")
    text = READER.replace("{model: fake/t}", "{model: fake/t, replies: ../outside/replies.yaml}")
    (spec_dir / "p.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match=r"replies file: path '../outside/replies.yaml' leads"):
        Pipeline.load(spec_dir / "p.yaml")
