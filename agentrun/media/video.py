"""Frames sampled from a video file at a fixed rate and at scene changes, decoded with PyAV.

Decoding streams: one decoded frame at a time is looked at and only the kept ones (downscaled to
`Sampling.max_side`) are held, so memory depends on how many frames are kept, not on the video.

Scene changes are found cheaply: every decoded frame is shrunk to a 32x32 RGB thumbnail by
ffmpeg's scaler (area averaging), and a frame whose thumbnail differs from the previous decoded
frame's by more than `scene_threshold` (mean absolute difference of the channels, 0..1) starts a
new scene. Hard cuts between different shots score 0.1-0.5; compression noise and slow camera
motion stay well under 0.05. Gradual fades are not cuts and are caught only by the fixed rate.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentrun.errors import InputFileError, UsageError
from agentrun.media.container import (
    REENCODE_HINT,
    MediaFile,
    MediaLimits,
    duration_over,
    open_media,
)
from agentrun.media.frames import Frame, FrameSequence, shrunk_size

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream
    from PIL import Image as PILImage

THUMBNAIL_SIDE = 32
_EPSILON_S = 1e-3  # timestamps within this of a sampling time count as on it


@dataclass(frozen=True)
class Sampling:
    """Which decoded frames to keep.

    `fps`: fixed-rate samples per second (0.5 = one every 2 s), None for none.
    `scene_threshold`: keep the first frame of each scene (see the module notes), None for none.
    `min_gap_s`: with scene detection, a frame less than this after the previous kept one and
    differing from it by under `scene_threshold` is a duplicate and dropped (default: half the
    fixed interval, or 1 s); a scene's first frame thus stands for the fixed-rate sample after it.
    `max_side`: kept frames are downscaled so that their longer side is at most this.
    """

    fps: float | None = 0.5
    scene_threshold: float | None = 0.1
    min_gap_s: float | None = None
    max_side: int | None = 768

    def __post_init__(self) -> None:
        if self.fps is None and self.scene_threshold is None:
            raise UsageError("sampling needs fps, scene_threshold or both")
        if self.fps is not None and not self.fps > 0:
            raise UsageError(f"sampling fps must be positive, not {self.fps}")
        if self.scene_threshold is not None and not 0 < self.scene_threshold < 1:
            raise UsageError(f"scene_threshold must be in (0, 1), not {self.scene_threshold}")
        if self.max_side is not None and self.max_side < 16:
            raise UsageError(f"max_side must be at least 16 pixels, not {self.max_side}")

    @property
    def gap_s(self) -> float:
        if self.min_gap_s is not None:
            return self.min_gap_s
        return 0.5 / self.fps if self.fps is not None else 1.0


def thumbnail(frame: VideoFrame) -> npt.NDArray[np.float32]:
    """The frame as a 32x32 RGB array of floats in 0..1, averaged by ffmpeg's scaler."""
    import numpy as np

    small = frame.reformat(
        width=THUMBNAIL_SIDE, height=THUMBNAIL_SIDE, format="rgb24", interpolation="AREA"
    )
    return small.to_ndarray().astype(np.float32) / 255.0


