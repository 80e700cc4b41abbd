"""MCP servers' tools over stdio and streamable HTTP: listing, calls, failures, and no process
left behind."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydantic import ValidationError

from agentrun.agents import Gateway
from agentrun.agents.testing import ScriptedToolCalls, scripted_model
from agentrun.errors import McpServerError, ToolArgumentsError, ToolCallError, UsageError
from agentrun.tools.function import run_tool_call
from agentrun.tools.mcp import McpClient, McpServer
from tests.conftest import pid_alive

SERVER = str(Path(__file__).with_name("mcp_server.py"))


def stdio(name: str = "t", *extra: str, **options: object) -> McpServer:
    return McpServer(name=name, command=sys.executable, args=[SERVER, *extra], **options)  # type: ignore[arg-type]


def servers_running() -> list[int]:
    """Processes of the test server that are still alive (children or not)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if SERVER.encode() in command and pid_alive(int(proc.name)):
            found.append(int(proc.name))
    return found


@pytest.fixture(autouse=True)
def no_server_left_behind() -> Iterator[None]:
    before = set(servers_running())
    yield
    deadline = time.monotonic() + 10
    while (left := set(servers_running()) - before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"MCP test servers still running: {left}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def http_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with serving_http() as served:
        yield served


@contextmanager
def serving_http() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The test server over streamable HTTP: its URL and process, killed at the end."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, SERVER, "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/mcp", process
    finally:
        process.kill()
        process.wait(timeout=10)


# --- stdio -------------------------------------------------------------------------------------


async def test_stdio_tools_are_listed_with_their_schemas_and_called() -> None:
    async with McpClient([stdio("calc")]) as mcp:
        names = [tool.name for tool in mcp.tools]
        assert {"calc.add", "calc.echo", "calc.wait", "calc.crash"} <= set(names)
        add = mcp.tool("calc.add")
        assert add.description == "Add two integers."
        assert add.parameters["required"] == ["a", "b"]
        assert add.spec["function"]["name"] == "calc.add"
        assert await add.call({"a": 2, "b": 3}) == "5"
        assert await mcp.tool("calc.echo").call({"text": "hi", "times": 2}) == "hi hi"
        with pytest.raises(UsageError, match=r"no MCP tool 'calc.nope' \(tools: calc.add"):
            mcp.tool("calc.nope")


async def test_the_server_gets_its_env_and_not_the_callers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTRUN_TEST_SECRET", "not for servers")
    server = stdio(env={"TEST_TOKEN": "given"}, cwd="/")
    assert "given" not in repr(server)
    async with McpClient([server]) as mcp:
        environment = mcp.tool("t.environment")
        assert await environment.call({"name": "TEST_TOKEN"}) == "given"
        assert await environment.call({"name": "AGENTRUN_TEST_SECRET"}) == ""
        assert await environment.call({"name": "PATH"}) != ""


async def test_arguments_are_checked_against_the_input_schema_first() -> None:
    async with McpClient([stdio()]) as mcp:
        with pytest.raises(ToolArgumentsError) as caught:
            await mcp.tool("t.add").call({"a": "one"})
    assert "a: 'one' is not of type 'integer'" in str(caught.value)
    assert "'b' is a required property" in str(caught.value)


async def test_a_tool_error_is_a_tool_call_error_with_the_servers_text() -> None:
    async with McpClient([stdio()]) as mcp:
        with pytest.raises(ToolCallError, match=r"tool 't.fail': Error executing tool fail"):
            await mcp.tool("t.fail").call({"reason": "boom"})
        assert await mcp.tool("t.add").call({"a": 1, "b": 1}) == "2"


async def test_a_slow_call_times_out_and_the_server_stays_usable() -> None:
    async with McpClient([stdio(call_timeout_s=0.5)]) as mcp:
        started = time.monotonic()
        with pytest.raises(ToolCallError, match=r"'t' gave no answer within 0.5 s.*call_timeout_s"):
            await mcp.tool("t.wait").call({"seconds": 30})
        assert time.monotonic() - started < 5
        assert await mcp.tool("t.add").call({"a": 1, "b": 2}) == "3"


async def test_a_server_that_dies_mid_call_fails_that_call_and_later_ones() -> None:
    async with McpClient([stdio()]) as mcp:
        pid = int(await mcp.tool("t.pid").call())
        started = time.monotonic()
        with pytest.raises(ToolCallError, match=r"MCP server 't' stopped or lost the connection"):
            await mcp.tool("t.crash").call()
        assert time.monotonic() - started < 5
        with pytest.raises(ToolCallError, match="unavailable until the McpClient is opened again"):
            await mcp.tool("t.add").call({"a": 1, "b": 2})
    assert not pid_alive(pid)


async def test_leaving_the_block_stops_the_server_even_on_an_error() -> None:
    with pytest.raises(RuntimeError, match="caller failed"):
        async with McpClient([stdio()]) as mcp:
            pid = int(await mcp.tool("t.pid").call())
            assert pid_alive(pid)
            raise RuntimeError("caller failed")
    assert not pid_alive(pid)


async def test_a_cancelled_caller_leaves_no_server() -> None:
    ready = asyncio.Event()

    async def use() -> None:
        async with McpClient([stdio()]) as mcp:
            ready.set()
            await mcp.tool("t.wait").call({"seconds": 30})

    task = asyncio.create_task(use())
    await asyncio.wait_for(ready.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_missing_command_is_a_clear_error() -> None:
    server = McpServer(name="files", command="no-such-mcp-server-here")
    with pytest.raises(McpServerError) as caught:
        async with McpClient([server]):
            pass
    assert str(caught.value) == (
        "MCP server 'files': command 'no-such-mcp-server-here' not found; install it or fix "
        "`command`"
    )
    assert caught.value.exit_code == 3


async def test_a_server_that_exits_at_once_shows_its_stderr() -> None:
    with pytest.raises(McpServerError) as caught:
        async with McpClient([stdio("t", "--exit-at-once")]):
            pass
    message = str(caught.value)
    assert message.startswith("MCP server 't': the server exited at start-up")
    assert "refusing to start (missing TEST_TOKEN)" in message
    assert "--exit-at-once` by hand to see why" in message


async def test_a_server_that_never_answers_the_handshake_times_out() -> None:
    started = time.monotonic()
    with pytest.raises(McpServerError, match=r"no answer to the MCP handshake within 1.5 s"):
        async with McpClient([stdio("t", "--silent", startup_timeout_s=1.5)]):
            pass
    assert time.monotonic() - started < 10


async def test_one_failing_server_stops_the_others() -> None:
    with pytest.raises(McpServerError, match="'broken'"):
        async with McpClient([stdio("good"), McpServer(name="broken", command="no-such-cmd")]):
            pass


def test_server_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="either command"):
        McpServer(name="x")
    with pytest.raises(ValidationError, match="either command"):
        McpServer(name="x", command="a", url="http://b")
    with pytest.raises(ValidationError, match="headers need a url"):
        McpServer(name="x", command="a", headers={"A": "b"})
    with pytest.raises(ValidationError, match="name"):
        McpServer(name="my.files", command="a")
    with pytest.raises(UsageError, match="names must differ: t repeats"):
        McpClient([stdio(), stdio()])


# --- streamable HTTP -------------------------------------------------------------------------


async def test_http_tools_are_listed_and_called_with_the_headers(
    http_server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, _ = http_server
    server = McpServer(name="web", url=url, headers={"X-Api-Key": "k-123"})
    assert "k-123" not in repr(server)
    async with McpClient([server]) as mcp:
        assert "web.add" in [tool.name for tool in mcp.tools]
        assert await mcp.tool("web.add").call({"a": 20, "b": 22}) == "42"
        assert await mcp.tool("web.header").call({"name": "X-Api-Key"}) == "k-123"


async def test_http_call_time_out(http_server: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, _ = http_server
    async with McpClient([McpServer(name="web", url=url, call_timeout_s=0.5)]) as mcp:
        with pytest.raises(ToolCallError, match=r"gave no answer within 0\.5 s"):
            await mcp.tool("web.wait").call({"seconds": 30})


async def test_an_http_server_that_dies_mid_call(
    http_server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, process = http_server
    async with McpClient([McpServer(name="web", url=url)]) as mcp:
        started = time.monotonic()
        with pytest.raises(ToolCallError, match="MCP server 'web' stopped or lost the connection"):
            await mcp.tool("web.crash").call()
        assert time.monotonic() - started < 10
    assert process.wait(timeout=10) == 7


async def test_nothing_listening_at_the_url_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    with pytest.raises(McpServerError) as caught:
        async with McpClient([McpServer(name="web", url=url)]):
            pass
    assert (
        str(caught.value)
        == f"MCP server 'web': nothing answers at {url}; start the server or fix `url`"
    )


async def test_a_url_that_is_not_an_mcp_endpoint(
    http_server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, _ = http_server
    wrong = url.replace("/mcp", "/nothing-here")
    with pytest.raises(
        McpServerError, match=r"handshake with `.*/nothing-here` failed.*often /mcp"
    ):
        async with McpClient([McpServer(name="web", url=wrong, startup_timeout_s=10)]):
            pass


# --- with the gateway --------------------------------------------------------------------------


async def test_mcp_tools_go_through_the_gateway_and_answer_its_calls(data_dir: Path) -> None:
    script = [ScriptedToolCalls([{"name": "calc_add", "arguments": {"a": 4, "b": 5}, "id": "c1"}])]
    async with McpClient([stdio("calc")]) as mcp:
        with scripted_model(script) as fake:
            async with Gateway(data_dir=data_dir) as gateway:
                reply = await gateway.acomplete("fake/m", "4+5?", tools=mcp.tools)
        answer = await run_tool_call(mcp.tools, reply.tool_calls[0])
    sent = {spec["function"]["name"] for spec in fake.calls[0].params["tools"]}
    assert {"calc_add", "calc_echo"} <= sent
    assert reply.tool_calls[0].name == "calc.add"
    assert answer == {"role": "tool", "tool_call_id": "c1", "content": "9"}
