"""Run limits: inputs over the token or cost ceiling are refused before any call, a run that
spends its cost limit stops resumably, and long inputs stay out of checkpoints."""

from __future__ import annotations

import json
import random
import stat
import time
from pathlib import Path

import pytest

from agentrun.agents.fake_server import FakeOpenAIServer
from agentrun.agents.testing import scripted_model
from agentrun.cli import run as cli
from agentrun.errors import BudgetError, ScriptedModelError
from agentrun.pipeline import Pipeline

WORDS = ["the", "harbor", "town", "kept", "its", "ledgers", "in", "salt", "while", "tides"]


def text_of_size(size: int, seed: int = 0) -> str:
    chooser = random.Random(seed)
    line = " ".join(chooser.choice(WORDS) for _ in range(200)) + "\n"
    return (line * (size // len(line) + 1))[:size]


def reader(model: str, extra: str = "") -> str:
    return f"""version: agentrun/v1
name: reader
models:
  default: {{model: {model}, context_window: 8192}}
{extra}inputs:
  document: {{type: text}}
nodes:
  - id: a
    agent: {{prompt: "Summarize: {{{{ inputs.document }}}}"}}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_30_mb_input_is_refused_at_once_before_any_model_call(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = write(tmp_path, "big.txt", text_of_size(30 * 1024 * 1024))
    spec = write(tmp_path, "p.yaml", reader("fake/t"))
    with scripted_model([]) as fake:
        started = time.perf_counter()
        code = cli(["run", str(spec), "-i", f"document=@{document}"])
        elapsed = time.perf_counter() - started
        assert fake.calls == []
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2, err
    assert "over the limit of 1,000,000 input tokens" in err and "--max-input-tokens" in err
    assert "nothing was sent" in err and "estimated cost $0" in err
    assert elapsed < 5, f"refusing took {elapsed:.1f} s"
    assert not (data_dir / "runs").exists()  # no run record to resume, nothing stored


def test_the_spec_limit_refuses_and_the_option_raises_it(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = write(tmp_path, "doc.txt", text_of_size(20_000))
    spec = write(tmp_path, "p.yaml", reader("fake/t", "limits: {max_input_tokens: 1000}\n"))
    run = ["run", str(spec), "-i", f"document=@{document}"]
    with scripted_model(["a summary"]) as fake:
        assert cli(run) == 2
        assert fake.calls == []
        err = " ".join(capsys.readouterr().err.split())
        assert "over the limit of 1,000 input tokens" in err
        assert "limits.max_input_tokens" in err
        assert cli([*run, "--max-input-tokens", "100000"]) == 0
        assert len(fake.calls) == 1
    assert "a summary" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("model", "size", "options", "limit"),
    [
        ("openai/gpt-4o-mini", 200_000, ["--max-cost", "0.001"], "$0.001"),
        ("openai/gpt-4o", 3_000_000, [], "$1"),  # the default ceiling of a paid model
    ],
)
def test_inputs_estimated_over_the_cost_limit_are_refused(
    model: str,
    size: int,
    options: list[str],
    limit: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    document = write(tmp_path, "doc.txt", text_of_size(size))
    with FakeOpenAIServer() as server:
        spec = write(tmp_path, "p.yaml", reader(f"{model}, api_base: '{server.url}'"))
        code = cli(["run", str(spec), "-i", f"document=@{document}", *options])
        assert server.chat_requests() == []
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2, err
    assert f"over the cost limit of {limit};" in err and "--max-cost" in err
    assert f"tokens on default ({model}) at LiteLLM's price" in err


def test_the_default_cost_ceiling_leaves_free_models_alone(tmp_path: Path) -> None:
    spec = write(tmp_path, "p.yaml", reader("fake/t"))
    with scripted_model(["fine"]):
        result = Pipeline.load(spec).run({"document": text_of_size(2_000_000)})
    assert result.outputs == {"a": "fine"}


CHAIN = """version: agentrun/v1
name: chain
models:
  default: {{model: openai/gpt-4o-mini, api_base: "{url}", context_window: 8192}}
nodes:
  - id: a
    agent: {{prompt: "first"}}
  - id: b
    agent: {{prompt: "second after {{{{ state.a }}}}"}}
  - id: c
    agent: {{prompt: "third after {{{{ state.b }}}}"}}
  - id: d
    agent: {{prompt: "fourth after {{{{ state.c }}}}"}}
edges:
  - {{from: a, to: b}}
  - {{from: b, to: c}}
  - {{from: c, to: d}}
outputs:
  answer: "{{{{ state.d }}}}"
"""


def test_a_run_stops_at_its_cost_limit_and_resumes_with_a_higher_one(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAIServer(reply="a reply of some twenty words " * 4) as server:
        spec = write(tmp_path, "p.yaml", CHAIN.format(url=server.url))
        whole = Pipeline.load(spec).run({}, thread_id="whole", cache=False)
        per_call = whole.usage["cost_usd"] / 4
        assert per_call > 0
        server.reset()

        limit = str(per_call * 1.5)  # the second call passes it: the third is refused
        run = ["run", str(spec), "--thread-id", "capped", "--no-cache", "--max-cost", limit]
        assert cli(run) == 1
        err = " ".join(capsys.readouterr().err.split())
        assert "over its cost limit" in err and "--max-cost" in err
        assert "run capped failed; resume with: agentrun resume capped" in err
        assert len(server.chat_requests()) == 2

        assert cli(["resume", "capped"]) == 1  # the limit and what was spent are remembered
        assert len(server.chat_requests()) == 2

        assert cli(["resume", "capped", "--max-cost", "1"]) == 0
        assert len(server.chat_requests()) == 4
    result = json.loads((data_dir / "runs" / "capped" / "result.json").read_text("utf-8"))
    assert result["outputs"] == whole.outputs
    assert result["usage"]["cost_usd"] == pytest.approx(whole.usage["cost_usd"])
    meta = json.loads((data_dir / "runs" / "capped" / "meta.json").read_text("utf-8"))
    assert meta["cost_usd"] == pytest.approx(whole.usage["cost_usd"])
    assert meta["options"]["max_cost_usd"] == 1


def test_a_long_input_is_stored_once_by_reference_and_never_checkpointed(
    tmp_path: Path, data_dir: Path
) -> None:
    marker = "QUOKKA-MARKER-7731"
    text = text_of_size(500_000, seed=1) + marker + text_of_size(500_000, seed=2)
    spec = write(
        tmp_path,
        "p.yaml",
        """version: agentrun/v1
name: sizes
models:
  default: {model: fake/t}
inputs:
  document: {type: text}
nodes:
  - id: a
    agent: {prompt: "length {{ inputs.document | length }}"}
  - id: b
    agent: {prompt: "tail {{ inputs.document[-30:] }}"}
edges:
  - {from: a, to: b}
outputs:
  answer: "{{ state.a }} / {{ state.b }}"
""",
    )
    pipeline = Pipeline.load(spec)
    echo = [lambda messages: str(messages[-1]["content"])]
    with scripted_model([*echo, RuntimeError("stop here")]), pytest.raises(ScriptedModelError):
        pipeline.run({"document": text}, thread_id="long")
    with scripted_model(echo):
        result = pipeline.resume("long")
    assert result.outputs["answer"] == f"length {len(text)} / tail {text[-30:]}"

    stored = [p for p in data_dir.glob("checkpoints.sqlite*") if p.is_file()]
    assert stored and not any(marker.encode() in p.read_bytes() for p in stored)
    record = data_dir / "runs" / "long"
    assert marker not in (record / "inputs.json").read_text(encoding="utf-8")
    (blob,) = (data_dir / "blobs").iterdir()
    assert blob.read_text(encoding="utf-8") == text
    assert stat.S_IMODE(blob.stat().st_mode) == 0o600
    assert stat.S_IMODE((data_dir / "blobs").stat().st_mode) == 0o700


def test_sdk_limits_are_keyword_arguments(tmp_path: Path) -> None:
    spec = write(tmp_path, "p.yaml", reader("fake/t"))
    with scripted_model([]), pytest.raises(BudgetError, match="over the limit of 10 input"):
        Pipeline.load(spec).run({"document": text_of_size(1_000)}, max_input_tokens=10)
