"""The file tools: read a text file, list a folder, only inside the run's allowed folders.

Every path goes through `FileRoots` first: a relative path that resolves (symlinks followed)
inside an allowed folder, or a `FileOutsideRootsError` before anything is read.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from agentrun.errors import InputFileError
from agentrun.text.files import read_text_file
from agentrun.tools.context import ToolContext
from agentrun.tools.function import tool

#: Entries `file.list` returns at most (a model reads every one of them).
MAX_ENTRIES = 500


@tool(name="file.read")
def file_read(
    path: str, ctx: ToolContext, max_chars: Annotated[int, Field(gt=0)] = 2_000_000
) -> str:
    """Read a text file (UTF-8 or declared encoding).

    Args:
        path: Relative to the pipeline file's folder (or another allowed folder), and inside
            one of them.
        max_chars: Return at most this many characters.
    """
    found = ctx.require_files("file.read").resolve(path)
    if not found.is_file():
        raise InputFileError(str(found), "no such file")
    return read_text_file(found)[:max_chars]


@tool(name="file.list")
def file_list(path: str, ctx: ToolContext) -> list[str]:
    """List a folder: its files, and its folders with a trailing '/'.

    Args:
        path: A folder relative to the allowed folders ('.' for their tops).
    """
    roots = ctx.require_files("file.list")
    folders = [folder for folder in roots.matches(path) if folder.is_dir()]
    if not folders:
        raise InputFileError(path, "no such folder")
    names: set[str] = set()
    for folder in folders:
        for entry in folder.iterdir():
            if roots.contains(entry.resolve()):  # a symlink out of the folders is not shown
                names.add(f"{entry.name}/" if entry.is_dir() else entry.name)
    listed = sorted(names)
    if len(listed) > MAX_ENTRIES:
        return [*listed[:MAX_ENTRIES], f"... and {len(listed) - MAX_ENTRIES} more"]
    return listed


__all__ = ["file_list", "file_read"]
