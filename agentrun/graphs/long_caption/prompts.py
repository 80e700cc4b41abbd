"""The prompts of long-caption: a segment's caption (from its frames, or from the text read on
them for a model that cannot see), a merge of neighbouring captions, and a section.

Every prompt says where in the video its material lies, as `[HH:MM:SS]` labels, and asks for
those labels back, so timestamps survive each level up to the final description.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agentrun.agents.messages import Message, system, user
from agentrun.media import ImageLimits, frame_parts, timestamp_label
from agentrun.media.frames import Frame
from agentrun.media.timed_text import TimedText

#: Bumped when a caption prompt changes, so captions stored by older prompts are not reused.
CAPTION_PROMPT_VERSION = "1"

CAPTION_SYSTEM = "You caption segments of a video precisely, in time order."
MERGE_SYSTEM = "You merge descriptions of consecutive parts of a video without losing events."
SECTION_SYSTEM = "You write one section of a long, faithful description of a video."

_LINES = (
    "one line for each thing that appears or changes, starting with the timestamp of the "
    'frame that shows it, e.g. `[00:01:05] A red circle appears; the on-screen text reads "RIVER '
    '42".`'
)


@dataclass(frozen=True)
class Part:
    """Timed text handed to a merge or a section: a caption, or a merge of captions."""

    start: float
    end: float
    text: str


def span(start: float, end: float) -> str:
    return f"{timestamp_label(start)}-{timestamp_label(end)}"


def caption_messages(
    start: float, end: float, frames: Sequence[Frame], limits: ImageLimits, words: int
) -> list[Message]:
    """A vision model's caption of one segment: its frames, each after its timestamp."""
    prompt = (
        f"These are frames of a video from {span(start, end)}, each after its timestamp. "
        f"Describe what happens in this part, in order: {_LINES} Name colours, shapes, people, "
        "objects and actions, and copy any on-screen text exactly as written. "
        f"At most {words} words."
    )
    return [system(CAPTION_SYSTEM), user(prompt, *frame_parts(frames, limits))]


def caption_from_text_messages(
    start: float, end: float, texts: Sequence[TimedText], words: int
) -> list[Message]:
    """A text model's caption of one segment, from the text read on its frames (OCR)."""
    lines = "\n".join(f"{timestamp_label(t.start)} {t.text}" for t in texts)
    prompt = (
        f"This is the text read on screen in a video from {span(start, end)}, each line after "
        f"the time it appeared:\n{lines}\n\nDescribe this part of the video from it, in order: "
        f"{_LINES} Copy the on-screen text exactly. At most {words} words."
    )
    return [system(CAPTION_SYSTEM), user(prompt)]


def _parts(parts: Sequence[Part]) -> str:
    return "\n\n".join(
        f"Part {number} {span(part.start, part.end)}:\n{part.text.strip()}"
        for number, part in enumerate(parts, start=1)
    )


def merge_messages(parts: Sequence[Part], words: int) -> list[Message]:
    """One description of neighbouring parts, within `words`."""
    start, end = parts[0].start, parts[-1].end
    prompt = (
        f"Below are descriptions of consecutive parts of a video, in order. Merge them into one "
        f"description of {span(start, end)} in at most {words} words. Keep every distinct event "
        "in order, each with its [HH:MM:SS] timestamp, and copy on-screen text exactly; when "
        "something continues from one part into the next, mention it once.\n\n"
        f"{_parts(parts)}"
    )
    return [system(MERGE_SYSTEM), user(prompt)]


def section_messages(
    number: int,
    count: int,
    part: Part,
    notes: Sequence[Part],
    words: int,
    previous: str,
) -> list[Message]:
    """Section `number` of `count`, covering `part`'s span, written from `notes`."""
    before = (
        f"The previous section ended: \u201c{previous}\u201d Continue from there without "
        "repeating it.\n\n"
        if previous
        else ""
    )
    prompt = (
        f"You are writing section {number} of {count} of a description of a video; this "
        f"section covers {span(part.start, part.end)}. Write about {words} words of flowing "
        "prose from the notes below. Give the [HH:MM:SS] timestamp of each event, keep their "
        "order, copy on-screen text exactly, and add nothing the notes do not say. Write no "
        f"heading.\n\n{before}Notes:\n\n{_parts(notes)}"
    )
    return [system(SECTION_SYSTEM), user(prompt)]
