"""Opening audio and video files with PyAV so that bad input is one clear error, never a traceback.

What is cheap is checked before anything is decoded: the file exists, is not empty and not over
`MediaLimits.max_bytes`; ffmpeg recognises it; its declared duration and frame size are within the
limits. Every PyAV error while opening, demuxing or decoding becomes an `InputFileError` naming the
file and the fix. ffmpeg reports some damage only in its log (a file that ends early, corrupt
macroblocks), so that log is captured while a file is open and `MediaFile.check_errors` turns it
into the same error. ffmpeg's log is process-wide: files decoded at once in several threads may
see each other's errors.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agentrun.errors import ConfigError, InputFileError

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.error import FFmpegError

VIDEO_HINT = 'pip install "agentrun[video]"'
GIB = 1024**3
REENCODE_HINT = "re-encode it (ffmpeg -i IN -c:v libx264 -c:a aac OUT.mp4)"
_FFMPEG_ERROR_LEVEL = 16  # AV_LOG_ERROR: levels at or below it are damage, above it chatter


@dataclass(frozen=True)
class MediaLimits:
    """Bounds on one input, checked before decoding where the container declares the numbers.

    `max_frames` bounds the frames a sequence keeps (its memory is about max_frames times one
    downscaled frame); `max_decode_errors` is how many errors ffmpeg may log (corrupt data, an
    early end) before the file is refused. `None` lifts a limit.
    """

    max_bytes: int | None = 4 * GIB
    max_duration_s: float | None = 4 * 3600.0
    max_frames: int | None = 512
    max_frame_pixels: int | None = 7680 * 4320
    max_decode_errors: int = 0


def require_av() -> None:
    """A configuration error saying how to install PyAV, unless it is installed."""
    if importlib.util.find_spec("av") is None:
        raise ConfigError(f"video input needs PyAV: {VIDEO_HINT}")


def checked_file(path: str | os.PathLike[str], limits: MediaLimits) -> Path:
    """`path` if it is a non-empty regular file within the size limit."""
    file = Path(path)
    try:
        size = file.stat().st_size
    except FileNotFoundError:
        raise InputFileError(str(file), "no such file; check the path") from None
    except OSError as exc:
        raise InputFileError(str(file), f"cannot be read ({exc.strerror})") from None
    if file.is_dir():
        raise InputFileError(
            str(file), "is a directory; pass a video file (images in a folder: load_images)"
        )
    if size == 0:
        raise InputFileError(str(file), "is empty; pass a complete video file")
    if limits.max_bytes is not None and size > limits.max_bytes:
        raise InputFileError(
            str(file),
            f"is {file_size(size)}, over the {file_size(limits.max_bytes)} limit; cut it "
            "(ffmpeg -ss START -t SECONDS -c copy OUT) or raise MediaLimits.max_bytes",
        )
    return file


def file_size(size: int) -> str:
    """A byte count for people: 900 bytes, 12.3 KiB, 4.0 GiB."""
    if size < 1024:
        return f"{size} bytes"
    amount = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        amount /= 1024
        if amount < 1024 or unit == "GiB":
            break
    return f"{amount:,.1f} {unit}"


@dataclass
class MediaFile:
    """An open container and the errors ffmpeg has logged since it was opened."""

    path: Path
    container: InputContainer
    logged: list[tuple[int, str, str]]
    limits: MediaLimits

    @property
    def name(self) -> str:
        return str(self.path)

    @property
    def origin_s(self) -> float:
        """The container's start time: timestamps are seconds after it, as a player shows."""
        start = self.container.start_time
        return start / 1_000_000 if start is not None and start > 0 else 0.0

    @property
    def duration_s(self) -> float | None:
        duration = self.container.duration
        return duration / 1_000_000 if duration is not None and duration > 0 else None

    def errors(self) -> list[str]:
        return [
            f"[{name}] {message.strip().rstrip('.')}"
            for level, name, message in list(self.logged)
            if level <= _FFMPEG_ERROR_LEVEL
        ]

    def decode_failed(self, message: str) -> None:
        """Count an error raised while reading or decoding as one ffmpeg logged."""
        self.logged.append((_FFMPEG_ERROR_LEVEL, "decode", message))

    def check_errors(self) -> None:
        """Refuse the file once ffmpeg has logged more errors than the limit allows."""
        errors = self.errors()
        if len(errors) > self.limits.max_decode_errors:
            count = f"{len(errors)} error{'s' if len(errors) > 1 else ''}"
            raise InputFileError(
                self.name,
                f"is corrupt or truncated (ffmpeg logged {count}, first: {errors[0]}); "
                f"{REENCODE_HINT} or raise MediaLimits.max_decode_errors",
            )

    def check_duration(self) -> None:
        duration = self.duration_s
        limit = self.limits.max_duration_s
        if limit is not None and duration is not None and duration > limit:
            raise InputFileError(self.name, duration_over(duration, limit))


def duration_over(duration_s: float, limit_s: float) -> str:
    return (
        f"lasts {duration_s:,.0f} s, over the {limit_s:,.0f} s limit; cut it "
        "(ffmpeg -ss START -t SECONDS) or raise MediaLimits.max_duration_s"
    )


@contextmanager
def _ffmpeg_log() -> Iterator[list[tuple[int, str, str]]]:
    """Capture ffmpeg's error log (all threads: decoders log from their own) while in the block."""
    import av.logging

    previous = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture(local=False) as logged:
            yield logged
    finally:
        av.logging.set_level(previous)


@contextmanager
def open_media(path: str | os.PathLike[str], limits: MediaLimits) -> Iterator[MediaFile]:
    """Open `path` for decoding; any PyAV error inside the block becomes an `InputFileError`."""
    file = checked_file(path, limits)
    require_av()
    import av

    container = None
    try:
        with _ffmpeg_log() as logged:
            try:
                container = av.open(str(file), mode="r", metadata_errors="ignore")
            except av.FFmpegError as exc:
                raise InputFileError(
                    str(file),
                    f"is not a video or audio file ffmpeg can read ({_reason(exc)}); pass a "
                    f"complete mp4, mkv, webm, mov or avi file, or {REENCODE_HINT}",
                ) from None
            media = MediaFile(file, container, logged, limits)
            try:
                media.check_duration()
                yield media
            except av.FFmpegError as exc:
                raise InputFileError(
                    str(file), f"is corrupt or truncated ({_reason(exc)}); {REENCODE_HINT}"
                ) from None
    finally:
        # Closed once ffmpeg's log no longer calls into Python: a decoder closed part way joins
        # its threads, and one of them logging then would wait for the lock close holds.
        if container is not None:
            container.close()


def _reason(exc: FFmpegError) -> str:
    """An ffmpeg error's own words and its last log line, without the file name PyAV appends."""
    text = exc.strerror or type(exc).__name__
    last = exc.log[1] if isinstance(exc.log, tuple) and len(exc.log) == 2 else None
    if last and last[2].strip():
        text = f"{text}: [{last[1]}] {last[2].strip()}"
    return text
