"""long-caption on the scripted VLM: captions per segment with their frames' timestamps, merge
levels, timestamped sections of the target length, resume without repeating segments, reuse
of stored captions, bad files refused, image folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentrun.agents import Gateway
from agentrun.agents.messages import Message
from agentrun.agents.testing import scripted_model
from agentrun.errors import InputFileError, ScriptedModelError
from agentrun.evals.scripted_vlm import ScriptedVLM, frame_times
from agentrun.evals.video_questions import score_description
from agentrun.graphs.long_caption import LongCaption
from agentrun.graphs.long_caption.prompts import CAPTION_SYSTEM, MERGE_SYSTEM
from agentrun.media.synthetic import SyntheticVideo, draw_scene
from tests.videos import VLM, copy_of, resources

SMALL = {"model": VLM, "segment_s": 10, "max_sections": 2, "merge_fan_in": 2}


def kind(messages: list[Message]) -> str:
    return str(messages[0]["content"])


class Recorder:
    """The scripted VLM, recording the frame times of each caption call; it can fail one."""

    def __init__(self, video: SyntheticVideo, fail_at: int | None = None) -> None:
        self.vlm = ScriptedVLM(video.events)
        self.captions: list[list[float]] = []
        self.fail_at = fail_at

    def __call__(self, messages: list[Message]) -> str:
        if kind(messages) == CAPTION_SYSTEM:
            self.captions.append(frame_times(messages))
            if len(self.captions) == self.fail_at:
                raise ValueError("the process was killed here")
        return self.vlm(messages)

    def segments(self, seconds: float = 10.0) -> list[int]:
        return [int(min(times) // seconds) for times in self.captions]


async def test_a_long_video_becomes_timestamped_sections_of_the_target_length(
    silent_video: SyntheticVideo, gateway: Gateway
) -> None:
    recorder = Recorder(silent_video)
    with scripted_model(recorder) as model:
        result = await LongCaption(SMALL, **resources(gateway)).arun(
            video=silent_video.path, target_words=300
        )
    # one call per 10 s segment, each with its own frames only, labelled by time
    assert recorder.segments() == list(range(6)) and result.segments == 6
    for number, times in enumerate(recorder.captions):
        assert times and all(10 * number <= t < 10 * (number + 1) for t in times)
    # six captions merged in pairs (3 merges), then the first two of those (1; the third goes
    # up alone): two sections, of 40 s and 20 s
    assert result.levels == 2 and result.merges == 4
    merges = [c for c in model.calls if kind(c.messages) == MERGE_SYSTEM]
    assert len(merges) == 4
    assert [(s.start, s.end) for s in result.sections] == [(0.0, 40.0), (40.0, 60.0)]
    assert [s.heading for s in result.sections] == [
        "[00:00:00]-[00:00:40]",
        "[00:00:40]-[00:01:00]",
    ]
    assert result.description.startswith("## [00:00:00]-[00:00:40]\n\n")
    # the description names every scene, in order, at its time
    score = score_description(result.description, silent_video.events)
    assert score.recall == 1.0 and score.order_accuracy == 1.0
    assert score.timestamp_error_s is not None and score.timestamp_error_s <= 2.0
    # the target is shared by the time each section covers, and the writer kept to it
    assert [s.target_words for s in result.sections] == [200, 100]
    assert abs(result.words - 300) <= 30
    assert len(result.captions) == 6 and result.captions[0].frames[0] == 0.0
    assert result.usage["model_calls"] == 6 + 4 + 2


async def test_a_run_killed_part_way_resumes_without_captioning_a_segment_twice(
    silent_video: SyntheticVideo, gateway: Gateway
) -> None:
    config = SMALL | {"reuse": False}  # only the checkpoints can spare the finished segments
    shared = resources(gateway)
    first = Recorder(silent_video, fail_at=4)
    with scripted_model(first), pytest.raises(ScriptedModelError, match="killed"):
        await LongCaption(config, **shared).arun(video=silent_video.path, thread_id="long")
    assert first.segments() == [0, 1, 2, 3]  # the 4th call was in flight when it stopped
    again = Recorder(silent_video)
    with scripted_model(again):
        result = await LongCaption(config, **shared).aresume("long")
    assert again.segments() == [3, 4, 5]
    assert result.segments == 6 and len(result.captions) == 6
    assert score_description(result.description, silent_video.events).recall == 1.0


async def test_a_second_run_on_the_same_video_reuses_its_stored_captions(
    silent_video: SyntheticVideo, gateway: Gateway, tmp_path: Path
) -> None:
    shared = resources(gateway)
    with scripted_model(Recorder(silent_video)):
        first = await LongCaption(SMALL, **shared).arun(video=silent_video.path)
    renamed = copy_of(silent_video, tmp_path)  # the same content: the same video
    second = Recorder(silent_video)
    with scripted_model(second):
        result = await LongCaption(SMALL, **shared).arun(video=renamed, target_words=200)
    assert second.captions == []
    assert result.video_id == first.video_id
    assert [c.text for c in result.captions] == [c.text for c in first.captions]
    other = Recorder(silent_video)
    with scripted_model(other):  # other caption settings: captioned anew
        await LongCaption(SMALL | {"frames_per_segment": 3}, **shared).arun(video=renamed)
    assert len(other.captions) == 6 and max(len(t) for t in other.captions) == 3


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "is empty"),
        (b"\x00\x01garbage" * 200, "not a video or audio file ffmpeg can read"),
    ],
)
async def test_a_bad_video_is_refused_by_name_before_any_call(
    gateway: Gateway, tmp_path: Path, content: bytes, reason: str
) -> None:
    bad = tmp_path / "holiday.mp4"
    bad.write_bytes(content)
    with scripted_model(["never"]) as model, pytest.raises(InputFileError, match=reason) as caught:
        await LongCaption(SMALL, **resources(gateway)).arun(video=bad)
    assert str(caught.value).startswith(f"{bad}: ")
    assert model.calls == []


async def test_a_truncated_video_is_refused_before_any_call(
    silent_video: SyntheticVideo, gateway: Gateway, tmp_path: Path
) -> None:
    from tests.media.test_bad_files import damaged, remux

    cut = damaged(remux(silent_video.path, tmp_path / "whole.mkv"), tmp_path / "cut.mkv", keep=0.5)
    with scripted_model(["never"]) as model, pytest.raises(InputFileError, match=r"cut\.mkv"):
        await LongCaption(SMALL, **resources(gateway)).arun(video=cut)
    assert model.calls == []


async def test_inputs_name_exactly_one_source(gateway: Gateway, tmp_path: Path) -> None:
    from agentrun.errors import UsageError

    workflow = LongCaption(SMALL, **resources(gateway))
    with pytest.raises(UsageError, match=r"either video .* or images"):
        await workflow.arun()
    with pytest.raises(UsageError, match="input 'target_words'"):
        await workflow.arun(video=tmp_path, target_words="many")


async def test_a_folder_of_images_is_captioned_by_the_time_of_each_image(
    silent_video: SyntheticVideo, gateway: Gateway, tmp_path: Path
) -> None:
    events = silent_video.events[:4]
    folder = tmp_path / "shots"
    folder.mkdir()
    for number, event in enumerate(events):  # one image a scene, 2 s apart (rate 0.5)
        draw_scene(event, (235, 235, 235), (320, 240), 0.5).save(folder / f"shot{number}.png")
    shots = [event.__class__(**{**event.__dict__, "start": 2.0 * n, "end": 2.0 * n + 2})
             for n, event in enumerate(events)]  # fmt: skip
    recorder = Recorder(silent_video)
    recorder.vlm = ScriptedVLM(shots)
    config = SMALL | {"images_rate": 0.5, "segment_s": 4}
    with scripted_model(recorder):
        result = await LongCaption(config, **resources(gateway)).arun(images=folder)
    assert recorder.captions == [[0.0, 2.0], [4.0, 6.0]]
    assert result.duration == 8.0 and result.segments == 2
    assert all(event.text in result.description for event in events)


async def test_a_text_model_captions_from_the_text_read_on_screen(
    silent_video: SyntheticVideo, gateway: Gateway
) -> None:
    from agentrun.media import ocr

    if not ocr.available():
        pytest.skip("Tesseract is not installed (Debian: apt install tesseract-ocr)")

    seen: list[Any] = []

    def text_model(messages: list[Message]) -> str:
        seen.append(messages)
        return ScriptedVLM(silent_video.events)(messages)

    config = SMALL | {"vision": False, "segment_s": 20, "fps": 0.25, "max_sections": 3,
                      "scene_threshold": None, "frames_per_segment": 3}  # fmt: skip
    with scripted_model(text_model):
        result = await LongCaption(config, **resources(gateway)).arun(video=silent_video.path)
    captions = [m for m in seen if kind(m) == CAPTION_SYSTEM]
    assert len(captions) == 3 and not result.vision
    assert all(isinstance(m[-1]["content"], str) for m in captions)  # no image was sent
    first_scene = silent_video.events[0].text
    assert first_scene in str(captions[0][-1]["content"])  # read by Tesseract, then described
    assert first_scene in result.description
