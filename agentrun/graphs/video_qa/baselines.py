"""The uniform-frames baseline of video-qa: `max_frames` frames spread evenly over the whole
video and the question, nothing indexed, nothing retrieved, no text found in the video.

It is what a vision model does with a long video when nothing helps it, and it gets the same
frame budget as retrieval, so the eval compares what retrieval chooses against spreading it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agentrun.graphs import runtime
from agentrun.graphs.long_caption.segments import SourceRef, image_limits, reopen
from agentrun.graphs.runtime import usage_of, usage_update
from agentrun.graphs.video_qa.models import VideoQAConfig
from agentrun.graphs.video_qa.prompts import uniform_messages
from agentrun.media import Sampling, evenly_spaced
from agentrun.media.frames import Frame
from agentrun.media.source import Window


async def uniform_frames(ref: SourceRef, count: int, max_side: int) -> list[Frame]:
    """About `count` frames spread evenly over the video, read in one pass through it."""
    duration = ref["duration"]
    whole = Window(0, 0.0, duration)
    sampling = Sampling(fps=count / duration, scene_threshold=None, max_side=max_side)
    source = reopen(ref)

    def read() -> list[Frame]:
        return list(source.frames(whole, sampling))

    frames = await asyncio.to_thread(read)
    return evenly_spaced(frames, count) if frames else []


async def uniform_answer(config: VideoQAConfig, ref: SourceRef, question: str) -> dict[str, Any]:
    """The baseline's one call and its state update."""
    frames = await uniform_frames(ref, config.max_frames, config.image_max_side)
    messages = uniform_messages(
        question, frames, ref["duration"], image_limits(config), config.answer_words
    )
    completion = await runtime.complete(
        config.answerer, messages, node="uniform",
        max_tokens=config.answer_words * 2 + 32, temperature=config.temperature,
    )  # fmt: skip
    return {"answer": completion.text.strip(), "frames": [f.timestamp for f in frames],
            "usage": usage_update(usage_of(completion))}  # fmt: skip
