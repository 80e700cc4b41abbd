"""A video file or a folder of images as one source of timed frames, read window by window.

Long-video workflows never hold a whole video: they plan windows from the source's duration,
then read each window's frames when they need them (`VideoSource` seeks to the window and
decodes only it; `ImageFolder` reads only the images whose times fall in it). Reading a window
twice gives the same frames, so a run keeps timestamps, never pictures, and a resumed run reads
what the first one read. `fingerprint` names a source by its content, so what a workflow stores
about a video (captions, on-screen text) is found again for the same file under another name.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Protocol, get_args, get_origin

from pydantic import BaseModel

from agentrun.errors import InputFileError, UsageError
from agentrun.media.container import MediaLimits, checked_file
from agentrun.media.frames import Frame
from agentrun.media.images import image_files, read_image
from agentrun.media.video import Sampling, iter_video_frames, probe_video

SourceKind = Literal["video", "images"]
#: Bytes hashed from each of the spread-out places of a large file.
SAMPLE_BYTES = 1 << 20
SAMPLES = 32


@dataclass(frozen=True)
class MediaPathMarker:
    """Marks an input field that names a media file or folder (`VideoPath`, `ImagesPath`), so
    that pipelines can check where a path given to a workflow comes from (see
    `agentrun.pipeline.media`) and declare the input with its kind."""

    kind: SourceKind


#: A workflow input naming a video file.
VideoPath = Annotated[Path, MediaPathMarker("video")]
#: A workflow input naming a folder of images.
ImagesPath = Annotated[Path, MediaPathMarker("images")]


def media_kind(annotation: object) -> SourceKind | None:
    """The media a type names (`VideoPath`, `ImagesPath | None`, ...), or None."""
    if get_origin(annotation) is Annotated:
        for extra in get_args(annotation)[1:]:
            if isinstance(extra, MediaPathMarker):
                return extra.kind
    return next(filter(None, map(media_kind, get_args(annotation))), None)


def media_fields(model: type[BaseModel]) -> list[str]:
    """The fields of an inputs model that name media files or folders."""
    return [
        name
        for name, field in model.model_fields.items()
        if any(isinstance(extra, MediaPathMarker) for extra in field.metadata)
        or media_kind(field.annotation) is not None
    ]


@dataclass(frozen=True)
class Window:
    """One stretch of a source, start <= t < end seconds."""

    index: int
    start: float
    end: float


def windows(duration: float, seconds: float) -> list[Window]:
    """Consecutive windows of `seconds` covering `duration` (the last one cut at the end)."""
    if not seconds > 0:
        raise UsageError(f"segment length must be positive, not {seconds}")
    count = max(1, math.ceil(duration / seconds - 1e-9))
    return [Window(k, k * seconds, min((k + 1) * seconds, duration)) for k in range(count)]


class Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


def file_fingerprint(path: Path, digest: Digest) -> None:
    """Feed a file's size and content into `digest`: all of a small file, and SAMPLES pieces
    spread over a large one (enough to tell videos apart, in milliseconds for gigabytes)."""
    size = path.stat().st_size
    digest.update(f"{size}:".encode())
    with path.open("rb") as handle:
        if size <= SAMPLE_BYTES * SAMPLES:
            for block in iter(lambda: handle.read(SAMPLE_BYTES), b""):
                digest.update(block)
            return
        step = (size - SAMPLE_BYTES) // (SAMPLES - 1)
        for number in range(SAMPLES):
            handle.seek(number * step)
            digest.update(handle.read(SAMPLE_BYTES))


class MediaSource(Protocol):
    """Timed frames from a video or a set of images."""

    @property
    def kind(self) -> SourceKind: ...

    @property
    def path(self) -> Path: ...

    @property
    def duration(self) -> float: ...

    @property
    def has_audio(self) -> bool: ...

    def fingerprint(self) -> str: ...

    def frames(self, window: Window, sampling: Sampling) -> Iterator[Frame]: ...

    def stamp(self) -> tuple[int, int]: ...


@dataclass(frozen=True)
class VideoSource:
    """A video file, checked once when opened (`probe_video`)."""

    path: Path
    duration: float
    has_audio: bool
    limits: MediaLimits
    kind: SourceKind = "video"

    def fingerprint(self) -> str:
        digest = hashlib.blake2b(b"video:", digest_size=10)
        file_fingerprint(self.path, digest)
        return digest.hexdigest()

    def frames(self, window: Window, sampling: Sampling) -> Iterator[Frame]:
        return iter_video_frames(
            self.path, sampling, self.limits, start=window.start, end=window.end
        )

    def stamp(self) -> tuple[int, int]:
        """Size and modification time: what a run checks to see the file did not change."""
        status = self.path.stat()
        return status.st_size, status.st_mtime_ns


@dataclass(frozen=True)
class ImageFolder:
    """The images of a folder in natural name order, `rate` a second (the i-th at i / rate)."""

    path: Path
    files: tuple[Path, ...]
    rate: float
    limits: MediaLimits
    kind: SourceKind = "images"
    has_audio: bool = False

    @property
    def duration(self) -> float:
        return len(self.files) / self.rate

    def fingerprint(self) -> str:
        digest = hashlib.blake2b(f"images:{self.rate}:".encode(), digest_size=10)
        for file in self.files:
            digest.update(file.name.encode() + b"\0")
            file_fingerprint(file, digest)
        return digest.hexdigest()

    def frames(self, window: Window, sampling: Sampling) -> Iterator[Frame]:
        first = math.ceil(window.start * self.rate - 1e-9)
        last = math.ceil(window.end * self.rate - 1e-9)
        for index in range(first, min(last, len(self.files))):
            image = read_image(self.files[index], sampling.max_side, self.limits)
            yield Frame(index / self.rate, image, str(self.files[index]), index)

    def stamp(self) -> tuple[int, int]:
        return len(self.files), max(file.stat().st_mtime_ns for file in self.files)


def open_source(
    path: str | os.PathLike[str],
    kind: SourceKind | None = None,
    *,
    rate: float = 1.0,
    limits: MediaLimits | None = None,
) -> MediaSource:
    """A video file or a folder of images (`kind` None: a folder is images, a file a video);
    a bad file is refused here, by name (`InputFileError`)."""
    limits = limits or MediaLimits()
    where = Path(path).expanduser()
    if kind is None:
        kind = "images" if where.is_dir() else "video"
    if kind == "images":
        if not rate > 0:
            raise UsageError(f"rate must be positive (images per second), not {rate}")
        files = tuple(image_files(where))
        if limits.max_frames is not None and len(files) > limits.max_frames:
            raise InputFileError(
                str(where),
                f"has {len(files)} images, over the {limits.max_frames} frame limit; pass fewer "
                "or raise MediaLimits.max_frames",
            )
        for file in files:
            checked_file(file, limits)
        return ImageFolder(where, files, rate, limits)
    info = probe_video(where, limits)
    return VideoSource(where, info.duration, info.has_audio, limits)
