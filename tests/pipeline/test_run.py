"""Custom graphs on scripted models: fan-out, branches, bounded loops, tools, inputs, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentrun.agents.testing import scripted_model
from agentrun.cli import run as cli
from agentrun.errors import RunFailedError, UsageError
from agentrun.memory.namespaces import records_ns
from agentrun.pipeline import Pipeline

HEAD = "version: agentrun/v1\nname: t\nmodels:\n  default:\n    model: fake/t\n"


def pipeline(tmp_path: Path, body: str) -> Pipeline:
    path = tmp_path / "p.yaml"
    path.write_text(HEAD + body, encoding="utf-8")
    return Pipeline.load(path)


def reviewer(approves: str) -> Callable[[list[dict[str, Any]]], str]:
    """A model that echoes drafts and answers reviews: `ok` for the approved draft, else `redo`."""

    def model(messages: list[dict[str, Any]]) -> str:
        text = str(messages[-1]["content"])
        if text.startswith("review"):
            return "ok" if approves in text else "redo"
        return text

    return model


def test_fan_out_respects_its_concurrency_and_keeps_order(tmp_path: Path, data_dir: Path) -> None:
    spec = pipeline(
        tmp_path,
        """
inputs:
  items: {type: list}
nodes:
  - id: each
    for_each: inputs.items
    concurrency: 2
    agent:
      prompt: "echo {{ item }}"
""",
    )
    with scripted_model(lambda m: m[-1]["content"].upper(), delay_s=0.15) as fake:
        result = spec.run({"items": "[a, b, c, d, e]"}, data_dir=data_dir)
        calls = list(fake.calls)
    assert result.results["each"] == ["ECHO A", "ECHO B", "ECHO C", "ECHO D", "ECHO E"]
    starts = sorted((c.started, +1) for c in calls) + sorted((c.ended, -1) for c in calls)
    running = peak = 0
    for _, step in sorted(starts):
        running += step
        peak = max(peak, running)
    assert peak == 2


def test_switch_branches_and_bounded_loops(tmp_path: Path, data_dir: Path) -> None:
    spec = pipeline(
        tmp_path,
        """
nodes:
  - id: draft
    agent: {prompt: "draft {{ visits.draft }}"}
  - id: review
    agent: {prompt: "review {{ state.draft }}"}
  - id: publish
    agent: {prompt: "publish {{ state.draft }}"}
edges:
  - from: draft
    to: review
  - from: review
    switch:
      - when: "state.review == 'redo'"
        to: draft
      - to: publish
""",
    )

    with scripted_model(reviewer(approves="draft 2")) as fake:
        result = spec.run({}, data_dir=data_dir)
    prompts = [c.messages[-1]["content"] for c in fake.calls]
    assert prompts == ["draft 0", "review draft 0", "draft 1", "review draft 1", "draft 2",
                       "review draft 2", "publish draft 2"]  # fmt: skip
    assert result.results["publish"] == "publish draft 2"


def test_outputs_see_visits_as_documented(tmp_path: Path, data_dir: Path) -> None:
    spec = pipeline(
        tmp_path,
        """
inputs:
  topic: {type: string}
nodes:
  - id: a
    agent: {prompt: "on {{ inputs.topic }}"}
outputs:
  summary: "{{ state.a }} after {{ visits.a }} visit(s) on {{ inputs.topic }}"
""",
    )
    with scripted_model(lambda m: "ok"):
        result = spec.run({"topic": "tides"}, data_dir=data_dir)
    assert result.outputs == {"summary": "ok after 1 visit(s) on tides"}


def test_a_switch_with_no_matching_branch_ends_the_run(tmp_path: Path, data_dir: Path) -> None:
    spec = pipeline(
        tmp_path,
        """
nodes:
  - id: draft
    agent: {prompt: "draft {{ visits.draft }}"}
  - id: review
    agent: {prompt: "review {{ state.draft }}"}
edges:
  - from: draft
    to: review
  - from: review
    switch:
      - when: "state.review == 'redo'"
        to: draft
""",
    )  # a loop whose only exit is that no branch holds: valid, and it ends

    with scripted_model(reviewer(approves="draft 1")) as fake:
        result = spec.run({}, data_dir=data_dir)
    prompts = [c.messages[-1]["content"] for c in fake.calls]
    assert prompts == ["draft 0", "review draft 0", "draft 1", "review draft 1"]
    assert result.results["review"] == "ok"


def test_a_loop_that_never_ends_stops_at_max_visits(tmp_path: Path, data_dir: Path) -> None:
    spec = pipeline(
        tmp_path,
        """
nodes:
  - id: again
    max_visits: 3
    agent: {prompt: "try"}
  - id: done
    agent: {prompt: "done"}
edges:
  - from: again
    switch:
      - when: "state.again == 'stop'"
        to: done
      - to: again
