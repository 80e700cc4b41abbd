"""How to reach MCP servers: settings only (no SDK import), for specs and the client alike."""

from __future__ import annotations

import shlex

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

#: What a server may be called (its name prefixes its tools' names).
SERVER_NAME = r"^[A-Za-z0-9_-]+$"


class McpServerSettings(BaseModel):
    """How to reach an MCP server: a `command` to run over stdio, or the `url` of a streamable
    HTTP one (a pipeline's `mcp_servers:` entries; the name is their key)."""

    model_config = ConfigDict(extra="forbid")

    command: str | None = Field(default=None, description="Program to start (stdio).")
    args: list[str] = Field(default_factory=list, description="Its arguments.")
    env: dict[str, SecretStr] = Field(
        default_factory=dict,
        repr=False,
        description="Environment variables it gets, besides PATH, HOME, USER and the like.",
    )
    cwd: str | None = Field(default=None, description="Its working directory.")
    url: str | None = Field(default=None, description="Streamable HTTP endpoint (often /mcp).")
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, repr=False, description="HTTP headers sent with each request."
    )
    startup_timeout_s: float = Field(default=30.0, gt=0)
    call_timeout_s: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSettings:
        name = getattr(self, "name", None)
        who = f"MCP server {name!r}: " if name else ""
        if (self.command is None) == (self.url is None):
            raise ValueError(f"{who}give either command (stdio) or url")
        if self.url is not None and (self.args or self.env or self.cwd):
            raise ValueError(f"{who}args, env and cwd need a command")
        if self.command is not None and self.headers:
            raise ValueError(f"{who}headers need a url")
        return self

    @property
    def where(self) -> str:
        if self.url is not None:
            return self.url
        return shlex.join([self.command or "", *self.args])


class McpServer(McpServerSettings):
    """One MCP server, named: its tools are called `<name>.<tool>`."""

    name: str = Field(pattern=SERVER_NAME, description="Prefix of its tools' names.")


__all__ = ["SERVER_NAME", "McpServer", "McpServerSettings"]
