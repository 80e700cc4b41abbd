"""Every kind of bad video file is one InputFileError naming the file and the fix, not a
traceback from PyAV, and ffmpeg prints nothing of its own."""

from __future__ import annotations

import random
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("av", reason="video input needs the video extra (PyAV)")

import av

from agentrun.errors import EXIT_USAGE, InputFileError
from agentrun.media import MediaLimits, Sampling, iter_video_frames, load_video
from agentrun.media.synthetic import SyntheticVideo


def remux(source: Path, target: Path, **options: str) -> Path:
    """A copy of `source` in a new container, its packets untouched (e.g. index moved first)."""
    with av.open(str(source)) as reading, av.open(str(target), "w", options=options) as writing:
        stream = reading.streams.video[0]
        copy = writing.add_stream_from_template(stream)
        for packet in reading.demux(stream):
            if packet.dts is not None:
                packet.stream = copy
                writing.mux(packet)
    return target


def damaged(source: Path, target: Path, *, keep: float = 1.0, scribble_from: int = 0) -> Path:
    """`source` cut to a `keep` fraction of its bytes, or with bytes overwritten past an offset."""
    data = bytearray(source.read_bytes())
    data = data[: int(len(data) * keep)]
    if scribble_from:
        noise = random.Random(7)
        for offset in range(scribble_from, len(data) - 2000, 97):
            data[offset] = noise.randrange(256)
    target.write_bytes(bytes(data))
    return target


def audio_only(target: Path) -> Path:
    with wave.open(str(target), "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(16_000)
        sound.writeframes(b"\x00\x01" * 16_000)
    return target


def faststart(video: SyntheticVideo, folder: Path) -> Path:
    return remux(video.path, folder / "faststart.mp4", movflags="faststart")


BadFile = Callable[[SyntheticVideo, Path], Path]
CASES: dict[str, tuple[BadFile, str]] = {
    "missing": (lambda v, d: d / "nowhere.mp4", "no such file"),
    "empty": (lambda v, d: (d / "empty.mp4", (d / "empty.mp4").write_bytes(b""))[0], "is empty"),
    "a folder": (lambda v, d: d, "is a directory"),
    "text renamed .mp4": (
        lambda v, d: (d / "notes.mp4", (d / "notes.mp4").write_text("meeting notes\n" * 50))[0],
        "not a video or audio file ffmpeg can read",
    ),
    "random bytes": (
        lambda v, d: (d / "noise.mkv", (d / "noise.mkv").write_bytes(random.randbytes(9000)))[0],
        "not a video or audio file ffmpeg can read",
    ),
    "mp4 cut before its index": (
        lambda v, d: damaged(v.path, d / "cut.mp4", keep=0.5),
        "not a video or audio file ffmpeg can read",
    ),
    "mp4 cut after its index": (
        lambda v, d: damaged(faststart(v, d), d / "cut-faststart.mp4", keep=0.5),
        "corrupt or truncated",
    ),
    "mkv cut short": (
        lambda v, d: damaged(remux(v.path, d / "whole.mkv"), d / "cut.mkv", keep=0.5),
        "corrupt or truncated",
    ),
    "corrupt frames": (
        lambda v, d: damaged(faststart(v, d), d / "scribbled.mp4", scribble_from=4000),
        "corrupt or truncated",
    ),
    "no video stream": (lambda v, d: audio_only(d / "speech.wav"), "has no video stream"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_file_is_one_clear_error(
    case: str, silent_video: SyntheticVideo, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    make, reason = CASES[case]
    path = make(silent_video, tmp_path)
    with pytest.raises(InputFileError, match=reason) as raised:
        load_video(path, Sampling(fps=1.0))
    error = raised.value
    assert str(error).startswith(f"{path}: ")
    assert error.exit_code == EXIT_USAGE
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        (MediaLimits(max_bytes=10_000), r"KiB, over the 9\.8 KiB limit"),
        (MediaLimits(max_duration_s=10), "lasts 60 s, over the 10 s limit"),
        (MediaLimits(max_frame_pixels=320 * 200), "320x240, over the 64,000 pixel limit"),
        (MediaLimits(max_frames=5), "over the 5 frame limit"),
    ],
)
def test_limits_refuse_a_file_before_any_frame_is_decoded(
    silent_video: SyntheticVideo, limits: MediaLimits, reason: str
) -> None:
    frames = iter_video_frames(silent_video.path, Sampling(fps=1.0), limits)
    with pytest.raises(InputFileError, match=reason) as raised:
        next(frames)
    assert str(raised.value).startswith(str(silent_video.path))


def test_a_limit_on_decode_errors_lets_a_slightly_damaged_file_through(
    silent_video: SyntheticVideo, tmp_path: Path
) -> None:
    cut = damaged(remux(silent_video.path, tmp_path / "whole.mkv"), tmp_path / "cut.mkv", keep=0.9)
    with pytest.raises(InputFileError, match="corrupt or truncated"):
        load_video(cut)
    frames = load_video(cut, limits=MediaLimits(max_decode_errors=5))
    assert 0 < frames.timestamps[-1] < silent_video.duration


def test_frames_that_stop_before_the_declared_end_are_a_truncated_file(
    silent_video: SyntheticVideo, tmp_path: Path
) -> None:
    cut = damaged(faststart(silent_video, tmp_path), tmp_path / "cut.mp4", keep=0.5)
    lenient = MediaLimits(max_decode_errors=1000)  # the decoder's complaints let through
    with pytest.raises(InputFileError, match=r"is truncated: frames stop at .* of the 60\.0 s"):
        load_video(cut, limits=lenient)
