"""Reading user files as text: UTF-8 first, then an encoding given or declared, else an error.

A declared encoding is a byte-order mark, or a `coding:` (Emacs, Vim, Python), `encoding="..."`
(XML) or `charset=` (HTML) declaration in the first lines. Binary files (NUL bytes) and files
that decode neither way are refused with a message naming the file and the fix. Every reader of
user files (ingest, pipelines, retrieve-then-reason, eval loaders) goes through here.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentrun.errors import InputFileError

_DECLARATION = re.compile(
    rb"""(?:coding[:=]\s*|charset\s*=\s*["']?|encoding\s*=\s*["'])([-\w.]+)""", re.IGNORECASE
)
_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def bom_encoding(head: bytes) -> str | None:
    """The encoding a byte-order mark at the start of `head` names, if any."""
    return next((name for bom, name in _BOMS if head.startswith(bom)), None)


def declared_name(head: bytes) -> str | None:
    """The encoding name declared in the first lines, as written (it may be unknown)."""
    first_lines = b"\n".join(head.splitlines()[:5])[:2048]
    found = _DECLARATION.search(first_lines)
    return found.group(1).decode("ascii", "replace") if found else None


def declared_encoding(head: bytes) -> str | None:
    """A byte-order mark's encoding, else one declared in the first lines, if Python knows it."""
    bom = bom_encoding(head)
    if bom is not None:
        return bom
    name = declared_name(head)
    if name is None:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode(data: bytes, name: str, encoding: str | None = None) -> str:
    """Text of a file's bytes; `name` is only for error messages."""
    bom = bom_encoding(data[:4])
    if bom is not None and bom.startswith(("utf-16", "utf-32")):
        return data.decode(bom)
    if encoding is None and b"\x00" in data[:8192]:
        raise InputFileError(name, "binary file (NUL bytes); give a text, Markdown or PDF file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = f"byte 0x{data[exc.start]:02x} at offset {exc.start}"
    chosen, how = encoding, "as given"
    if chosen is None:
        chosen, how = declared_name(data[:2048]), "as the file declares"
    if chosen is None:
        raise InputFileError(
            name,
            f"is not UTF-8 ({bad}) and declares no encoding; convert it to UTF-8 "
            "(e.g. iconv -f latin1 -t utf-8) or pass its encoding",
        )
    try:
        return data.decode(chosen)
    except LookupError:
        raise InputFileError(
            name, f"its encoding {chosen!r} ({how}) is unknown; convert it to UTF-8"
        ) from None
    except UnicodeDecodeError as exc:
        raise InputFileError(
            name,
            f"is neither UTF-8 ({bad}) nor valid {chosen} ({how}; byte at offset {exc.start}); "
            "convert it to UTF-8",
        ) from None


def read_text_file(path: str | os.PathLike[str], encoding: str | None = None) -> str:
    """A text file's content: UTF-8 first, then `encoding` or the one the file declares."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise InputFileError(str(file), "no such file") from None
    except IsADirectoryError:
        raise InputFileError(str(file), "is a directory, not a file") from None
    except OSError as exc:
        raise InputFileError(str(file), f"cannot be read ({exc.strerror})") from None
    return decode(data, str(file), encoding)


def json_objects(path: str | os.PathLike[str], text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSON Lines text read from `path`; a
    line that is not a JSON object is an `InputFileError` naming `path:line`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputFileError(
                f"{path}:{number}", f"not valid JSON ({exc.msg}); write one JSON object per line"
            ) from exc
        if not isinstance(value, dict):
            raise InputFileError(f"{path}:{number}", "each line must be a JSON object")
        yield number, value
