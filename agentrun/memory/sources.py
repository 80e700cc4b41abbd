"""Input files for ingestion: which ones, how they decode, and their text as a stream.

Text and Markdown are decoded as UTF-8 first, then with an encoding the file declares (see
`agentrun.text.files`), else refused with an error naming the file. PDF text comes from pypdf,
page by page. Each problem is an `InputFileError` for that one file, so a caller can report it
and go on with the others.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from agentrun.errors import InputFileError
from agentrun.memory.documents import digest_id
from agentrun.text.files import bom_encoding, declared_encoding

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".rst", ".text"})
PDF_SUFFIXES = frozenset({".pdf"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | PDF_SUFFIXES
BLOCK_BYTES = 1 << 20
HEAD_BYTES = 1 << 16

_PARAGRAPH_END = re.compile(r"\n[ \t]*\n\s*")


@dataclass(frozen=True)
class Skipped:
    """A file left out of a directory walk (not text, Markdown or PDF), or a directory whose
    hidden entries were."""

    path: Path
    reason: str


@dataclass(frozen=True)
class SourceFile:
    """A readable input: its decoded text's hash (the document id), size and encoding."""

    path: Path
    kind: str  # "text" or "pdf"
    encoding: str
    sha256: str
    chars: int
    size: int

    @property
    def doc_id(self) -> str:
        """The same id `documents.document_id` gives the text."""
        return digest_id(self.sha256)


def collect(paths: Iterable[str | Path]) -> tuple[list[Path], list[Skipped], list[InputFileError]]:
    """Files to read (directories walked in sorted order), files skipped, and missing paths.

    Hidden entries (names starting with a dot: `.git`, `.DS_Store`) of a directory are left
    out, as one `Skipped` line per directory that counts them; naming one ingests it."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    missing: list[InputFileError] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found, hidden_files, hidden_folders = _walk(path)
            for candidate in found:
                if candidate.suffix.lower() in SUPPORTED_SUFFIXES:
                    files.append(candidate)
                else:
                    skipped.append(Skipped(candidate, "not a text, Markdown or PDF file"))
            if hidden_files or hidden_folders:
                skipped.append(Skipped(path, _hidden_reason(hidden_files, hidden_folders)))
        elif path.is_file():
            files.append(path)
        elif path.exists():
            missing.append(InputFileError(str(path), "not a regular file"))
        else:
            missing.append(InputFileError(str(path), "no such file or directory"))
    return files, skipped, missing


def _walk(root: Path) -> tuple[list[Path], int, int]:
    """(files below `root` in sorted order, hidden files, hidden folders), never entering a
    hidden folder."""
    files: list[Path] = []
    hidden_files = hidden_folders = 0
    for folder, dirs, names in os.walk(root):
        hidden_folders += sum(d.startswith(".") for d in dirs)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        hidden_files += sum(n.startswith(".") for n in names)
        files += [Path(folder, n) for n in names if not n.startswith(".")]
    return sorted(p for p in files if p.is_file()), hidden_files, hidden_folders


def _hidden_reason(files: int, folders: int) -> str:
    counts = [f"{n} hidden {what}{'' if n == 1 else 's'}"
              for n, what in ((files, "file"), (folders, "folder")) if n]  # fmt: skip
    return f"{' and '.join(counts)} left out (names starting with '.'); name a file to ingest it"


def _decoded_blocks(path: Path, encoding: str) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    with path.open("rb") as handle:
        while block := handle.read(BLOCK_BYTES):
            yield decoder.decode(block)
    yield decoder.decode(b"", final=True)


def _measure(path: Path, encoding: str) -> tuple[str, int, bool]:
    """(sha256 of the text as UTF-8, characters, whether any is not whitespace)."""
    digest = hashlib.sha256()
    chars = 0
    content = False
    for text in _decoded_blocks(path, encoding):
        digest.update(text.encode("utf-8"))
        chars += len(text)
        content = content or bool(text.strip())
    return digest.hexdigest(), chars, content


def _open_text(path: Path, size: int) -> SourceFile:
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    bom = bom_encoding(head)
    if bom is None and b"\x00" in head:
        raise InputFileError(
            str(path), "binary file (it contains NUL bytes); only text, Markdown and PDF ingest"
        )
    candidates = [bom] if bom else ["utf-8"]
    declared = None if bom else declared_encoding(head)
    if declared and declared != "utf-8":
        candidates.append(declared)
    error: UnicodeDecodeError | None = None
    for encoding in candidates:
        try:
            sha, chars, content = _measure(path, encoding)
        except UnicodeDecodeError as exc:
            error = error or exc
            continue
        if not content:
            raise InputFileError(str(path), "empty file (no text to ingest)")
        return SourceFile(path, "text", encoding, sha, chars, size)
    assert error is not None
    tried = " or ".join(candidates)
    raise InputFileError(
        str(path),
        f"cannot decode as {tried} ({error.reason} at byte {error.start}) and no other encoding "
        "is declared (byte order mark, or `coding:` / `charset=` in the first lines); convert "
        "it to UTF-8, e.g. `iconv -f latin1 -t utf-8`",
    )


def _pdf_pages(path: Path) -> list[str]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InputFileError(str(path), "the PDF is password-protected; decrypt it first")
        return [page.extract_text() or "" for page in reader.pages]
    except InputFileError:
        raise
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise InputFileError(str(path), f"not a readable PDF ({exc})") from exc


def _open_pdf(path: Path, size: int) -> SourceFile:
    text = "\n\n".join(_pdf_pages(path))
    if not text.strip():
        raise InputFileError(str(path), "the PDF has no extractable text (scanned? OCR it first)")
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return SourceFile(path, "pdf", "pdf", sha, len(text), size)


def open_source(path: Path, max_mb: float) -> SourceFile:
    """Check one file (size, emptiness, encoding) and measure it; `InputFileError` if unusable."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputFileError(str(path), f"cannot read it ({exc.strerror})") from exc
    if size > max_mb * 2**20:
        raise InputFileError(
            str(path),
            f"{size / 2**20:.3g} MB is over the {max_mb:g} MB limit; raise --max-file-mb or "
            "split the file",
        )
    if size == 0:
        raise InputFileError(str(path), "empty file (no text to ingest)")
    try:
        if path.suffix.lower() in PDF_SUFFIXES:
            return _open_pdf(path, size)
        return _open_text(path, size)
    except PermissionError as exc:
        raise InputFileError(str(path), "permission denied") from exc


def text_blocks(source: SourceFile, min_chars: int = BLOCK_BYTES) -> Iterator[tuple[int, str]]:
    """(offset, text) blocks of about `min_chars` (cut at the first paragraph break past it),
    so a file of any size is chunked without holding all of it."""
    if source.kind == "pdf":
        yield 0, "\n\n".join(_pdf_pages(source.path))
        return
    pending = ""
    offset = 0
    for text in _decoded_blocks(source.path, source.encoding):
        pending += text
        while len(pending) > min_chars:
            cut = _PARAGRAPH_END.search(pending, min_chars)
            if cut is None or cut.end() >= len(pending):
                break  # wait for more text (or the end of the file)
            yield offset, pending[: cut.end()]
            offset += cut.end()
            pending = pending[cut.end() :]
    if pending:
        yield offset, pending
