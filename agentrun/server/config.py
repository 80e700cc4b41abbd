"""How a server is set up: where its data lives, who may call it, and its limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MB = 1024 * 1024


@dataclass(frozen=True)
class ServerSettings:
    #: The data directory (runs, checkpoints, memory); None: as the CLI resolves it.
    data_dir: Path | None = None
    #: Client name -> bearer token. Empty with `auth` off only.
    tokens: dict[str, str] = field(default_factory=dict, repr=False)
    #: Require a token (off only for a server listening on loopback, `--no-auth`).
    auth: bool = True
    #: Largest request body (JSON: run inputs, answers).
    max_body_bytes: int = 16 * MB
    #: Largest document uploaded into memory.
    max_document_bytes: int = 64 * MB
    #: Runs executing at once; past it, starting or resuming one answers 429.
    max_runs: int = 4
    #: What a 429 tells the client to wait, in seconds.
    retry_after_s: int = 5


__all__ = ["MB", "ServerSettings"]
