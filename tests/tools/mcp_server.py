"""A small MCP server for the tests, on the SDK's own server side.

`python tests/tools/mcp_server.py` serves over stdio; `--http PORT` over streamable HTTP on
127.0.0.1. `--exit-at-once` and `--silent` are the broken servers the client must report clearly:
one exits before the handshake, the other reads its input and never answers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("test-tools")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str, times: int = 1) -> str:
    """Repeat a text.

    Args:
        text: What to repeat.
        times: How many times.
    """
    return " ".join([text] * times)


@server.tool()
async def wait(seconds: float) -> str:
    """Wait, then say how long."""
    await asyncio.sleep(seconds)
    return f"waited {seconds:g} s"


@server.tool()
def pid() -> int:
    """The server's process id (the tests check it is gone after the client closes)."""
    return os.getpid()


@server.tool()
def environment(name: str) -> str:
    """An environment variable of the server ("" when unset)."""
    return os.environ.get(name, "")


@server.tool()
def header(name: str, ctx: Context) -> str:
    """A header of the HTTP request that carried the call ("" over stdio)."""
    return (ctx.headers or {}).get(name.lower(), "")


@server.tool()
def crash() -> str:
    """Kill the server mid-call."""
    os._exit(7)


@server.tool()
def fail(reason: str) -> str:
    """Raise an error, which the server reports as a tool error."""
    raise ValueError(reason)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, metavar="PORT", help="serve over HTTP on this port")
    parser.add_argument("--exit-at-once", action="store_true")
    parser.add_argument("--silent", action="store_true")
    args = parser.parse_args()
    if args.exit_at_once:
        print("test server: refusing to start (missing TEST_TOKEN)", file=sys.stderr)
        sys.exit(3)
    if args.silent:
        for _line in sys.stdin:
            time.sleep(0)
        return
    if args.http:
        server.settings.log_level = "WARNING"
        server.run("streamable-http", host="127.0.0.1", port=args.http)
    else:
        server.run()


if __name__ == "__main__":
    main()