""",
    )
    with (
        scripted_model(lambda m: "more") as fake,
        pytest.raises(RunFailedError, match="ran 3 times"),
    ):
        spec.run({}, data_dir=data_dir, cache=False)
    assert len(fake.calls) == 3


def test_structured_output_and_tools(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "notes.txt").write_text("The harbour opened in 1821.", encoding="utf-8")
    spec = pipeline(
        tmp_path,
        """
memory:
  backend: memory
nodes:
  - id: read
    tool: {name: file.read, args: {path: notes.txt}}
  - id: facts
    agent:
      prompt: "Extract the year from: {{ state.read }}"
      output:
        type: object
        properties: {year: {type: integer}}
        required: [year]
  - id: keep
    tool: {name: memory.put, args: {key: "y", text: "year {{ state.facts.year }}"}}
edges:
  - from: read
    to: facts
  - from: facts
    to: keep
outputs:
  year: "{{ state.facts.year }}"
""",
    )
    with scripted_model(['{"year": "soon"}', '{"year": 1821}']) as fake:
        result = spec.run({}, data_dir=data_dir)
    assert result.outputs == {"year": "1821"}
    assert len(fake.calls) == 2  # the invalid reply was re-asked with the schema error
    assert "year" in fake.calls[1].messages[-1]["content"]
    assert result.results["keep"] == {"key": "y"}


@pytest.mark.parametrize(
    ("namespace", "labels"), [("[acme, alice]", ("acme", "alice")), ("acme", ("acme",))]
)
def test_memory_namespace_of_one_or_several_labels(
    namespace: str, labels: tuple[str, ...], tmp_path: Path, data_dir: Path
) -> None:
    from langgraph.store.memory import InMemoryStore

    spec = pipeline(
        tmp_path,
        f"""
memory:
  namespace: {namespace}
nodes:
  - id: keep
    tool: {{name: memory.put, args: {{key: k, text: kept}}}}
""",
    )
    store = InMemoryStore()
    spec.run({}, data_dir=data_dir, store=store)
    assert [item.value["text"] for item in store.search(records_ns(labels, "notes"))] == ["kept"]
    assert store.list_namespaces() == [records_ns(labels, "notes")]


def test_missing_variable_at_run_time_names_template_and_variable(
    tmp_path: Path, data_dir: Path
) -> None:
    spec = pipeline(
        tmp_path,
        """
nodes:
  - id: a
    agent:
      prompt: "{{ state.b.missing_field }}"
  - id: b
    agent: {prompt: "b"}
start: b
edges:
  - from: b
    to: a
""",
    )
    with scripted_model(lambda m: "plain text"), pytest.raises(RunFailedError) as caught:
        spec.run({}, data_dir=data_dir)
    assert "a.agent.prompt" in str(caught.value) and "missing_field" in str(caught.value)


def test_an_output_that_fails_to_render_is_a_failed_run_with_a_resume_hint(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    (tmp_path / "replies.yaml").write_text("- plain text\n", encoding="utf-8")
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: agentrun/v1\nname: t\n"
        "models:\n  default: {model: fake/t, replies: replies.yaml}\n"
        "nodes:\n  - id: a\n    agent: {prompt: hi}\n"
        "outputs:\n  year: '{{ state.a.year }}'\n",
        encoding="utf-8",
    )
    args = ["--data-dir", str(data_dir), "run", str(path), "--thread-id", "outs"]
    assert cli(args) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "outputs.year" in err
    assert f"run outs failed; resume with: agentrun --data-dir {data_dir} resume outs" in err
    meta = json.loads((data_dir / "runs" / "outs" / "meta.json").read_text(encoding="utf-8"))
    assert meta["status"] == "failed" and "outputs.year" in meta["error"]


def test_a_workflow_rejecting_its_inputs_names_the_node_and_workflow(
    tmp_path: Path, data_dir: Path
) -> None:
    spec = pipeline(
        tmp_path,
        """
nodes:
  - id: walk
    workflow:
      type: navigation
      inputs: {min_hops: "20", max_hops: "5"}
""",
    )
    with scripted_model(lambda m: "north") as fake, pytest.raises(UsageError) as caught:
        spec.run({}, data_dir=data_dir)
    assert str(caught.value).startswith("node walk: workflow navigation: need 1 <= min_hops")
    assert not fake.calls


def test_inputs_are_checked(tmp_path: Path, data_dir: Path) -> None:
    spec = pipeline(
        tmp_path,
        """
inputs:
  n: {type: integer}
  flag: {type: boolean, required: false}
nodes:
  - id: a
    agent: {prompt: "{{ inputs.n + 1 }}"}
