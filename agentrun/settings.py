"""Where agentrun keeps its files, resolved without touching global state.

Precedence for the data directory: an explicit argument (`--data-dir`), then the
`AGENTRUN_DATA_DIR` environment variable, then the platform's user data directory.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "AGENTRUN_DATA_DIR"
DEFAULT_NAMESPACE = "default"


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data directory (created on first use by whoever writes into it)."""
    if explicit is not None:
        return Path(explicit).expanduser()
    from_env = os.environ.get(DATA_DIR_ENV)
    if from_env:
        return Path(from_env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("agentrun"))


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) readable by the owner only, and return it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def write_private(path: Path, text: str) -> Path:
    """Write `path` readable by the owner only, whole or not at all (via a temporary file)."""
    private_dir(path.parent)
    tmp = path.with_suffix(f"{path.suffix}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
    return path


def cache_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    return data_dir(explicit) / "cache"


def runs_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    return data_dir(explicit) / "runs"
