"""Frames sampled from video files: fixed-rate timestamps, scene changes, streaming, formats."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("av", reason="video input needs the video extra (PyAV)")

from agentrun.errors import InputFileError, UsageError
from agentrun.media import MediaLimits, Sampling, iter_video_frames, load_video
from agentrun.media.synthetic import SyntheticVideo, write_synthetic_video

FIXED = Sampling(fps=0.5, scene_threshold=None)
SCENES = Sampling(fps=None, scene_threshold=0.1)


def test_a_fixed_rate_keeps_one_frame_every_interval(silent_video: SyntheticVideo) -> None:
    frames = load_video(silent_video.path, FIXED)
    assert frames.timestamps == [float(t) for t in range(0, 60, 2)]
    assert frames.duration == pytest.approx(60.0, abs=0.1)
    assert {f.source for f in frames} == {str(silent_video.path)}
    assert [f.index for f in frames] == [t * 2 for t in range(0, 60, 2)]  # decoded at 2 fps
    assert all(f.image.size == (320, 240) and f.image.mode == "RGB" for f in frames)


def test_scene_sampling_finds_every_known_change(silent_video: SyntheticVideo) -> None:
    frames = load_video(silent_video.path, SCENES)
    assert len(silent_video.change_times) >= 8
    step = 1 / silent_video.fps  # one source frame
    found = frames.timestamps[1:]
    assert len(found) == len(silent_video.change_times)
    for seen, truth in zip(found, silent_video.change_times, strict=True):
        assert abs(seen - truth) <= step
    assert frames.timestamps[0] == 0.0


def test_both_together_drop_a_fixed_sample_that_repeats_a_new_scene(
    silent_video: SyntheticVideo,
) -> None:
    fixed = set(load_video(silent_video.path, FIXED).timestamps)
    cuts = set(silent_video.change_times)
    both = load_video(silent_video.path, Sampling(fps=0.5, scene_threshold=0.1)).timestamps
    assert cuts <= set(both)
    dropped = fixed - set(both)
    assert dropped, "a cut less than 1 s before a fixed sample should stand for it"
    for t in dropped:  # each dropped sample follows a kept cut within half the interval
        assert any(0 < t - cut < 1.0 for cut in cuts)
    assert both == sorted(both)
    assert len(both) == len(set(both))


def test_frames_stream_one_at_a_time(silent_video: SyntheticVideo) -> None:
    frames = iter_video_frames(silent_video.path, FIXED)
    first = next(frames)
    assert first.timestamp == 0.0
    frames.close()  # closing early releases the file without decoding the rest


def test_kept_frames_are_downscaled_keeping_their_aspect(silent_video: SyntheticVideo) -> None:
    frames = load_video(silent_video.path, Sampling(fps=0.25, scene_threshold=None, max_side=160))
    assert {f.image.size for f in frames} == {(160, 120)}


@pytest.mark.parametrize("suffix", [".mkv", ".webm"])
def test_other_containers_decode_the_same(tmp_path: Path, suffix: str) -> None:
    video = write_synthetic_video(tmp_path / f"clip{suffix}", seed=1, duration_s=12.0, speech=False)
    frames = load_video(video.path, SCENES)
    assert frames.timestamps[1:] == pytest.approx(video.change_times, abs=0.5)


def test_the_frame_limit_is_checked_before_decoding(silent_video: SyntheticVideo) -> None:
    frames = iter_video_frames(silent_video.path, FIXED, MediaLimits(max_frames=10))
    with pytest.raises(InputFileError, match=r"about 31 frames, over the 10 frame limit"):
        next(frames)


def test_scene_changes_over_the_frame_limit_stop_decoding(silent_video: SyntheticVideo) -> None:
    with pytest.raises(InputFileError, match=r"over the 3 frame limit") as raised:
        load_video(silent_video.path, SCENES, MediaLimits(max_frames=3))
    assert str(silent_video.path) in str(raised.value)


def test_sampling_options_are_validated() -> None:
    for bad in (
        {"fps": None, "scene_threshold": None},
        {"fps": 0},
        {"scene_threshold": 1.5},
        {"max_side": 4},
    ):
        with pytest.raises(UsageError):
            Sampling(**bad)  # type: ignore[arg-type]