""",
    )
    with pytest.raises(UsageError, match="missing input 'n'"):
        spec.run({}, data_dir=data_dir)
    with pytest.raises(UsageError, match="'x' is not a valid integer"):
        spec.run({"n": "x"}, data_dir=data_dir)
    with pytest.raises(UsageError, match="unknown input 'm'"):
        spec.run({"n": "1", "m": "2"}, data_dir=data_dir)
    with scripted_model(lambda m: m[-1]["content"]):
        assert spec.run({"n": "41"}, data_dir=data_dir).results["a"] == "42"


def test_cli_set_and_input_file(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "replies.yaml").write_text("- reply: from the file\n", encoding="utf-8")
    (tmp_path / "doc.txt").write_text("hello", encoding="utf-8")
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: agentrun/v1\nname: t\nmodels:\n  default:\n    model: local/smollm2\n"
        "inputs:\n  doc: {type: text}\n"
        "nodes:\n  - id: a\n    agent: {prompt: '{{ inputs.doc }}'}\n",
        encoding="utf-8",
    )
    args = [
        "--data-dir", str(data_dir), "run", str(path), "--input", f"doc=@{tmp_path / 'doc.txt'}",
        "--set", "models.default.model=fake/x", "--set", "models.default.replies=replies.yaml",
    ]  # fmt: skip
    assert cli(args) == 0
    assert "a: from the file" in capsys.readouterr().out
    assert cli([*args[:4], "--set", "nodes.0.agent.max_tokens=none_of_this"]) == 2
    assert "max_tokens" in capsys.readouterr().err
    assert cli([*args[:4], "--input", "doc=@/no/such/file"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_graph_command_prints_mermaid_and_renders_a_png(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    root = Path(__file__).parents[2] / "examples"
    png = tmp_path / "graph.png"
    assert cli(["graph", str(root / "research_brief.yaml"), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("flowchart TD")
    assert "check -.->|'no' in state.check / lower and visits.plan < 2| plan" in out
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > 200 and image.height > 200
    assert cli(["graph", str(root / "chain_of_agents.yaml"), "--png", str(tmp_path / "w.png")]) == 0
    out = capsys.readouterr().out
    assert "worker" in out and "manager" in out


def test_png_draws_loop_edges_beside_the_boxes_with_whole_labels(tmp_path: Path) -> None:
    from PIL import Image

    png = tmp_path / "graph.png"
    assert cli(["graph", str(Path(__file__).parents[2] / "examples" / "research_brief.yaml"),
                "--png", str(png)]) == 0  # fmt: skip

    def columns(image: Image.Image, colour: tuple[int, int, int]) -> list[int]:
        pixels = image.load()
        assert pixels is not None
        return [
            x for x in range(image.width) for y in range(image.height)
            if all(abs(a - b) < 24 for a, b in zip(pixels[x, y][:3], colour, strict=True))
        ]  # fmt: skip

    with Image.open(png) as opened:
        image = opened.convert("RGB")
    box_right = max(columns(image, (0x33, 0x55, 0x99)))
    label = columns(image, (0x88, 0x44, 0x00))
    assert max(columns(image, (0x44, 0x44, 0x44))) > box_right  # the bow back up the loop
    assert max(label) > box_right and max(label) < image.width - 4  # beside it, not cut off


def test_runs_ls_and_show(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = pipeline(tmp_path, "nodes:\n  - id: a\n    agent: {prompt: hi}\n")
    with scripted_model(lambda m: "hello"):
        result = spec.run({}, data_dir=data_dir, thread_id="run-one")
    assert result.thread_id == "run-one"
    assert cli(["--data-dir", str(data_dir), "runs", "ls"]) == 0
    assert "run-one" in capsys.readouterr().out
    assert cli(["--data-dir", str(data_dir), "runs", "show", "run-one"]) == 0
    assert '"status": "done"' in capsys.readouterr().out
    assert cli(["--data-dir", str(data_dir), "runs", "show", "nope"]) == 2


def test_a_model_counts_with_the_tokenizer_file_named_beside_the_pipeline(
    tmp_path: Path, data_dir: Path
) -> None:
    from agentrun.agents import Gateway
    from agentrun.agents.tokens import count_cl100k
    from agentrun.memory.minilm import model_dir

    (tmp_path / "tok.json").write_bytes((model_dir() / "tokenizer.json").read_bytes())
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: agentrun/v1\nname: t\nmodels:\n"
        "  default: {model: openai/mine, api_base: 'http://127.0.0.1:9/v1', tokenizer: tok.json}\n"
        "  estimated: {model: openai/other, api_base: 'http://127.0.0.1:9/v1',"
        " tokens_per_cl100k: 1.0}\n"
        "nodes:\n  - id: a\n    agent: {prompt: hello}\n",
        encoding="utf-8",
    )
    config = Pipeline.load(path).gateway_config()
    assert config.models["default"].tokenizer == str(tmp_path / "tok.json")
    gateway = Gateway(config, data_dir=data_dir)
    assert gateway.count_text("default", "lighthouse keepers") == 2
    text = "The Wend Bridge was opened on 12 May 1971."
    assert gateway.count_text("estimated", text) == count_cl100k(text)
