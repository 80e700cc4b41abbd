"""File roots: a path is relative and resolves, symlinks followed, inside an allowed folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentrun.errors import FileOutsideRootsError, UsageError
from agentrun.tools.sandbox import FileRoots


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """spec/ (notes.txt, sub/inner.txt), extra/ (shared.txt) and outside/secret.txt."""
    (tmp_path / "spec" / "sub").mkdir(parents=True)
    (tmp_path / "spec" / "notes.txt").write_text("notes", encoding="utf-8")
    (tmp_path / "spec" / "sub" / "inner.txt").write_text("inner", encoding="utf-8")
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "shared.txt").write_text("shared", encoding="utf-8")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/etc/passwd", "is absolute"),
        ("../outside/secret.txt", "leads outside the allowed folders"),
        ("sub/../../outside/secret.txt", "leads outside the allowed folders"),
        ("../../../../../../../../etc/passwd", "leads outside the allowed folders"),
        ("", "is empty"),
        ("bad\x00name", "is not usable"),
    ],
)
def test_absolute_paths_and_escapes_are_refused_naming_the_roots(
    tree: Path, path: str, reason: str
) -> None:
    roots = FileRoots.of([tree / "spec"])
    with pytest.raises(FileOutsideRootsError) as caught:
        roots.resolve(path)
    message = str(caught.value)
    assert reason in message and str(tree / "spec") in message
    assert "--allow-dir" in message and "files: {roots:" in message
    assert isinstance(caught.value, UsageError)


def test_an_absolute_path_inside_the_root_is_still_refused(tree: Path) -> None:
    with pytest.raises(FileOutsideRootsError, match="is absolute"):
        FileRoots.of([tree / "spec"]).resolve(str(tree / "spec" / "notes.txt"))


def test_relative_paths_inside_resolve(tree: Path) -> None:
    roots = FileRoots.of([tree / "spec"])
    assert roots.resolve("notes.txt") == tree / "spec" / "notes.txt"
    assert roots.resolve("sub/../notes.txt") == tree / "spec" / "notes.txt"
    assert roots.resolve("missing.txt") == tree / "spec" / "missing.txt"


def test_a_symlink_out_of_the_root_is_refused_and_one_within_is_followed(tree: Path) -> None:
    spec = tree / "spec"
    (spec / "escape.txt").symlink_to(tree / "outside" / "secret.txt")
    (spec / "escape_dir").symlink_to(tree / "outside", target_is_directory=True)
    (spec / "dangling").symlink_to(tree / "outside" / "not-yet.txt")
    (spec / "alias.txt").symlink_to(spec / "sub" / "inner.txt")
    roots = FileRoots.of([spec])
    for path in ("escape.txt", "escape_dir/secret.txt", "dangling"):
        with pytest.raises(FileOutsideRootsError, match="leads outside"):
            roots.resolve(path)
    assert roots.resolve("alias.txt") == spec / "sub" / "inner.txt"


def test_a_symlinked_root_is_its_target(tree: Path) -> None:
    (tree / "link").symlink_to(tree / "spec", target_is_directory=True)
    roots = FileRoots.of([tree / "link"])
    assert roots.resolve("notes.txt") == tree / "spec" / "notes.txt"


def test_an_extra_root_is_searched_after_the_first(tree: Path) -> None:
    roots = FileRoots.under(tree / "spec", ["../extra"])
    assert roots.roots == (tree / "spec", tree / "extra")
    assert roots.resolve("shared.txt") == tree / "extra" / "shared.txt"
    assert roots.resolve("notes.txt") == tree / "spec" / "notes.txt"
    assert roots.resolve("../extra/shared.txt") == tree / "extra" / "shared.txt"
    with pytest.raises(FileOutsideRootsError, match="leads outside"):
        roots.resolve("../outside/secret.txt")