def difference(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    """Mean absolute difference of two thumbnails, 0 (same) to 1."""
    import numpy as np

    return float(np.abs(a - b).mean())


@dataclass
class _Sampler:
    """Decides, frame by frame, which decoded frames are kept."""

    sampling: Sampling
    next_sample_s: float = 0.0  # the fixed rate's next sampling time
    previous: npt.NDArray[np.float32] | None = None
    kept: npt.NDArray[np.float32] | None = None
    kept_at: float = -math.inf

    def keep(self, timestamp: float, frame: VideoFrame) -> bool:
        fps, threshold = self.sampling.fps, self.sampling.scene_threshold
        on_rate = fps is not None and timestamp >= self.next_sample_s - _EPSILON_S
        if on_rate and fps is not None:
            self.next_sample_s = (math.floor(timestamp * fps + _EPSILON_S) + 1) / fps
        if threshold is None:  # the fixed rate alone: no thumbnails needed
            return on_rate
        thumb = thumbnail(frame)
        cut = self.previous is None or difference(thumb, self.previous) > threshold
        self.previous = thumb
        if not (on_rate or cut):
            return False
        recent = self.kept is not None and timestamp - self.kept_at < self.sampling.gap_s
        if recent and self.kept is not None and difference(thumb, self.kept) <= threshold:
            return False
        self.kept, self.kept_at = thumb, timestamp
        return True


def _video_stream(media: MediaFile) -> VideoStream:
    streams = media.container.streams.video
    if not streams:
        raise InputFileError(media.name, "has no video stream; pass a video file")
    stream = streams[0]
    if stream.codec_context is None:
        raise InputFileError(
            media.name,
            f"its video stream has an unknown codec or a broken header; {REENCODE_HINT}",
        )
    limit = media.limits.max_frame_pixels
    if limit is not None and stream.width * stream.height > limit:
        raise InputFileError(
            media.name,
            f"frames are {stream.width}x{stream.height}, over the {limit:,} pixel limit; "
            "scale it down (ffmpeg -vf scale=1920:-2) or raise MediaLimits.max_frame_pixels",
        )
    # One decoding thread: closing a threaded decoder part way joins its threads, and one of them
    # logging through PyAV's Python callback (installed while any file is open, by any thread)
    # then waits for the GIL that close holds, for ever.
    stream.codec_context.thread_count = 1
    return stream


def _declared_video_s(stream: VideoStream) -> float | None:
    """How long the video stream says it lasts (container-wide durations may count audio)."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    return None


def _check_frame_budget(
    media: MediaFile, sampling: Sampling, start: float = 0.0, end: float | None = None
) -> None:
    """Refuse before decoding when the fixed rate alone would keep more frames than allowed."""
    limit, duration = media.limits.max_frames, media.duration_s
    if limit is None or sampling.fps is None or duration is None:
        return
    expected = math.floor((min(end or duration, duration) - start) * sampling.fps) + 1
    if expected > limit:
        raise InputFileError(media.name, _too_many_frames(limit, f"about {expected}"))


def _too_many_frames(limit: int, kept: str) -> str:
    return (
        f"sampling keeps {kept} frames, over the {limit} frame limit; lower the sampling fps, "
        "raise scene_threshold or raise MediaLimits.max_frames"
    )


def iter_video_frames(
    path: str | os.PathLike[str],
    sampling: Sampling | None = None,
    limits: MediaLimits | None = None,
    *,
    start: float = 0.0,
    end: float | None = None,
) -> Iterator[Frame]:
    """The frames `sampling` keeps from the video at `path`, decoded one at a time.

    With `start`/`end`, only the window start <= timestamp < end is read: the file is sought to
    the keyframe before `start`, so a window of a long video costs its own length to decode. A
    window is sampled as if the video began at `start` (its first frame is always kept, and the
    fixed-rate grid stays that of the whole video), so the same window gives the same frames.
    """
    if start < 0 or (end is not None and end <= start):
        raise UsageError(f"a window needs 0 <= start < end, not {start}..{end}")
    with open_media(path, limits or MediaLimits()) as media:
        yield from _sampled_frames(media, sampling or Sampling(), start, end)


@dataclass(frozen=True)
class VideoInfo:
    """What `probe_video` found: how long the video really lasts, its frame size and rate."""

    path: str
    duration: float
    width: int
    height: int
    fps: float
    has_audio: bool


def probe_video(path: str | os.PathLike[str], limits: MediaLimits | None = None) -> VideoInfo:
    """Check a video without decoding it: it opens, has a video stream within the limits, and
    its packets run to the end it declares (a truncated file is refused here, before a long run
    starts on it). Reading packets costs disk time only, seconds for gigabytes."""
    with open_media(path, limits or MediaLimits()) as media:
        stream = _video_stream(media)
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        last_s = 0.0
        for packet in media.container.demux(stream):
            media.check_errors()
            if packet.pts is not None and packet.time_base is not None:
                ends = (packet.pts + (packet.duration or 0)) * packet.time_base
                last_s = max(last_s, float(ends) - media.origin_s)
        media.check_errors()
        if last_s <= 0:
            raise InputFileError(media.name, "has no video frames; pass a complete video")
        limit = media.limits.max_duration_s
        if limit is not None and last_s > limit:
            raise InputFileError(media.name, duration_over(last_s, limit))
        _check_complete(media, stream, last_s - 1 / rate, 1 / rate)
        width, height = stream.width, stream.height
        has_audio = bool(media.container.streams.audio)
    return VideoInfo(str(path), last_s, width, height, rate, has_audio)


def load_video(
    path: str | os.PathLike[str],
    sampling: Sampling | None = None,
    limits: MediaLimits | None = None,
) -> FrameSequence:
    """The sampled frames of a video as a sequence (see `iter_video_frames`)."""
    with open_media(path, limits or MediaLimits()) as media:
        frames = tuple(_sampled_frames(media, sampling or Sampling()))
        declared = media.duration_s
    if not frames:
        raise InputFileError(str(path), "has no decodable video frames; pass a complete video")
    return FrameSequence(frames, str(path), max(declared or 0.0, frames[-1].timestamp))


def _sampled_frames(
    media: MediaFile, sampling: Sampling, start: float = 0.0, end: float | None = None
) -> Iterator[Frame]:
    stream = _video_stream(media)
    _check_frame_budget(media, sampling, start, end)
    limits = media.limits
    sampler = _Sampler(sampling, next_sample_s=_grid_at(start, sampling.fps))
    rate = float(stream.average_rate or stream.guessed_rate or 25)
    sought = start > 0 and _seek(media, stream, start)
    kept = 0
    last_s = 0.0
    for position, decoded in enumerate(_decoded(media, stream)):
        media.check_errors()
        time = decoded.time
        if time is None and sought:  # no timestamps to place frames after a seek
            raise InputFileError(media.name, f"its frames carry no timestamps; {REENCODE_HINT}")
        timestamp = max(0.0, time - media.origin_s if time is not None else position / rate)
        index = round(timestamp * rate) if sought else position
        last_s = max(last_s, timestamp)
        if limits.max_duration_s is not None and timestamp > limits.max_duration_s:
            raise InputFileError(media.name, duration_over(timestamp, limits.max_duration_s))
        if end is not None and timestamp >= end - _EPSILON_S:
            return  # the window is read: the rest of the file is not decoded
        if timestamp < start - _EPSILON_S or not sampler.keep(timestamp, decoded):
            continue
        kept += 1
        if limits.max_frames is not None and kept > limits.max_frames:
            raise InputFileError(media.name, _too_many_frames(limits.max_frames, "more"))
        width, height = shrunk_size(decoded.width, decoded.height, sampling.max_side)
        image = _rgb_image(decoded, width, height)
        yield Frame(timestamp, image, media.name, index)
    media.check_errors()
    _check_complete(media, stream, last_s, 1 / rate)


def _decoded(media: MediaFile, stream: VideoStream) -> Iterator[VideoFrame]:
    """The stream's frames in order. A packet that cannot be read or decoded counts as one of
    the file's errors (`MediaLimits.max_decode_errors`); reading stops where the data does."""
    import av

    packets = media.container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError as exc:
            media.decode_failed(exc.strerror or type(exc).__name__)
            return
        try:
            yield from packet.decode()
        except av.FFmpegError as exc:
            media.decode_failed(exc.strerror or type(exc).__name__)


def _grid_at(start: float, fps: float | None) -> float:
    """The first fixed-rate sampling time at or after `start` (0 without a fixed rate)."""
    if fps is None or start <= 0:
        return 0.0
    return math.ceil(start * fps - _EPSILON_S) / fps


def _seek(media: MediaFile, stream: VideoStream, start: float) -> bool:
    """Jump to the keyframe at or before `start`; False where the file cannot seek (then it
    is decoded from its beginning, which is slower but gives the same frames)."""
    import av

    if stream.time_base is None:
        return False
    offset = math.floor((start + media.origin_s) / float(stream.time_base))
    try:
        media.container.seek(offset, stream=stream, backward=True, any_frame=False)
    except (av.FFmpegError, OSError):
        media.container.seek(0)
        return False
    return True


def _rgb_image(decoded: VideoFrame, width: int, height: int) -> PILImage.Image:
    from PIL import Image

    scaled = decoded.reformat(width=width, height=height, format="rgb24", interpolation="AREA")
    return Image.fromarray(scaled.to_ndarray())


def _check_complete(media: MediaFile, stream: VideoStream, last_s: float, step_s: float) -> None:
    """Refuse a file whose frames stop well before the end its video stream declares."""
    declared = _declared_video_s(stream)
    if declared is not None and last_s + step_s < declared - max(2.0, 0.02 * declared):
        raise InputFileError(
            media.name,
            f"is truncated: frames stop at {last_s:.1f} s of the {declared:.1f} s it declares; "
            "pass the complete file or re-encode what is left (ffmpeg -i IN -c copy OUT.mp4)",
        )
