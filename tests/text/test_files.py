"""Reading user files: UTF-8 first, then a declared encoding, else an error naming the file."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from agentrun.errors import InputFileError
from agentrun.text.files import read_text_file

TEXT = "Café in Zürich, 東京, 🙂"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (TEXT.encode("utf-8"), TEXT),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), TEXT),
        (TEXT.encode("utf-16"), TEXT),
        ("# -*- coding: latin-1 -*-\nCafé".encode("latin-1"), "# -*- coding: latin-1 -*-\nCafé"),
        (
            '<meta charset="windows-1252">Caf\xe9'.encode("cp1252"),
            '<meta charset="windows-1252">Café',
        ),
    ],
)
def test_text_is_decoded(data: bytes, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "doc.txt"
    path.write_bytes(data)
    assert read_text_file(path) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("Café".encode("latin-1"), "is not UTF-8 (byte 0xe9 at offset 3) and declares no encoding"),
        (b"# coding: klingon\nCaf\xe9", "its encoding 'klingon' (as the file declares) is unknown"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary file"),
    ],
)
def test_undecodable_files_name_the_file(data: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "doc.bin"
    path.write_bytes(data)
    with pytest.raises(InputFileError, match=r"doc\.bin") as caught:
        read_text_file(path)
    assert message in str(caught.value)
