"""Where agentrun keeps its files, resolved without touching global state.

Precedence for the data directory: an explicit argument (`--data-dir`), then the
`AGENTRUN_DATA_DIR` environment variable, then the platform's user data directory.

Everything under it (checkpoints, the memory store, run records, cached replies) holds whole
documents and model output, so it is made owner-only as it is created, without touching the
process umask (agentrun is also a library inside other programs).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import typing
from pathlib import Path

DATA_DIR_ENV = "AGENTRUN_DATA_DIR"
DEFAULT_NAMESPACE = "default"
#: Modes of everything agentrun writes under the data directory: readable by the owner only.
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


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
    """Create `path`, and each missing parent, readable by the owner only (0700); return it.

    `mkdir(parents=True)` would give the parents the umask's modes, so each is made in turn;
    the mode is set after creating, as the umask may also take bits from 0700. Folders that
    already exist are left as they are."""
    missing: list[Path] = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue  # made meanwhile by another thread or process
        folder.chmod(PRIVATE_DIR)
    return path


@typing.overload
def open_private(path: Path, mode: typing.Literal["w", "a"] = "w") -> typing.TextIO: ...
@typing.overload
def open_private(path: Path, mode: typing.Literal["wb", "ab"]) -> typing.BinaryIO: ...
def open_private(path: Path, mode: str = "w") -> typing.IO[typing.Any]:
    """Open `path` to write or append (UTF-8 text unless `mode` has `b`), as a file only the
    owner can read: created 0600, and narrowed to 0600 if it existed with wider modes."""
    private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
        return os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8")
    except BaseException:
        os.close(fd)
        raise


def write_private(path: Path, text: str) -> Path:
    """Replace `path` with `text` atomically (readers never see half a file), owner-only."""
    private_dir(path.parent)
    fd, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # made 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
    return path


def narrow_tree(root: Path) -> None:
    """Make `root` and everything in it owner-only (folders 0700, files 0600), for files that
    another library created with its own modes. Symbolic links are not followed."""
    for folder, folders, files in os.walk(root):
        for name in [*folders, *files]:
            narrow(Path(folder, name))
    narrow(root)


def narrow(path: Path) -> None:
    """Make one folder 0700 or one file 0600 (anything else, links included, is left alone)."""
    with contextlib.suppress(FileNotFoundError):  # a file its library removed meanwhile
        info = path.lstat()
        if stat.S_ISDIR(info.st_mode):
            wanted = PRIVATE_DIR
        elif stat.S_ISREG(info.st_mode):
            wanted = PRIVATE_FILE
        else:
            return
        if stat.S_IMODE(info.st_mode) != wanted:
            path.chmod(wanted)


def cache_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    return data_dir(explicit) / "cache"


def runs_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    return data_dir(explicit) / "runs"
