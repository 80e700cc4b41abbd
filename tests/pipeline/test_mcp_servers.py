"""A pipeline's `mcp_servers:`: started with the run, their tools listed, chosen by name or
`server.*` and called by an agent, stopped at the end; bad names and servers fail clearly."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentrun.agents.testing import ScriptedToolCalls, scripted_model
from agentrun.cli import run as cli
from agentrun.errors import ConfigError, McpServerError, SpecError, UsageError
from agentrun.pipeline import Pipeline
from tests.pipeline.test_tool_agent import HEAD, agent, tool_messages
from tests.tools.test_mcp import SERVER, servers_running


def servers(extra: str = "", name: str = "calc") -> str:
    return (
        f"mcp_servers:\n  {name}:\n    command: {sys.executable}\n    args: [{SERVER}]\n"
        f"    env: {{TEST_TOKEN: '${{AGENTRUN_TEST_TOKEN}}'}}\n{extra}"
    )


def pipeline(folder: Path, tools: str, mcp: str) -> Pipeline:
    path = folder / "p.yaml"
    path.write_text(HEAD + mcp + agent(tools), encoding="utf-8")
    return Pipeline.load(path)


@pytest.fixture(autouse=True)
def no_server_left_behind(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AGENTRUN_TEST_TOKEN", "t0ken")
    before = set(servers_running())
    yield
    assert set(servers_running()) - before == set()


def test_an_agent_calls_a_servers_tools_and_the_server_stops(
    tmp_path: Path, data_dir: Path
) -> None:
    spec = pipeline(tmp_path, "[calc.*]", servers())
    calls = [
        {"name": "calc.add", "arguments": {"a": 2, "b": 3}, "id": "add"},
        {"name": "calc.environment", "arguments": {"name": "TEST_TOKEN"}, "id": "env"},
        {"name": "calc.add", "arguments": {"a": "two"}, "id": "bad"},
    ]
    with scripted_model([ScriptedToolCalls(calls), "5"]) as fake:
        result = spec.run({}, data_dir=data_dir)
    assert result.outputs == {"answer": "5"}
    offered = {spec["function"]["name"] for spec in fake.calls[0].params["tools"]}
    assert {"calc_add", "calc_echo", "calc_wait", "calc_environment"} <= offered
    answers = tool_messages(fake.calls[1].messages)
    assert answers["add"] == "5" and answers["env"] == "t0ken"
    assert answers["bad"].startswith("error: tool 'calc.add': invalid arguments")
    assert "t0ken" not in spec.path.read_text(encoding="utf-8")


def test_single_tools_of_a_server_and_unknown_ones(tmp_path: Path, data_dir: Path) -> None:
    spec = pipeline(tmp_path, "[calc.add]", servers())
    add = ScriptedToolCalls([{"name": "calc.add", "arguments": {"a": 1, "b": 1}}])
    with scripted_model([add, "2"]) as fake:
        assert spec.run({}, data_dir=data_dir).outputs == {"answer": "2"}
    assert [s["function"]["name"] for s in fake.calls[0].params["tools"]] == ["calc_add"]
    missing = pipeline(tmp_path, "[calc.divide]", servers())
    with pytest.raises(UsageError, match=r"node answer: unknown tool 'calc.divide'.*calc\.add"):
        missing.run({}, data_dir=data_dir)


def test_a_server_that_does_not_start_fails_the_run_clearly(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = pipeline(tmp_path, "[calc.*]", servers("    startup_timeout_s: 20\n").replace(
        f"args: [{SERVER}]", f"args: [{SERVER}, --exit-at-once]"))  # fmt: skip
    with pytest.raises(McpServerError, match=r"MCP server 'calc': the server exited at start-up"):
        broken.run({}, data_dir=data_dir)
    assert cli(["run", str(broken.path)]) == 3
    err = capsys.readouterr().err
    assert "refusing to start (missing TEST_TOKEN)" in err and "Traceback" not in err


def test_a_secret_from_an_unset_variable_is_a_clear_error(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = pipeline(tmp_path, "[calc.*]", servers())
    monkeypatch.delenv("AGENTRUN_TEST_TOKEN")
    with pytest.raises(ConfigError, match=r"mcp_servers\.calc\.env\.TEST_TOKEN: environment var"):
        spec.run({}, data_dir=data_dir)


def test_server_settings_and_names_are_checked_before_the_run(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="give either command"):
        pipeline(tmp_path, "[calc.*]", "mcp_servers:\n  calc: {args: [x]}\n")
    with pytest.raises(SpecError, match=r"mcp_servers\.my\.calc\.\[key\]: String should match"):
        pipeline(tmp_path, "[calc.*]", servers(name="my.calc"))
    with pytest.raises(SpecError, match=r"unknown tool 'other\.add'.*calc\.\*"):
        pipeline(tmp_path, "[other.add]", servers())
