"""`agentrun serve FOLDER`: the pipelines in a folder and every registered workflow over HTTP."""

from __future__ import annotations

from pathlib import Path

import typer

from agentrun.cli._common import err_console, state
from agentrun.errors import ConfigError, UsageError

TOKENS_HELP = (
    "A file of `NAME TOKEN` lines, one client each (chmod 600); else $AGENTRUN_SERVER_TOKEN "
    "is the token of one client."
)


def serve(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="The folder whose pipelines (*.yaml) are served."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8321, min=0, max=65535, help="Port (0: any free one)."),
    tokens_file: Path | None = typer.Option(None, metavar="FILE", help=TOKENS_HELP),
    no_auth: bool = typer.Option(
        False, "--no-auth", help="Take requests without a token (loopback addresses only)."
    ),
    max_runs: int = typer.Option(4, min=1, help="Runs executing at once; past it, 429."),
    max_body_mb: float = typer.Option(16.0, min=0.001, help="Largest request body, in MB."),
    max_document_mb: float = typer.Option(64.0, min=0.001, help="Largest uploaded document."),
) -> None:
    """Serve pipelines and workflows over HTTP: runs, their event streams, and web pages."""
    from agentrun.server.auth import env_tokens, is_loopback, read_tokens_file
    from agentrun.server.config import MB, ServerSettings

    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder; name the folder that holds the pipelines")
    tokens = read_tokens_file(tokens_file) if tokens_file is not None else env_tokens()
    if no_auth and tokens:
        raise UsageError("--no-auth and tokens exclude each other; drop one")
    if no_auth and not is_loopback(host):
        raise UsageError(f"--no-auth needs a loopback address (127.0.0.1, ::1), not {host}; "
                         "anyone who can reach the server could run pipelines")  # fmt: skip
    if not no_auth and not tokens:
        raise UsageError("no tokens: set AGENTRUN_SERVER_TOKEN, or pass --tokens-file FILE "
                         "(or --no-auth on a loopback address)")  # fmt: skip
    settings = ServerSettings(
        data_dir=state(ctx).data_dir, tokens=tokens, auth=not no_auth, max_runs=max_runs,
        max_body_bytes=int(max_body_mb * MB), max_document_bytes=int(max_document_mb * MB),
    )  # fmt: skip
    try:
        import uvicorn

        from agentrun.server.app import create_app
    except ImportError as exc:
        raise ConfigError(f"the server needs the `server` extra ({exc.name} is missing): "
                          'pip install "agentrun[server]"') from None  # fmt: skip
    app = create_app(folder, settings)
    clients = "no token (loopback)" if no_auth else f"{len(tokens)} client token(s)"
    err_console().print(
        f"serving {folder.resolve()} and the registered workflows on http://{host}:{port} "
        f"({clients}); API docs at /docs, pages at /ui",
        markup=False,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
