"""Reading user files as text: UTF-8 first, then an encoding the file declares, else an error.

A declared encoding is a byte-order mark, an Emacs/Vim/Python `coding:` line, an XML prolog
`encoding="..."` or an HTML `charset=` in the first 1,024 bytes. Binary files (NUL bytes) and
files that match neither are refused with a message naming the file.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

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


def declared_encoding(head: bytes) -> str | None:
    """A byte-order mark's encoding, else one declared in the first lines, if Python knows it."""
    bom = bom_encoding(head)
    if bom is not None:
        return bom
    first_lines = b"\n".join(head.splitlines()[:5])[:2048]
    found = _DECLARATION.search(first_lines)
    if found is None:
        return None
    name = found.group(1).decode("ascii", "replace")
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode(data: bytes, name: str) -> str:
    """Text of a file's bytes; `name` is only for the error message."""
    declared = declared_encoding(data[:1024])
    if declared and declared.startswith(("utf-16", "utf-32")):
        return data.decode(declared)
    if b"\x00" in data[:8192]:
        raise InputFileError(name, "binary file (NUL bytes); give a text, Markdown or PDF file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as utf8_error:
        if declared is None:
            raise InputFileError(
                name,
                f"not UTF-8 (byte {utf8_error.start}) and no encoding declared; "
                "convert it to UTF-8 or declare its charset",
            ) from utf8_error
        try:
            return data.decode(declared)
        except UnicodeDecodeError as exc:
            raise InputFileError(
                name, f"not valid {declared} as it declares ({exc.reason})"
            ) from exc


def read_text_file(path: Path) -> str:
    return decode(path.read_bytes(), str(path))
