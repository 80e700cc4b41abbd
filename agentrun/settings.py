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


def cache_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    return data_dir(explicit) / "cache"


def runs_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    return data_dir(explicit) / "runs"
