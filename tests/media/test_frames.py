"""Frame sequences: time order, even thinning, and segments by time or by frame count."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from agentrun.errors import UsageError
from agentrun.media import Frame, FrameSequence, evenly_spaced


def sequence(times: list[float], duration: float) -> FrameSequence:
    picture = Image.new("RGB", (8, 8))
    frames = tuple(Frame(t, picture, "clip.mp4", i) for i, t in enumerate(times))
    return FrameSequence(frames, "clip.mp4", duration)


def test_frames_out_of_time_order_are_refused() -> None:
    with pytest.raises(UsageError, match="time order"):
        sequence([0.0, 2.0, 1.0], 3.0)
    with pytest.raises(UsageError, match="ends before the last frame"):
        sequence([0.0, 5.0], 4.0)


def test_time_segments_have_their_window_bounds_and_skip_empty_windows() -> None:
    frames = sequence([0.0, 2.0, 4.0, 6.0, 9.0, 31.0, 33.0], 35.0)
    segments = frames.segments(seconds=10)
    assert [(s.start, s.end) for s in segments] == [(0, 10), (30, 35)]
    assert [[f.timestamp for f in s.frames] for s in segments] == [
        [0.0, 2.0, 4.0, 6.0, 9.0],
        [31.0, 33.0],
    ]
    assert [s.index for s in segments] == [0, 1]


def test_count_segments_end_where_the_next_begins() -> None:
    frames = sequence([0.0, 1.5, 3.0, 4.5, 6.0], 7.0)
    segments = frames.segments(frames=2)
    assert [(s.start, s.end, len(s.frames)) for s in segments] == [
        (0.0, 3.0, 2),
        (3.0, 6.0, 2),
        (6.0, 7.0, 1),
    ]


def test_segments_need_exactly_one_positive_size() -> None:
    frames = sequence([0.0], 1.0)
    for bad in ({}, {"seconds": 5, "frames": 2}, {"seconds": 0}, {"frames": 0}):
        with pytest.raises(UsageError):
            frames.segments(**bad)  # type: ignore[arg-type]


@given(st.integers(1, 200), st.integers(1, 50))
def test_evenly_spaced_keeps_the_ends_in_order_without_repeats(total: int, count: int) -> None:
    chosen = evenly_spaced(list(range(total)), count)
    assert len(chosen) == min(total, count)
    assert chosen == sorted(set(chosen))
    assert chosen[0] == 0
    if count > 1:
        assert chosen[-1] == total - 1


def test_evenly_thins_a_sequence_and_between_selects_a_window() -> None:
    frames = sequence([float(t) for t in range(10)], 10.0)
    assert frames.evenly(4).timestamps == [0.0, 3.0, 6.0, 9.0]
    assert [f.timestamp for f in frames.between(2.0, 5.0)] == [2.0, 3.0, 4.0]
    assert frames[0].array().shape == (8, 8, 3)
    assert next(reversed(frames)).timestamp == 9.0  # a Sequence of frames
    assert frames.index(frames[3]) == 3
