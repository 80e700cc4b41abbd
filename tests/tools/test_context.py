"""Tools that use the run: a `ToolContext` parameter is filled in at call time and hidden from
the model; the file tools stay inside the allowed folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentrun.errors import FileOutsideRootsError, InputFileError, ToolCallError, UsageError
from agentrun.tools.context import ToolContext
from agentrun.tools.files import file_list, file_read
from agentrun.tools.function import tool
from agentrun.tools.sandbox import FileRoots


@tool
async def whoami(greeting: str, ctx: ToolContext) -> str:
    """Greet from the run's namespace."""
    return f"{greeting} from {'/'.join(ctx.namespace)}"


@tool
def maybe(ctx: ToolContext | None = None) -> str:
    """Works with or without a run."""
    return "no run" if ctx is None else ctx.run_id


async def test_the_context_is_injected_and_not_in_the_schema() -> None:
    assert list(whoami.parameters["properties"]) == ["greeting"]
    assert whoami.parameters["required"] == ["greeting"]
    context = ToolContext(namespace=("acme", "alice"))
    assert await whoami.call({"greeting": "hi"}, context=context) == "hi from acme/alice"
    with pytest.raises(UsageError, match="uses the run's context; call it with"):
        await whoami.call({"greeting": "hi"})
    assert maybe.parameters["properties"] == {}
    assert await maybe.call({}) == "no run"
    assert await maybe.call({}, context=ToolContext(run_id="r1")) == "r1"


async def test_the_model_cannot_pass_the_context_itself() -> None:
    from agentrun.errors import ToolArgumentsError

    with pytest.raises(ToolArgumentsError, match="ctx: Extra inputs are not permitted"):
        await whoami.call({"greeting": "hi", "ctx": {"namespace": ["other"]}})


@pytest.fixture
def roots(tmp_path: Path) -> FileRoots:
    """a/ (notes.txt, deep/, out -> ../outside) and b/ (more.txt); outside/secret.txt."""
    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / "a" / "notes.txt").write_text("notes", encoding="utf-8")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "more.txt").write_text("more", encoding="utf-8")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret", encoding="utf-8")
    (tmp_path / "a" / "out").symlink_to(tmp_path / "outside")
    return FileRoots.of([tmp_path / "a", tmp_path / "b"])


async def test_file_list_shows_every_allowed_folder_and_nothing_outside(roots: FileRoots) -> None:
    context = ToolContext(files=roots)
    assert await file_list.call({"path": "."}, context=context) == [
        "deep/", "more.txt", "notes.txt",
    ]  # fmt: skip
    assert await file_list.call({"path": "deep"}, context=context) == []
    for escape in ("..", "/etc", "out", "../outside"):
        with pytest.raises((FileOutsideRootsError, InputFileError)):
            await file_list.call({"path": escape}, context=context)
    with pytest.raises(InputFileError, match="no such folder"):
        await file_list.call({"path": "nowhere"}, context=context)


async def test_file_tools_without_folders_refuse() -> None:
    with pytest.raises(ToolCallError, match="allows no folders to read"):
        await file_read.call({"path": "x"}, context=ToolContext())
