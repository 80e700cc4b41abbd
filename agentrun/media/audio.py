"""The audio track of a media file as 16 kHz mono 16-bit PCM, decoded and resampled with PyAV.

That is what speech recognisers want (PocketSphinx among them). Chunks are yielded as they are
decoded, each with the time (seconds after the container's start) of its first sample, so a long
track never sits whole in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from agentrun.errors import InputFileError
from agentrun.media.container import MediaFile, duration_over

if TYPE_CHECKING:
    from av.audio.frame import AudioFrame

SAMPLE_RATE = 16_000
BYTES_PER_SAMPLE = 2


def has_audio(media: MediaFile) -> bool:
    return bool(media.container.streams.audio)


def pcm_chunks(media: MediaFile, rate: int = SAMPLE_RATE) -> Iterator[tuple[float, bytes]]:
    """(start time, mono s16 PCM at `rate`) for each decoded piece of the first audio track."""
    from av.audio.resampler import AudioResampler

    stream = media.container.streams.audio[0]
    if stream.codec_context is None:
        raise InputFileError(media.name, "its audio stream has an unknown codec or a broken header")
    resampler = AudioResampler(format="s16", layout="mono", rate=rate)
    limit = media.limits.max_duration_s
    position: float | None = None
    for decoded in media.container.decode(stream):
        media.check_errors()
        if position is None:
            position = max(0.0, (decoded.time or 0.0) - media.origin_s)
        for frame in resampler.resample(decoded):
            data = _samples(frame)
            yield position, data
            position += len(data) / (BYTES_PER_SAMPLE * rate)
        if limit is not None and position > limit:
            raise InputFileError(media.name, duration_over(position, limit))
    for frame in resampler.resample(None):
        data = _samples(frame)
        yield position or 0.0, data
        position = (position or 0.0) + len(data) / (BYTES_PER_SAMPLE * rate)
    media.check_errors()


def _samples(frame: AudioFrame) -> bytes:
    """A packed mono s16 frame's samples (its plane may be padded past them)."""
    return bytes(frame.planes[0])[: frame.samples * BYTES_PER_SAMPLE]
