"""The prompts of video-qa: a question answered from retrieved segments (their frames and the
text found in them), or, for the baseline, from frames spread evenly over the video."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agentrun.agents.messages import Image, Message, system, user
from agentrun.graphs.long_caption.prompts import span
from agentrun.graphs.video_qa.models import SegmentIndex
from agentrun.media import ImageLimits, frame_parts, timestamp_label
from agentrun.media.frames import Frame

ANSWER_SYSTEM = "You answer questions about a video from its frames and the text found in it."


@dataclass(frozen=True)
class Shown:
    """One retrieved segment as the model sees it: its text and its frames."""

    record: SegmentIndex
    frames: Sequence[Frame]


def segment_lines(record: SegmentIndex) -> list[str]:
    """The text found in a segment, each line with its time."""
    lines = [f"Caption: {record.caption.strip()}"] if record.caption.strip() else []
    lines += [f"{span(line.start, line.end)} on screen: \u201c{line.text}\u201d"
              for line in record.on_screen]  # fmt: skip
    lines += [f"{span(line.start, line.end)} said: \u201c{line.text}\u201d"
              for line in record.speech]  # fmt: skip
    return lines


def _ask(question: str, words: int) -> str:
    return (
        f"Question: {question}\n\nAnswer in at most {words} words, from what you were shown "
        "only, and cite the [HH:MM:SS] timestamp of each frame or line you used. If it does not "
        "show the answer, say so."
    )


def answer_messages(
    question: str, shown: Sequence[Shown], limits: ImageLimits, words: int
) -> list[Message]:
    """The question after the retrieved segments, in time order: each one's text and frames."""
    parts: list[str | Image] = [
        "These are the parts of a video found for a question: for each, the text read or heard "
        "in it (with times), then its frames, each after its timestamp."
    ]
    for item in shown:
        record = item.record
        text = "\n".join([f"Part {span(record.start, record.end)}", *segment_lines(record)])
        parts.append(text)
        parts.extend(frame_parts(item.frames, limits))
    parts.append(_ask(question, words))
    return [system(ANSWER_SYSTEM), user(*parts)]


def uniform_messages(
    question: str, frames: Sequence[Frame], duration: float, limits: ImageLimits, words: int
) -> list[Message]:
    """The baseline: frames spread evenly over the whole video, then the question."""
    intro = (
        f"These are {len(frames)} frames spread evenly over a video of {timestamp_label(duration)}"
        ", each after its timestamp."
    )
    return [system(ANSWER_SYSTEM), user(intro, *frame_parts(frames, limits), _ask(question, words))]
