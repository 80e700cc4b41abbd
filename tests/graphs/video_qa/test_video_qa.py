"""video-qa on the scripted VLM: retrieval picks the segments a question points at, the answer
cites grounded timestamps, the index is reused, the uniform baseline spreads its frames, and
on-screen text and speech reach the prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentrun.agents import Gateway
from agentrun.agents.messages import Message, text_of
from agentrun.agents.testing import scripted_model
from agentrun.errors import ConfigError, InputFileError
from agentrun.evals import video_questions as vq
from agentrun.evals.scripted_vlm import ScriptedVLM, frame_times
from agentrun.graphs.long_caption import LongCaption
from agentrun.graphs.long_caption.prompts import CAPTION_SYSTEM
from agentrun.graphs.video_qa import VideoQA
from agentrun.media.synthetic import SyntheticVideo
from tests.videos import VLM, resources

#: No OCR nor speech here (the scripted captions hold the on-screen text): fast.
QUICK = {"model": VLM, "segment_s": 10, "ocr": False, "speech": False}


class Calls:
    """The scripted VLM, keeping every call's messages by kind."""

    def __init__(self, video: SyntheticVideo) -> None:
        self.vlm = ScriptedVLM(video.events)
        self.captions: list[list[Message]] = []
        self.answers: list[list[Message]] = []

    def __call__(self, messages: list[Message]) -> str:
        is_caption = messages[0]["content"] == CAPTION_SYSTEM
        (self.captions if is_caption else self.answers).append(messages)
        return self.vlm(messages)


def scene_starting_inside(video: SyntheticVideo, low: float, high: float) -> int:
    return next(n for n, e in enumerate(video.events) if n and low < e.start < high)


async def test_a_quoted_text_retrieves_its_segment_and_the_next_and_the_answer_cites_them(
    silent_video: SyntheticVideo, gateway: Gateway
) -> None:
    events = silent_video.events
    number = scene_starting_inside(silent_video, 31, 39) - 1  # its successor starts in 30-40
    question = f'What text appeared on screen right after "{events[number].text}"?'
    calls = Calls(silent_video)
    with scripted_model(calls):
        result = await VideoQA(QUICK, **resources(gateway)).arun(
            video=silent_video.path, question=question
        )
    assert len(calls.captions) == 6  # the index: one caption per segment
    reasons = {s.segment: s.reason for s in result.segments}
    holding = int(events[number].start // 10)
    assert reasons[holding] == "quote" and holding + 1 in reasons
    assert len(result.segments) <= 3 and len(result.frames) <= 16
    assert vq.holds(result.answer, events[number + 1].text)
    assert result.citations and all(c.grounded for c in result.citations)
    # the frames sent are those of the segments retrieved, each after its time
    sent = frame_times(calls.answers[0])
    assert sent == result.frames
    assert all(any(s.start <= t < s.end for s in result.segments) for t in sent)


async def test_a_time_in_the_question_retrieves_the_segment_at_that_time(
    silent_video: SyntheticVideo, gateway: Gateway
) -> None:
    event = silent_video.events[7]
    time = (event.start + event.end) / 2
    question = f"What text was on screen at {vq.clock(time)}?"
    with scripted_model(Calls(silent_video)):
        result = await VideoQA(QUICK, **resources(gateway)).arun(
            video=silent_video.path, question=question
        )
    assert {s.segment: s.reason for s in result.segments}[int(time // 10)] == "time"
    assert vq.holds(result.answer, event.text)


async def test_the_index_is_kept_and_reused_and_so_are_long_caption_captions(
    silent_video: SyntheticVideo, gateway: Gateway
) -> None:
    shared = resources(gateway)
    with scripted_model(Calls(silent_video)):
        await LongCaption({"model": VLM, "segment_s": 10}, **shared).arun(video=silent_video.path)
    first = Calls(silent_video)
    with scripted_model(first):
        asked = await VideoQA(QUICK, **shared).arun(video=silent_video.path, question="Colours?")
    assert first.captions == [] and len(first.answers) == 1  # long-caption's captions reused
    assert not asked.index_reused and asked.indexed_segments == 6
    second = Calls(silent_video)
    with scripted_model(second):
        again = await VideoQA(QUICK, **shared).arun(video=silent_video.path, question="Shapes?")
    assert again.index_reused and second.captions == [] and len(second.answers) == 1
    assert again.usage["model_calls"] == 1


async def test_the_uniform_baseline_spreads_its_frames_and_indexes_nothing(
    silent_video: SyntheticVideo, gateway: Gateway
) -> None:
    calls = Calls(silent_video)
    config = QUICK | {"method": "uniform", "max_frames": 6}
    with scripted_model(calls):
        result = await VideoQA(config, **resources(gateway)).arun(
            video=silent_video.path, question="What text was on screen at 00:00:25?"
        )
    assert calls.captions == [] and len(calls.answers) == 1 and result.segments == []
    assert result.frames == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    assert frame_times(calls.answers[0]) == result.frames
    assert "on screen:" not in text_of(calls.answers[0])


async def test_a_citation_outside_what_was_sent_is_not_grounded(
    silent_video: SyntheticVideo, gateway: Gateway
) -> None:
    def cites_elsewhere(messages: list[Message]) -> str:
        if messages[0]["content"] == CAPTION_SYSTEM:
            return "[00:00:00] A shape."
        return "It was blue [00:00:31], or red [00:00:59]."

    with scripted_model(cites_elsewhere):
        result = await VideoQA(QUICK, **resources(gateway)).arun(
            video=silent_video.path, question="What text was on screen at 00:00:32?"
        )
    grounded = {c.label: c.grounded for c in result.citations}
    assert grounded == {"[00:00:31]": True, "[00:00:59]": False}


async def test_on_screen_text_and_speech_are_indexed_with_their_times(
    spoken_video: SyntheticVideo, gateway: Gateway
) -> None:
    from agentrun.media import ocr, speech

    if not (ocr.available() and speech.available()):
        pytest.skip("needs Tesseract and PocketSphinx")
    event = spoken_video.events[1]
    assert event.speech_start is not None and event.speech_end is not None
    time = (event.speech_start + event.speech_end) / 2
    calls = Calls(spoken_video)
    config = {"model": VLM, "segment_s": 10, "captions": False, "frames_per_segment": 3}
    with scripted_model(calls):
        result = await VideoQA(config, **resources(gateway)).arun(
            video=spoken_video.path, question=f"What was said at {vq.clock(time)}?"
        )
    prompt = text_of(calls.answers[0])
    assert calls.captions == []
    assert f"on screen: \u201c{event.text}\u201d" in prompt  # read by Tesseract
    assert " said: \u201clook at " in prompt  # heard by PocketSphinx, with its times
    assert result.answer.startswith("They said: \u201clook at ")  # the line at that time
    assert result.citations and result.citations[0].grounded


async def test_a_corrupt_video_is_refused_and_the_baseline_needs_eyes(
    silent_video: SyntheticVideo, gateway: Gateway, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(silent_video.path.read_bytes()[:3000])
    with pytest.raises(InputFileError, match=r"broken\.mp4: is not a video"):
        await VideoQA(QUICK, **resources(gateway)).arun(video=broken, question="Colours?")
    blind = QUICK | {"method": "uniform", "vision": False}
    with pytest.raises(ConfigError, match="uniform baseline sends frames only"):
        await VideoQA(blind, **resources(gateway)).arun(video=silent_video.path, question="?")
