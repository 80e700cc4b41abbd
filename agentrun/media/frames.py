"""Frames in time order, from a video or a set of images, and their split into segments.

A `FrameSequence` is what every long-video workflow consumes: RGB frames with timestamps in
seconds, whatever they came from (`agentrun.media.video.load_video`,
`agentrun.media.images.load_images`). Segments are the windows hierarchical captioning and
retrieval work on: fixed spans of time or fixed numbers of frames, with their start and end.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar, overload

from agentrun.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image as PILImage

T = TypeVar("T")


@dataclass(frozen=True)
class Frame:
    """One RGB picture at `timestamp` seconds; `index` is its position in `source`
    (the decoded frame's number in a video, the image's place in a list)."""

    timestamp: float
    image: PILImage.Image
    source: str
    index: int

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size

    def array(self) -> npt.NDArray[np.uint8]:
        """The picture as a height x width x 3 array of bytes."""
        import numpy as np

        return np.asarray(self.image.convert("RGB"), dtype=np.uint8)


@dataclass(frozen=True)
class Segment:
    """The frames of one window of a sequence: `start` <= timestamp < `end` (seconds)."""

    index: int
    start: float
    end: float
    frames: tuple[Frame, ...]

    @property
    def duration(self) -> float:
        return self.end - self.start


def evenly_spaced(items: Sequence[T], count: int) -> list[T]:
    """At most `count` of `items`, spread evenly and keeping the first and the last."""
    if count < 1:
        raise UsageError(f"count must be at least 1, not {count}")
    if len(items) <= count:
        return list(items)
    if count == 1:
        return [items[0]]
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]


def shrunk_size(
    width: int, height: int, max_side: int | None = None, max_pixels: int | None = None
) -> tuple[int, int]:
    """The largest size with the aspect of width x height, its longer side at most `max_side`
    and its area at most `max_pixels`; never larger than it was."""
    scale = 1.0
    if max_side is not None:
        scale = min(scale, max_side / max(width, height))
    if max_pixels is not None:
        scale = min(scale, math.sqrt(max_pixels / (width * height)))
    if scale >= 1.0:
        return width, height
    # Round down (past float noise) so that both bounds hold after rounding.
    return max(1, math.floor(width * scale + 1e-6)), max(1, math.floor(height * scale + 1e-6))


@dataclass(frozen=True)
class FrameSequence(Sequence[Frame]):
    """Frames in time order from one `source`, which lasts `duration` seconds; a sequence of
    `Frame`s wherever one is expected."""

    frames: tuple[Frame, ...]
    source: str
    duration: float

    def __post_init__(self) -> None:
        times = [frame.timestamp for frame in self.frames]
        if any(later < earlier for earlier, later in itertools.pairwise(times)):
            raise UsageError(f"{self.source}: frames must be in time order")
        if times and self.duration < times[-1]:
            raise UsageError(f"{self.source}: duration {self.duration} ends before the last frame")

    def __len__(self) -> int:
        return len(self.frames)

    def __iter__(self) -> Iterator[Frame]:
        return iter(self.frames)

    @overload
    def __getitem__(self, key: int) -> Frame: ...
    @overload
    def __getitem__(self, key: slice) -> tuple[Frame, ...]: ...
    def __getitem__(self, key: int | slice) -> Frame | tuple[Frame, ...]:
        return self.frames[key]

    @property
    def timestamps(self) -> list[float]:
        return [frame.timestamp for frame in self.frames]

    def evenly(self, count: int) -> FrameSequence:
        """At most `count` frames, evenly spread over the sequence."""
        kept = tuple(evenly_spaced(self.frames, count))
        return FrameSequence(kept, self.source, self.duration)

    def between(self, start: float, end: float) -> tuple[Frame, ...]:
        """The frames with start <= timestamp < end."""
        return tuple(f for f in self.frames if start <= f.timestamp < end)

    def segments(self, *, seconds: float | None = None, frames: int | None = None) -> list[Segment]:
        """Split into windows of `seconds` each, or of `frames` frames each (give one).

        Time windows are [k*seconds, (k+1)*seconds), the last one cut at the sequence's end;
        windows holding no frame are left out. A window of `frames` starts at its first frame's
        timestamp and ends where the next window starts (the last at the sequence's end).
        """
        if (seconds is None) == (frames is None):
            raise UsageError("segments: give either seconds or frames")
        if seconds is not None:
            return self._time_segments(seconds)
        assert frames is not None
        return self._count_segments(frames)

    def _time_segments(self, seconds: float) -> list[Segment]:
        if not seconds > 0:
            raise UsageError(f"segments: seconds must be positive, not {seconds}")
        windows = max(1, math.ceil(self.duration / seconds))
        grouped: dict[int, list[Frame]] = {}
        for frame in self.frames:
            grouped.setdefault(min(int(frame.timestamp // seconds), windows - 1), []).append(frame)
        return [
            Segment(index, k * seconds, min((k + 1) * seconds, self.duration), tuple(grouped[k]))
            for index, k in enumerate(sorted(grouped))
        ]

    def _count_segments(self, count: int) -> list[Segment]:
        if count < 1:
            raise UsageError(f"segments: frames must be at least 1, not {count}")
        chunks = [self.frames[i : i + count] for i in range(0, len(self.frames), count)]
        starts = [chunk[0].timestamp for chunk in chunks]
        ends = [*starts[1:], self.duration]
        return [
            Segment(index, start, end, chunk)
            for index, (start, end, chunk) in enumerate(zip(starts, ends, chunks, strict=True))
        ]
