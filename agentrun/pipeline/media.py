"""Media paths in pipelines: whose choice a path is decides where it may lead.

A path the caller passes as a pipeline input of type `video` or `images` (`agentrun run --input
video=@talk.mp4`, or `Pipeline.run({"video": path})`) is the caller's own choice, like a file
they open themselves: a workflow receives it as given (the command line makes it absolute). Any
other path that reaches a workflow's media input (`VideoPath`, `ImagesPath` fields) is
untrusted, like the paths file tools take: written in the spec (a literal, or an input's
`default`) or made by a template from a model's reply, it must be relative and lie inside the
pipeline's folders (its own, `files.roots`, `--allow-dir`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agentrun.errors import FileOutsideRootsError, UsageError
from agentrun.media.source import media_fields, open_source
from agentrun.pipeline.spec import InputSpec
from agentrun.tools.sandbox import FileRoots

MEDIA_INPUTS = frozenset({"video", "images"})


def given_path(raw: str, kind: str, option: str) -> str:
    """A `video`/`images` value given on the command line (`@path` or `path`), absolute, and
    checked (a missing, empty, corrupt or truncated file is refused before the run starts)."""
    path = Path(raw.removeprefix("@")).expanduser()
    if not path.exists():
        raise UsageError(f"{option}={raw}: no such file or folder; check the path")
    open_source(path, "video" if kind == "video" else "images")
    return str(path.resolve())


def caller_paths(declared: Mapping[str, InputSpec], values: Mapping[str, Any]) -> set[str]:
    """The media paths the caller passed (an input left at the spec's default is the spec's)."""
    return {
        str(values[name])
        for name, spec in declared.items()
        if spec.type in MEDIA_INPUTS and name in values and values[name] != spec.default
    }


def checked_media_inputs(
    inputs_model: type[BaseModel],
    rendered: Mapping[str, str],
    trusted: set[str],
    roots: FileRoots,
) -> dict[str, str]:
    """A workflow step's rendered inputs, each media path either one the caller passed or
    resolved inside `roots` (else a `UsageError` naming the input and the fix)."""
    checked = dict(rendered)
    for name in media_fields(inputs_model):
        value = rendered.get(name, "").strip()
        if not value or value == "None" or value in trusted:
            continue
        try:
            checked[name] = str(roots.resolve(value))
        except FileOutsideRootsError as exc:
            raise UsageError(
                f"input {name!r}: path {exc.path!r} was not passed by the caller as a video or "
                f"images input, so it must be relative to and inside {', '.join(exc.roots)}; "
                "pass it with --input NAME=@PATH (an input of type video or images), or allow "
                "its folder with `files: {roots: [DIR]}` or --allow-dir DIR"
            ) from None
    return checked
