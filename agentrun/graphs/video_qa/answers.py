"""The timestamps an answer cites, and whether each lies in what the model was shown."""

from __future__ import annotations

import re
from collections.abc import Sequence

from agentrun.graphs.video_qa.models import Citation, Retrieved
from agentrun.media import timestamp_label

LABEL = re.compile(r"\[(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d))?\]")
#: A cited time this close to a frame sent is that frame's.
NEAR_FRAME_S = 1.0


def label_seconds(match: re.Match[str]) -> float:
    hours, minutes, seconds, tenths = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + int(tenths or 0) / 10


def cited_times(text: str) -> list[float]:
    """Every `[HH:MM:SS(.t)]` label in `text`, in order, each once."""
    return list(dict.fromkeys(label_seconds(m) for m in LABEL.finditer(text)))


def citations(
    answer: str, retrieved: Sequence[Retrieved], frames: Sequence[float]
) -> list[Citation]:
    """The answer's citations; grounded when inside a segment sent or at a frame sent."""
    found = []
    for time in cited_times(answer):
        inside = any(item.start <= time <= item.end for item in retrieved)
        near = any(abs(time - frame) <= NEAR_FRAME_S for frame in frames)
        found.append(Citation(time=time, label=timestamp_label(time), grounded=inside or near))
    return found
