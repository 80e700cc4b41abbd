"""The synthetic video generator: deterministic, small, and true to its ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("av", reason="video input needs the video extra (PyAV)")

import itertools

import av

from agentrun.errors import UsageError
from agentrun.media.synthetic import (
    SyntheticVideo,
    espeak_available,
    plan_scenes,
    write_synthetic_video,
)

needs_espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")


def test_scenes_tile_the_video_on_frame_boundaries_and_each_differs_from_the_last() -> None:
    for seed in range(20):
        events = plan_scenes(seed, 60.0, 2.0, (3.0, 8.0))
        assert events[0].start == 0 and events[-1].end == 60.0
        for earlier, later in itertools.pairwise(events):
            assert earlier.end == later.start
            assert later.colour != earlier.colour and later.shape != earlier.shape
            assert later.text.split()[0] != earlier.text.split()[0]
        assert all(e.end - e.start >= 3.0 for e in events)
        assert all((e.start * 2).is_integer() for e in events)


def test_the_file_matches_its_ground_truth(silent_video: SyntheticVideo) -> None:
    with av.open(str(silent_video.path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (320, 240)
        assert float(stream.average_rate or 0) == 2.0
        assert sum(1 for _ in container.decode(stream)) == 120
        assert not container.streams.audio
    assert silent_video.path.stat().st_size < 100_000


@needs_espeak
def test_the_same_seed_writes_the_same_bytes(tmp_path: Path) -> None:
    first = write_synthetic_video(tmp_path / "a.mp4", seed=11, duration_s=10.0)
    second = write_synthetic_video(tmp_path / "b.mp4", seed=11, duration_s=10.0)
    other = write_synthetic_video(tmp_path / "c.mp4", seed=12, duration_s=10.0)
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.events == second.events
    assert other.events != first.events


@needs_espeak
def test_a_spoken_minute_is_a_few_hundred_kilobytes(tmp_path: Path) -> None:
    video = write_synthetic_video(tmp_path / "minute.mp4", seed=2)
    assert video.has_speech
    assert video.path.stat().st_size < 300_000
    with av.open(str(video.path)) as container:
        (audio,) = container.streams.audio
        assert audio.sample_rate == 16_000
    for event in video.events:
        assert event.speech_start is not None and event.speech_end is not None
        assert event.start < event.speech_start < event.speech_end < event.end


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    for bad in ({"size": (321, 240)}, {"fps": 0}, {"scene_s": (5.0, 2.0)}, {"duration_s": 1.0}):
        with pytest.raises(UsageError):
            write_synthetic_video(tmp_path / "x.mp4", speech=False, **bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"x\.avi: write a \.mkv, \.mov, \.mp4, \.webm file"):
        write_synthetic_video(tmp_path / "x.avi", speech=False)
