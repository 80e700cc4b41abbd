"""`agentrun serve`: pipelines and workflows over HTTP, with an event stream and web pages.

Needs the `server` extra (FastAPI, uvicorn, sse-starlette). `create_app(folder, settings)` is the
ASGI app; `agentrun.server.models` holds the request and response models alone (pydantic only),
which `agentrun.Client` uses too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentrun.server.app import create_app
    from agentrun.server.config import ServerSettings


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from agentrun.server.app import create_app

        return create_app
    if name == "ServerSettings":
        from agentrun.server.config import ServerSettings

        return ServerSettings
    raise AttributeError(f"module 'agentrun.server' has no attribute {name!r}")


__all__ = ["ServerSettings", "create_app"]
