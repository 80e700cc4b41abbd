"""Long pipeline inputs, stored once by content and named by reference everywhere else.

Graph state is written to every checkpoint, and a run's inputs to its record, so a whole document
kept there is copied again and again. A text input longer than `INLINE_MAX_CHARS` is written once
to `<data dir>/blobs/<sha256>` (owner-only) and replaced by a small reference; templates see the
text again (`resolve`), so specs do not change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentrun.errors import UsageError
from agentrun.settings import write_private

#: Inputs up to this many characters stay inline (names, questions, small lists).
INLINE_MAX_CHARS = 4096
#: The key of a reference: {"$blob": "<sha256>", "chars": <length>}.
REFERENCE_KEY = "$blob"


def is_reference(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get(REFERENCE_KEY), str)


class BlobStore:
    """Content-addressed texts under `<root>/blobs/`, read back once per process."""

    def __init__(self, root: Path) -> None:
        self.folder = root / "blobs"
        self._texts: dict[str, str] = {}

    def put(self, text: str) -> dict[str, Any]:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        path = self.folder / digest
        if not path.is_file():
            write_private(path, text)
        self._texts[digest] = text
        return {REFERENCE_KEY: digest, "chars": len(text)}

    def get(self, reference: Mapping[str, Any]) -> str:
        digest = str(reference[REFERENCE_KEY])
        text = self._texts.get(digest)
        if text is None:
            path = self.folder / digest
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise UsageError(
                    f"{path}: a stored input of this run is missing; a run resumes only with the "
                    "data directory it started with"
                ) from exc
            self._texts[digest] = text
        return text

    def stash(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """`inputs` with each long text replaced by its reference."""
        return {
            name: self.put(value)
            if isinstance(value, str) and len(value) > INLINE_MAX_CHARS
            else value
            for name, value in inputs.items()
        }

    def resolve(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """`inputs` with each reference replaced by its text."""
        return {
            name: self.get(value) if is_reference(value) else value
            for name, value in inputs.items()
        }
