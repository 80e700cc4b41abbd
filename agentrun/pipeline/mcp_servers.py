"""A pipeline's `mcp_servers:`, started for the span of one run (and resume), then stopped.

A value of `env` or `headers` written `${NAME}` is taken from the environment when the run
starts, so a spec (and the copy of it each run keeps) holds no secret. A stdio server runs in
the pipeline file's folder unless its `cwd` says otherwise (relative to that folder).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from pydantic import SecretStr

from agentrun.errors import ConfigError
from agentrun.logs import remember_secret
from agentrun.pipeline.spec import McpServerSpec
from agentrun.tools.function import Tool
from agentrun.tools.mcp_config import McpServer

_FROM_ENVIRONMENT = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def server(name: str, spec: McpServerSpec, base_dir: Path) -> McpServer:
    """The server `spec` describes, with `${NAME}` values read from the environment."""

    def values(field: str, given: Mapping[str, SecretStr]) -> dict[str, SecretStr]:
        return {
            key: SecretStr(_expand(f"mcp_servers.{name}.{field}.{key}", value.get_secret_value()))
            for key, value in given.items()
        }

    settings = spec.model_dump(exclude={"env", "headers", "cwd"})
    cwd = str(base_dir / spec.cwd) if spec.cwd else str(base_dir)
    return McpServer(
        name=name, **settings, env=values("env", spec.env),
        headers=values("headers", spec.headers), cwd=cwd if spec.command else None,
    )  # fmt: skip


def _expand(where: str, value: str) -> str:
    found = _FROM_ENVIRONMENT.match(value)
    if found is None:
        return value
    variable = found.group(1)
    if variable not in os.environ:
        raise ConfigError(f"{where}: environment variable {variable!r} is not set; export it "
                          "before the run")  # fmt: skip
    return remember_secret(os.environ[variable])


@asynccontextmanager
async def started(
    servers: Mapping[str, McpServerSpec], base_dir: Path
) -> AsyncIterator[list[Tool]]:
    """Every server's tools while the block runs; no server outlives it."""
    if not servers:
        yield []
        return
    from agentrun.tools.mcp import McpClient

    configured = [server(name, spec, base_dir) for name, spec in servers.items()]
    async with McpClient(configured) as client:
        yield client.tools


__all__ = ["server", "started"]
