"""The folders file tools may read, and the one check every path a pipeline names goes through.

A path comes from a spec or, through templates, from pipeline input, so it is untrusted: it must
be relative, and it must resolve (symlinks followed) inside one of the roots. The roots are the
spec's folder, the folders its `files.roots` names, and those the caller allows
(`agentrun run --allow-dir`, `Pipeline.run(file_roots=...)`); a resumed run keeps its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from agentrun.errors import FileOutsideRootsError


@dataclass(frozen=True)
class FileRoots:
    """Absolute, symlink-free folders; a relative path is looked up in each, in order."""

    roots: tuple[Path, ...]

    @classmethod
    def of(cls, folders: Iterable[str | os.PathLike[str]]) -> FileRoots:
        """Roots from folders as given (relative ones from the working directory)."""
        roots = tuple(dict.fromkeys(Path(folder).expanduser().resolve() for folder in folders))
        if not roots:
            raise ValueError("file roots need at least one folder")
        return cls(roots)

    @classmethod
    def under(cls, folder: Path, named: Iterable[str]) -> FileRoots:
        """`folder` (a spec's own) and the folders `named` relative to it."""
        return cls.of([folder, *(folder / name for name in named)])

    def shown(self) -> tuple[str, ...]:
        return tuple(str(root) for root in self.roots)

    def contains(self, path: Path) -> bool:
        return any(path.is_relative_to(root) for root in self.roots)

    def resolve(self, relative: str) -> Path:
        """The file `relative` names inside the roots: the first root where it exists, else
        the first where it would be. Raises `FileOutsideRootsError` for an absolute path, or
        one that leads outside every root (by `..` or a symlink)."""
        inside = self.matches(relative)
        return next((path for path in inside if path.exists()), inside[0])

    def matches(self, relative: str) -> list[Path]:
        """Where `relative` leads in each root it stays inside (existing or not), in root
        order; `FileOutsideRootsError` as for `resolve`."""
        if not relative.strip():
            raise FileOutsideRootsError(relative, self.shown(), "is empty")
        given = Path(relative)
        if given.is_absolute() or given.drive:
            raise FileOutsideRootsError(relative, self.shown(), "is absolute")
        try:
            candidates = [(root / given).resolve() for root in self.roots]
        except (OSError, RuntimeError, ValueError) as exc:  # a NUL byte, a symlink loop
            raise FileOutsideRootsError(relative, self.shown(), f"is not usable ({exc})") from None
        inside = [path for path in candidates if self.contains(path)]
        if not inside:
            raise FileOutsideRootsError(relative, self.shown(), "leads outside the allowed folders")
        return inside
