"""The tools of Model Context Protocol servers, as agentrun `Tool`s (official `mcp` SDK).

`McpClient` starts (stdio) or connects to (streamable HTTP) each configured server, lists its
tools and exposes each as a `Tool` named `<server>.<tool>`; leaving the `async with` block stops
every server it started. Each connection lives in a task of its own, so a server that dies can
only fail the calls made to it, never the caller's task; start-up failures, time-outs and servers
that go away mid-call raise one clear error naming the server and the fix.

A stdio server gets the SDK's minimal environment (PATH, HOME, USER, ...) plus `env`: nothing
else of the caller's environment, so credentials reach only the servers they are given to.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import deque
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any, TextIO

import anyio
import jsonschema
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client  # the SDK's client, MCP's time-outs
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT, CallToolResult, TextContent
from mcp_types import Tool as McpToolInfo

from agentrun.errors import McpServerError, ToolArgumentsError, ToolCallError, UsageError
from agentrun.logs import get_logger
from agentrun.tools.context import ToolContext
from agentrun.tools.function import Tool
from agentrun.tools.mcp_config import McpServer

log = get_logger("mcp")

#: Lines of a stdio server's stderr kept for error messages.
STDERR_LINES = 20


class McpTool(Tool):
    """A tool of an MCP server; arguments are checked against its input schema first."""

    def __init__(self, connection: _Connection, info: McpToolInfo) -> None:
        name = f"{connection.config.name}.{info.name}"
        super().__init__(name, info.description or "", dict(info.input_schema))
        self.remote_name = info.name
        self._connection = connection

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        try:
            validator = jsonschema.validators.validator_for(self.parameters)(self.parameters)
            errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))
        except jsonschema.SchemaError:
            return arguments  # a schema the server got wrong: let the server judge
        problems = [
            f"{'.'.join(str(p) for p in error.path) or '(arguments)'}: {error.message}"
            for error in errors
        ]
        if problems:
            raise ToolArgumentsError(self.name, problems)
        return arguments

    async def _run(self, arguments: Any, context: ToolContext | None) -> Any:
        return await self._connection.call(self, arguments)


class _StderrTail:
    """A stdio server's stderr, read on a thread into its last lines (bounded memory)."""

    def __init__(self) -> None:
        read_end, write_end = os.pipe()
        self.writer: TextIO = open(write_end, "w", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self._lines: deque[str] = deque(maxlen=STDERR_LINES)
        self.count = 0  # lines read so far
        self._thread = threading.Thread(target=self._read, args=(read_end,), daemon=True)
        self._thread.start()

    def _read(self, fd: int) -> None:
        with open(fd, encoding="utf-8", errors="replace") as reader:
            for line in reader:
                if line.strip():
                    self._lines.append(" ".join(line.split()))
                    self.count += 1

    def close(self) -> None:
        """Close this side of the pipe; the tail is complete once the server has exited."""
        self.writer.close()
        self._thread.join(timeout=1)

    def text(self, since: int = 0, limit: int = 300) -> str:
        """The last lines (of those written after the first `since`), joined."""
        fresh = min(len(self._lines), self.count - since, 3)
        return " | ".join(list(self._lines)[-fresh:] if fresh > 0 else [])[-limit:]


class _Connection:
    """One server: an owner task holds the SDK client open until `stop()`."""

    def __init__(self, config: McpServer) -> None:
        self.config = config
        self.tools: list[McpTool] = []
        self._client: Client | None = None
        self._stderr: _StderrTail | None = None
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        self._closed = asyncio.Event()
        self._scope: anyio.CancelScope | None = None
        self._failure: BaseException | None = None
        self._gone: str | None = None
        self._owner: asyncio.Task[None] | None = None

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._owner = asyncio.create_task(self._serve(), name=f"mcp:{self.config.name}")
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), self.config.startup_timeout_s)
        except TimeoutError:
            await self.stop()
            raise McpServerError(self.config.name, self._timeout_message()) from None
        except BaseException:
            await self.stop()
            raise
        if self._failure is not None:
            await self.stop()
            raise self._startup_error(self._failure) from None
        log.info("mcp_server_started", server=self.config.name, tools=len(self.tools))

    async def stop(self) -> None:
        """Leave the client (the SDK stops a stdio server: stdin closed, then SIGTERM, SIGKILL)."""
        self._stop.set()
        if self._scope is not None and not self._ready.done():
            self._scope.cancel()  # still starting: nothing to wait for
        if self._owner is not None:
            await asyncio.shield(self._owner)

    async def _serve(self) -> None:
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                async with AsyncExitStack() as stack:
                    transport = await self._transport(stack)
                    client = await stack.enter_async_context(Client(transport))
                    self._client = client
                    self.tools = [McpTool(self, info) for info in await self._list(client)]
                    self._ready.set_result(None)
                    await self._stop.wait()
        except BaseException as exc:  # reported to start() or to the calls, never re-raised
            self._failure = exc
        finally:
            self._client = None
            if self._stderr is not None:
                self._stderr.close()
            if not self._ready.done():
                self._ready.set_result(None)
            self._closed.set()

    async def _transport(self, stack: AsyncExitStack) -> AbstractAsyncContextManager[Any]:
        """The SDK transport for the server (its HTTP client entered on `stack`)."""
        config = self.config
        if config.url is not None:
            headers = {k: v.get_secret_value() for k, v in config.headers.items()}
            http = await stack.enter_async_context(create_mcp_http_client(headers=headers))
            return streamable_http_client(config.url, http_client=http)
        self._stderr = _StderrTail()
        parameters = StdioServerParameters(
            command=config.command or "",
            args=config.args,
            env={k: v.get_secret_value() for k, v in config.env.items()},
            cwd=config.cwd,
        )
        return stdio_client(parameters, errlog=self._stderr.writer)

    @staticmethod
    async def _list(client: Client) -> list[McpToolInfo]:
        tools: list[McpToolInfo] = []
        cursor: str | None = None
        while True:
            page = await client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                return tools

    # --- calls -----------------------------------------------------------------------------

    async def call(self, tool: McpTool, arguments: dict[str, Any]) -> Any:
        """The tool's result: its text (or structured content); failures as `ToolCallError`."""
        client = self._client
        if client is None or self._gone is not None:
            raise ToolCallError(tool.name, self._gone_message())
        timeout = self.config.call_timeout_s
        stderr_before = self._stderr.count if self._stderr is not None else 0
        # The call runs in a task of its own and races the connection: a server lost over HTTP
        # fails the owner task, and no answer would ever come.
        request = asyncio.create_task(
            client.call_tool(tool.remote_name, arguments, read_timeout_seconds=timeout)
        )
        closed = asyncio.create_task(self._closed.wait())
        try:
            done, _ = await asyncio.wait(
                {request, closed}, timeout=timeout + 5, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (request, closed):
                task.cancel()
            await asyncio.gather(request, closed, return_exceptions=True)
        if request in done:
            error = request.exception()
            if error is None:
                return _result(tool.name, request.result())
            if isinstance(error, MCPError) and error.code == REQUEST_TIMEOUT:
                raise ToolCallError(tool.name, self._call_timeout_message())
            if isinstance(error, MCPError) and error.code != CONNECTION_CLOSED:
                raise ToolCallError(tool.name, f"the server refused the call: {error}")
            self._gone = _describe(error)
        elif closed in done:
            self._gone = _describe(self._failure)
        else:
            raise ToolCallError(tool.name, self._call_timeout_message())
        raise ToolCallError(tool.name, self._gone_message(stderr_before))

    # --- messages --------------------------------------------------------------------------

    def _stderr_note(self, since: int = 0) -> str:
        tail = self._stderr.text(since) if self._stderr is not None else ""
        return f" (its stderr: {tail})" if tail else ""

    def _timeout_message(self) -> str:
        return (
            f"no answer to the MCP handshake within {self.config.startup_timeout_s:g} s"
            f"{self._stderr_note()}; check that `{self.config.where}` is an MCP server "
            f"({'speaking stdio' if self.config.command else 'at that URL'}), or raise "
            "startup_timeout_s"
        )

    def _call_timeout_message(self) -> str:
        return (
            f"MCP server {self.config.name!r} gave no answer within "
            f"{self.config.call_timeout_s:g} s (it was asked to cancel the call); raise "
            "call_timeout_s for a slow tool"
        )

    def _gone_message(self, stderr_since: int | None = None) -> str:
        reason = f": {self._gone}" if self._gone else ""
        note = "" if stderr_since is None else self._stderr_note(stderr_since)
        return (
            f"MCP server {self.config.name!r} stopped or lost the connection{reason}"
            f"{note}; its tools are unavailable until the McpClient is opened "
            "again"
        )

    def _startup_error(self, failure: BaseException) -> McpServerError:
        config, leaf = self.config, _leaf(failure)
        name = config.name
        if isinstance(leaf, FileNotFoundError | PermissionError) and config.command:
            problem = "not found" if isinstance(leaf, FileNotFoundError) else "not executable"
            return McpServerError(
                name, f"command {config.command!r} {problem}; install it or fix `command`"
            )
        if isinstance(leaf, MCPError) and leaf.code == CONNECTION_CLOSED and config.command:
            return McpServerError(
                name,
                f"the server exited at start-up{self._stderr_note()}; run `{config.where}` "
                "by hand to see why",
            )
        if _is_connect_error(leaf):
            return McpServerError(
                name, f"nothing answers at {config.url}; start the server or fix `url`"
            )
        return McpServerError(
            name,
            f"the MCP handshake with `{config.where}` failed: {_describe(leaf)}"
            f"{self._stderr_note()}; check that it is an MCP server"
            f"{' and the path of the url (often /mcp)' if config.url else ''}",
        )


def _leaf(error: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups."""
    while isinstance(error, BaseExceptionGroup):
        inner = [e for e in error.exceptions if not isinstance(e, asyncio.CancelledError)]
        error = (inner or list(error.exceptions))[0]
    return error


def _describe(error: BaseException | None) -> str:
    if error is None:
        return ""
    leaf = _leaf(error)
    return f"{type(leaf).__name__}: {leaf}" if str(leaf) else type(leaf).__name__


def _is_connect_error(error: BaseException) -> bool:
    return type(error).__name__ in {"ConnectError", "ConnectTimeout"} or isinstance(
        error, ConnectionRefusedError
    )


def _result(name: str, result: CallToolResult) -> Any:
    """A successful call's text (non-text blocks noted), or its structured content when it sent
    no text; an error result raises `ToolCallError` with the server's text."""
    texts = [
        block.text if isinstance(block, TextContent) else f"[{block.type} content]"
        for block in result.content
    ]
    if result.is_error:
        raise ToolCallError(name, "; ".join(texts) or "the server reported an error")
    if texts:
        return "\n".join(texts)
    return result.structured_content if result.structured_content is not None else ""


class McpClient:
    """MCP servers and their tools, for the span of an `async with` block.

    ```python
    async with McpClient([McpServer(name="files", command="mcp-files", args=["."])]) as mcp:
        reply = await gateway.acomplete(model, messages, tools=mcp.tools)
    ```
    """

    def __init__(self, servers: Iterable[McpServer]) -> None:
        self.servers = list(servers)
        names = [server.name for server in self.servers]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise UsageError(f"MCP server names must differ: {', '.join(repeated)} repeats")
        self._connections: list[_Connection] = []

    async def __aenter__(self) -> McpClient:
        self._connections = [_Connection(server) for server in self.servers]
        results = await asyncio.gather(
            *(connection.start() for connection in self._connections), return_exceptions=True
        )
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            await self.aclose()
            raise failures[0]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop every server (safe to call twice)."""
        connections, self._connections = self._connections, []
        await asyncio.gather(*(c.stop() for c in connections), return_exceptions=True)

    @property
    def tools(self) -> list[Tool]:
        """Every server's tools, named `<server>.<tool>`."""
        return [tool for connection in self._connections for tool in connection.tools]

    def tool(self, name: str) -> Tool:
        for candidate in self.tools:
            if candidate.name == name:
                return candidate
        known = ", ".join(t.name for t in self.tools) or "none"
        raise UsageError(f"no MCP tool {name!r} (tools: {known})")
