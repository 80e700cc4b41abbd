"""Videos and image folders read window by window: the same window gives the same frames, a
video is checked without decoding it, and a source is named by its content."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("av", reason="video input needs the video extra (PyAV)")

from agentrun.errors import InputFileError
from agentrun.media import Sampling, iter_video_frames, load_video
from agentrun.media.source import ImageFolder, VideoSource, Window, open_source, windows
from agentrun.media.synthetic import SyntheticVideo, draw_scene
from agentrun.media.video import probe_video
from tests.media.test_bad_files import damaged, faststart

BOTH = Sampling(fps=0.5, scene_threshold=0.1)


def test_a_window_is_sought_and_read_alone_the_same_every_time(
    silent_video: SyntheticVideo,
) -> None:
    frames = list(iter_video_frames(silent_video.path, BOTH, start=30.0, end=40.0))
    again = list(iter_video_frames(silent_video.path, BOTH, start=30.0, end=40.0))
    times = [f.timestamp for f in frames]
    assert times == [f.timestamp for f in again] and times[0] == 30.0
    assert all(30.0 <= t < 40.0 for t in times)
    assert [f.index for f in frames] == [round(t * silent_video.fps) for t in times]
    assert frames[2].array().tobytes() == again[2].array().tobytes()
    # every fixed-rate sample and scene change of the whole video is in some window
    whole = set(load_video(silent_video.path, BOTH).timestamps)
    by_window = {
        frame.timestamp
        for window in windows(60.0, 10.0)
        for frame in iter_video_frames(silent_video.path, BOTH, start=window.start, end=window.end)
    }
    assert whole <= by_window


def test_a_probe_reads_packets_only_and_refuses_a_truncated_file(
    silent_video: SyntheticVideo, tmp_path: Path
) -> None:
    info = probe_video(silent_video.path)
    assert info.duration == pytest.approx(60.0, abs=0.5)
    assert (info.width, info.height, info.fps, info.has_audio) == (320, 240, 2.0, False)
    cut = damaged(faststart(silent_video, tmp_path), tmp_path / "cut.mp4", keep=0.5)
    with pytest.raises(InputFileError, match=r"cut\.mp4: is corrupt or truncated"):
        probe_video(cut)


def test_a_video_source_is_named_by_its_content(
    silent_video: SyntheticVideo, tmp_path: Path
) -> None:
    source = open_source(silent_video.path)
    assert isinstance(source, VideoSource) and source.kind == "video"
    renamed = tmp_path / "renamed.mp4"
    renamed.write_bytes(silent_video.path.read_bytes())
    assert open_source(renamed).fingerprint() == source.fingerprint()
    changed = tmp_path / "changed.mp4"
    changed.write_bytes(silent_video.path.read_bytes()[:-1] + b"\x00")
    assert VideoSource(changed, 60.0, False, source.limits).fingerprint() != source.fingerprint()


def test_an_image_folder_is_read_window_by_window(
    silent_video: SyntheticVideo, tmp_path: Path
) -> None:
    for number, event in enumerate(silent_video.events[:5]):
        draw_scene(event, (235, 235, 235), (160, 120), 0.0).save(tmp_path / f"f{number}.png")
    source = open_source(tmp_path, rate=0.5)
    assert isinstance(source, ImageFolder) and source.duration == 10.0
    frames = list(source.frames(Window(1, 4.0, 8.0), Sampling(max_side=80)))
    assert [(f.timestamp, Path(f.source).name) for f in frames] == [
        (4.0, "f2.png"),
        (6.0, "f3.png"),
    ]
    assert frames[0].size == (80, 60)
    (tmp_path / "notes.txt").write_text("not an image")
    assert open_source(tmp_path, rate=0.5).fingerprint() == source.fingerprint()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputFileError, match="holds no images"):
        open_source(empty)
