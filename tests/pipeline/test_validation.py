"""Broken specs: each a clear error with file:line, exit code 2, no traceback, and no code run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrun.cli import run as cli
from agentrun.errors import SpecError
from agentrun.pipeline import load_pipeline
from agentrun.pipeline.spec import PipelineSpec, json_schema

HEAD = "version: agentrun/v1\nname: broken\n"
AGENT = "nodes:\n  - id: a\n    agent:\n      prompt: hi\n"

BROKEN: dict[str, tuple[str, str]] = {
    "unknown top-level key": (HEAD + "nmae: x\n" + AGENT, ":3:1: nmae: unknown key 'nmae'"),
    "unknown nested key with a hint": (
        HEAD + "models:\n  default:\n    modle: local/smollm2\n" + AGENT,
        "did you mean 'model'?",
    ),
    "wrong type": (HEAD + "nodes: abc\n", ":3:"),
    "wrong nested type": (
        HEAD + "nodes:\n  - id: a\n    agent:\n      prompt: hi\n      max_tokens: many\n",
        ":7:",
    ),
    "missing version": ("name: x\n" + AGENT, "version: required, but missing; add `version:`"),
    "wrong version": ("version: agentrun/v9\nname: x\n" + AGENT, "agentrun/v1"),
    "both workflow and nodes": (
        HEAD + "workflow:\n  type: chain-of-agents\n  inputs: {document: x}\n" + AGENT,
        "exactly one of `workflow` or `nodes`",
    ),
    "unknown workflow": (HEAD + "workflow:\n  type: telepathy\n", "telepathy"),
    "edge to a missing node": (
        HEAD + AGENT + "edges:\n  - from: a\n    to: b\n",
        ":9:5: unknown node 'b'",
    ),
    "unknown model alias": (
        HEAD + "nodes:\n  - id: a\n    agent:\n      model: gpt\n      prompt: hi\n",
        "unknown model 'gpt'",
    ),
    "unknown state reference": (
        HEAD + "nodes:\n  - id: a\n    agent:\n      prompt: '{{ state.zzz }}'\n",
        "unknown node 'zzz' in state",
    ),
    "unknown input reference": (
        HEAD + "nodes:\n  - id: a\n    agent:\n      prompt: '{{ inputs.topic }}'\n",
        "unknown input 'topic'",
    ),
    "unreachable node": (
        HEAD + AGENT + "  - id: lost\n    agent:\n      prompt: hi\n",
        "node 'lost' is unreachable",
    ),
    "loop without exit": (
        HEAD + AGENT + "  - id: b\n    agent:\n      prompt: hi\n"
        "edges:\n  - from: a\n    to: b\n  - from: b\n    to: a\n",
        "loop a -> b has no exit",
    ),
    "loop whose exit follows the otherwise branch": (
        HEAD + AGENT + "  - id: b\n    agent:\n      prompt: hi\n"
        "edges:\n  - from: a\n    to: b\n  - from: b\n    switch:\n      - to: a\n"
        "      - when: visits.a > 2\n        to: a\n",
        "loop a -> b has no exit",
    ),
    "duplicate node id": (
        HEAD + AGENT + "  - id: a\n    agent:\n      prompt: hi\n",
        "duplicate node id",
    ),
    "integer workflow input that is not a number": (
        HEAD + "workflow:\n  type: agent-write\n  inputs:\n    instruction: x\n"
        "    target_words: lots\n",
        ":7:5: workflow agent-write: input 'target_words': Input should be a valid integer",
    ),
    "namespace label with a dot": (
        HEAD + "memory:\n  namespace: team.alpha\n" + AGENT,
        ":4:3: memory.namespace.0: label 'team.alpha' contains '.', which the store uses "
        "between labels; give several labels as a list, e.g. [team, alpha]",
    ),
    "empty label in a namespace list": (
        HEAD + "memory:\n  namespace: [acme, '']\n" + AGENT,
        ":4:21: memory.namespace.1: a label cannot be empty",
    ),
    "namespace under the reserved root": (
        HEAD + "memory:\n  namespace: [langgraph, x]\n" + AGENT,
        "the first label cannot be 'langgraph'",
    ),
    "unknown tool": (
        HEAD + "nodes:\n  - id: a\n    tool:\n      name: shell.exec\n",
        "unknown tool 'shell.exec'",
    ),
    "unknown tool argument": (
        HEAD
        + "nodes:\n  - id: a\n    tool:\n      name: file.read\n      args: {path: x, mode: w}\n",
        "has no argument 'mode'",
    ),
    "output schema not an object": (
        HEAD + "nodes:\n  - id: a\n    agent:\n      prompt: hi\n      output: {type: string}\n",
        "type: object",
    ),
    "invalid YAML": (
        HEAD + "nodes: [a, b\n",
        ":4:1: invalid YAML: expected ',' or ']', but got '<stream end>'; check the indentation,"
        " quotes and brackets up to there",
    ),
    "python object tag": (
        HEAD + "name2: !!python/object/apply:os.system ['touch {marker}']\n" + AGENT,
        "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed",
    ),
    "python name tag": (HEAD + "x: !!python/name:os.system\n" + AGENT, "is not allowed"),
    "alias bomb": (
        'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        "f: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
        "expands to more than",
    ),
    "200,000 nested flow sequences": (
        HEAD + "x: " + "[" * 200_000 + "\n",
        ":3:203: nesting deeper than 200 levels",
    ),
    "200,000 nested flow mappings": (
        HEAD + "x: " + "{" * 200_000 + "\n",
        ":3:203: nesting deeper than 200 levels",
    ),
    "10,000 nested block sequences": (
        HEAD + "x:\n" + "- " * 10_000 + "y\n",
        ":4:399: nesting deeper than 200 levels",
    ),
    "block mappings and sequences nested in turn": (
        HEAD + "x:\n" + "".join(" " * (5 * i + 1) + "- - k:\n" for i in range(100)) + "y\n",
        ":70:334: nesting deeper than 200 levels",
    ),
    "flow mappings and sequences nested in turn": (
        HEAD + "x: " + "{a: [" * 10_000 + "\n",
        ":3:503: nesting deeper than 200 levels",
    ),
    "nesting through aliases": (
        HEAD
        + "a0: &a0 x\n"
        + "".join(
            f"a{i}: &a{i} " + "[" * 150 + f"*a{i - 1}" + "]" * 150 + "\n" for i in range(1, 20)
        ),
        "nesting deeper than 200 levels once aliases are expanded",
    ),
    "a control character PyYAML's reader refuses": (
        HEAD + AGENT + "      model: de\x13fault\n",
        ":7:16: invalid YAML: character U+0013 is not allowed in YAML",
    ),
    "an alias inside its own anchor": (
        HEAD + AGENT + "x: {a: &a [1, {b: *a}]}\n",
        ":7:8: an alias refers to the collection it is in, so the value would contain itself",
    ),
    "duplicate top-level key": (
        HEAD + AGENT + "name: again\n",
        ":7:1: duplicate key 'name' (first at line 2)",
    ),
    "duplicate nested key": (
        HEAD + "nodes:\n  - id: a\n    agent:\n      prompt: hi\n      model: default\n"
        "      prompt: ho\n",
        ":8:7: duplicate key 'prompt' (first at line 6)",
    ),
    "duplicate key in a flow mapping": (
        HEAD + "models:\n  default: {model: local/smollm2, model: fake/x}\n" + AGENT,
        ":4:35: duplicate key 'model' (first at line 4)",
    ),
    "output schema nested past the limit": (
        HEAD
        + "nodes:\n  - id: a\n    agent:\n      prompt: hi\n      output:\n"
        + "".join(" " * (8 + 2 * i) + "not:\n" for i in range(70))
        + " " * 148
        + "{}\n",
        ":71:135: the output schema nests deeper than 64 levels",
    ),
    "template nested too deeply": (
        HEAD
        + "nodes:\n  - id: a\n    agent:\n      prompt: '{{ "
        + "(" * 5000
        + "1"
        + ")" * 5000
        + " }}'\n",
        ":6:7: template nodes.0.agent.prompt line 1: nested too deeply for the template engine",
    ),
    "template with a long chain of operators": (
        HEAD + "nodes:\n  - id: a\n    agent:\n      prompt: '{{ 1" + " + 1" * 5000 + " }}'\n",
        "nested too deeply for the template engine",
    ),
    "condition nested too deeply": (
        HEAD + AGENT + "  - id: b\n    agent:\n      prompt: hi\n"
        "edges:\n  - from: a\n    switch:\n      - when: " + "not " * 5000 + "1\n        to: b\n",
        ":13:9: expression edges.0.switch.0.when: nested too deeply for the template engine",
    ),
    "template syntax error": (
        HEAD + "nodes:\n  - id: a\n    agent:\n      prompt: 'a {{ inputs.x ¯ }}'\n",
        ":6:7: template nodes.0.agent.prompt line 1: template syntax error: unexpected char '¯'"
        " at 14; fix the {{ }} or {% %} markup, or write {{ '{{' }} for literal braces",
    ),
    "template call": (
        HEAD
        + "nodes:\n  - id: a\n    agent:\n      prompt: |\n        ok\n        {{ range(10) }}\n",
        ":8:12: template nodes.0.agent.prompt line 2: a function or method call is not allowed",
    ),
    "unknown input in an indented line of a literal block": (
        HEAD + "nodes:\n  - id: a\n    agent:\n      prompt: |\n        ok\n"
        "          - {{ inputs.topic }}\n",
        ":8:16: template nodes.0.agent.prompt: unknown input 'topic'; declare it under `inputs:`"
        " (declared: none)",
    ),
    "unknown filter in a folded block": (
        HEAD + "nodes:\n  - id: a\n    agent:\n      prompt: >\n        one\n        two\n"
        "\n        three {{ 'x' | attr('y') }}\n",
        ":10:22: template nodes.0.agent.prompt line 2: filter 'attr' is not allowed",
    ),
    "template dunder": (
        HEAD + 'nodes:\n  - id: a\n    agent:\n      prompt: "{{ inputs.__class__ }}"\n',
        "attribute '__class__' is private",
    ),
    "template import": (
        HEAD + "nodes:\n  - id: a\n    agent:\n      prompt: \"{% import 'os' as os %}\"\n",
        "import is not allowed",
    ),
    "template set": (
        HEAD + "nodes:\n  - id: a\n    agent:\n      prompt: '{% set x = 1 %}{{ x }}'\n",
        "set is not allowed",
    ),
    "template macro": (
        HEAD + "nodes:\n  - id: a\n    agent:\n      prompt: '{% macro m() %}x{% endmacro %}'\n",
        "a macro is not allowed",
    ),
    "template unknown filter": (
        HEAD + "nodes:\n  - id: a\n    agent:\n      prompt: \"{{ 'x' | attr('upper') }}\"\n",
        "filter 'attr' is not allowed",
    ),
    "condition with a call": (
        HEAD + AGENT + "  - id: b\n    agent:\n      prompt: hi\n"
        "edges:\n  - from: a\n    switch:\n      - when: state.a.upper()\n        to: b\n",
        "a function or method call is not allowed",
    ),
    "condition with an unknown name": (
        HEAD + AGENT + "  - id: b\n    agent:\n      prompt: hi\n"
        "edges:\n  - from: a\n    switch:\n      - when: stat.a == 'x'\n        to: b\n",
        ":13:9: expression edges.0.switch.0.when: unknown variable 'stat'",
    ),
    "condition on an unknown node": (
        HEAD + AGENT + "  - id: b\n    agent:\n      prompt: hi\n"
        "edges:\n  - from: a\n    switch:\n      - when: visits.c > 1\n        to: b\n",
        "unknown node 'c' in visits",
    ),
    "no nodes": (
        HEAD + "nodes: []\nedges:\n  - from: a\n    to: b\n",
        ":3:1: nodes: the list is empty; a pipeline needs at least one node",
    ),
    "an input that is not a mapping": (
        HEAD + "inputs:\n  q: 5\n" + AGENT,
        "inputs.q: should be a mapping of its settings (type, description, default, required) "
        "(found 5)",
    ),
    "an edge from an unknown node": (
        HEAD + AGENT + "  - id: answer\n    agent:\n      prompt: hi\n"
        "edges:\n  - from: answr\n    to: a\n",
        ":11:5: unknown node 'answr'; nodes: a, answer; did you mean 'answer'?",
    ),
    "result in the outputs of a custom graph": (
        HEAD + AGENT + "outputs:\n  answer: '{{ result.answer }}'\n",
        ":8:3: template outputs.answer: unknown variable 'result'",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_specs_are_clear_errors_with_exit_code_2(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pwned"
    text, expected = BROKEN[case]
    path = tmp_path / "pipeline.yaml"
    path.write_text(text.replace("{marker}", str(marker)), encoding="utf-8")
    assert cli(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert expected in " ".join(err.split())
    assert "Traceback" not in err
    assert not marker.exists()
    with pytest.raises(SpecError):
        load_pipeline(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the file is empty"),
        (b"   \n\n", "the file is empty"),
        (b"# only a comment\n", "the file has no YAML document, only comments; write it in"),
        (b"just words\n", ":1:1: a pipeline is a mapping of keys (found a str); it starts with"),
        (b"---\n", ":1:1: a pipeline is a mapping of keys (found nothing); it starts with"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        ("version: agentrun/v1\nname: caf\xe9\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_empty_binary_and_non_utf8_files(
    content: bytes, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_bytes(content)
    assert cli(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        ("- when: hi\n  reply: yo\n- when: bye\n  model: x\n  reply: ciao\n",
         "replies.yaml:3:3: item 1: unknown key 'model'; a rule has the keys when, reply"),
        ("- when: '(unclosed'\n  reply: x\n", "replies.yaml:1:3: item 0: `when` is not a valid"),
        ("- reply: a\n- just text\n", "replies.yaml:2:3: item 1: expected a rule"),
        ("- when: x\n", "item 0: no `reply`"),
        ("{reply: x}\n", "replies.yaml:1:1: replies must be a non-empty list"),
        ("- !!python/object/apply:os.system ['touch {marker}']\n", "is not allowed"),
        ("- [unclosed\n", "invalid YAML"),
        ("- when: a\n  reply: x\n  when: b\n",
         "replies.yaml:3:3: duplicate key 'when' (first at line 1)"),
        ("- " + "[" * 200_000 + "\n", "replies.yaml:1:202: nesting deeper than 200 levels"),
    ],
)  # fmt: skip
def test_replies_files_are_checked_at_validation(
    replies: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "replies.yaml").write_text(replies.replace("{marker}", str(marker)), "utf-8")
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        HEAD + "models:\n  default: {model: fake/x, replies: replies.yaml}\n" + AGENT, "utf-8"
    )
    assert cli(["validate", str(path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{path}:4:" in err and "bad replies file" in err and expected in err, err
    assert "Traceback" not in err and not marker.exists()


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_set_checks_integer_workflow_inputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = Path(__file__).parents[2] / "examples" / "agent_write.yaml"
    assert cli(["validate", str(example), "--set", "workflow.inputs.target_words=lots"]) == 2
    assert "input 'target_words': Input should be a valid integer" in capsys.readouterr().err
    assert cli(["validate", str(example), "--set", "workflow.inputs.target_words=' 800 '"]) == 0


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("--set", "--set nodes.0.agent.output:1:197: nesting deeper than 200 levels"),
        ("--set", "--set nodes.0.agent.prompt:1:1: YAML tag"),
        ("--set", "--set models.default:1:12: duplicate key 'model' (first at line 1)"),
        ("--set", "--set nodes.0.agent.model:1:4: invalid YAML: character U+008F"),
        ("--set", "--set name:1:1: an alias refers to the collection it is in"),
        ("--input", "input 'items':1:200: nesting deeper than 200 levels"),
    ],
)
def test_command_line_values_follow_the_spec_rules(
    option: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--set` and list `--input` values are YAML too: bounded, untagged, without duplicates."""
    path = tmp_path / "pipeline.yaml"
    path.write_text(HEAD + "inputs:\n  items: {type: list}\n" + AGENT, "utf-8")
    values = {
        "--set name": "name=&a [*a]",
        "--set nodes.0.agent.output": "nodes.0.agent.output=" + "[" * 100_000,
        "--set nodes.0.agent.prompt": "nodes.0.agent.prompt=!!python/name:os.system",
        "--set models.default": "models.default={model: a, model: b}",
        "--set nodes.0.agent.model": "nodes.0.agent.model=abc\x8f",
        "input 'items'": "items=" + "[" * 100_000,
    }
    value = next(v for k, v in values.items() if expected.startswith(k))
    command = "validate" if option == "--set" else "run"
    assert cli([command, str(path), option, value]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err and "Recursion" not in err, err


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        HEAD + "nodes:\n  - id: a\n    agent:\n      model: nope\n      prompt: '{{ state.q }}'\n"
        "  - id: b\n    agent:\n      prompt: hi\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError) as caught:
        load_pipeline(path)
    message = str(caught.value)
    assert "3 problems" in message
    assert "unknown model 'nope'" in message and "unknown node 'q'" in message
    assert "'b' is unreachable" in message


def test_json_schema_is_valid_and_matches_the_shipped_file() -> None:
    from jsonschema import Draft202012Validator

    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    shipped = Path(__file__).parents[2] / "schema" / "agentrun-v1.json"
    assert json.loads(shipped.read_text(encoding="utf-8")) == schema, (
        "run: agentrun schema > schema/agentrun-v1.json"
    )
    assert "chain-of-agents" in json.dumps(schema)


def test_schema_command_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"].startswith("agentrun pipeline")


def test_spec_yaml_spec_round_trip() -> None:
    import yaml

    for example in sorted((Path(__file__).parents[2] / "examples").glob("*.yaml")):
        spec = load_pipeline(example).spec
        dumped = yaml.safe_dump(spec.model_dump(mode="json", by_alias=True, exclude_none=True))
        again = PipelineSpec.model_validate(yaml.safe_load(dumped))
        assert again == spec, example.name
