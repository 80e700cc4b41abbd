"""Exact questions about a synthetic video, made from its ground truth, and how answers and
long descriptions are scored against it.

Four kinds, each with one right answer the generator knows:
- `text_after`: what text appeared on screen right after "RIVER 42"? (the next scene's caption)
- `text_at`: what text was on screen at 00:01:05?
- `colour_first`: which colour of shape appeared first: red or blue?
- `said_at`: what was said at 00:01:05? (right when the answer holds two of the sentence's
  three content words: its colour, its shape, and its place, which only the audio carries)
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from agentrun.graphs.video_qa.answers import LABEL, label_seconds
from agentrun.graphs.video_qa.retrieval import holds
from agentrun.media import timestamp_label
from agentrun.media.synthetic import SceneEvent

QuestionKind = Literal["text_after", "text_at", "colour_first", "said_at"]
KINDS: tuple[QuestionKind, ...] = ("text_after", "text_at", "colour_first", "said_at")

TEXT_AFTER = re.compile(r'What text appeared on screen right after "([^"]+)"\?')
TEXT_AT = re.compile(r"What text was on screen at (\d{2}:\d{2}:\d{2}(?:\.\d)?)\?")
COLOUR_FIRST = re.compile(r"Which colour of shape appeared first: (\w+) or (\w+)\?")
SAID_AT = re.compile(r"What was said at (\d{2}:\d{2}:\d{2}(?:\.\d)?)\?")


@dataclass(frozen=True)
class VideoQuestion:
    """A question, the words a right answer holds (`expected`), and the scene it is about."""

    kind: QuestionKind
    question: str
    expected: str
    scene: int
    options: tuple[str, ...] = ()


def clock(seconds: float) -> str:
    """`00:01:05` (with tenths where needed), as the questions write times."""
    return timestamp_label(seconds).strip("[]")


def clock_seconds(text: str) -> float:
    hours, minutes, seconds = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def scene_at(events: Sequence[SceneEvent], time: float) -> int | None:
    """The scene on screen at `time` (None past the end)."""
    for number, event in enumerate(events):
        if event.start <= time < event.end:
            return number
    return None


def make_questions(
    events: Sequence[SceneEvent], per_kind: int, seed: int, *, spoken: bool
) -> list[VideoQuestion]:
    """Up to `per_kind` questions of each kind (none about speech for a silent video)."""
    rng = random.Random(seed)
    questions: list[VideoQuestion] = []
    later = list(range(len(events) - 1))
    for number in rng.sample(later, min(per_kind, len(later))):
        text, after = events[number].text, events[number + 1].text
        question = f'What text appeared on screen right after "{text}"?'
        questions.append(VideoQuestion("text_after", question, after, number + 1))
    for number in rng.sample(range(len(events)), min(per_kind, len(events))):
        event = events[number]
        time = round(rng.uniform(event.start + 0.5, event.end - 0.5), 1)
        question = f"What text was on screen at {clock(time)}?"
        questions.append(VideoQuestion("text_at", question, event.text, number))
    firsts: dict[str, int] = {}
    for number, event in enumerate(events):
        firsts.setdefault(event.colour, number)
    colours = sorted(firsts)
    for _ in range(min(per_kind, len(colours) * (len(colours) - 1) // 2)):
        a, b = rng.sample(colours, 2)
        first = a if firsts[a] < firsts[b] else b
        question = f"Which colour of shape appeared first: {a} or {b}?"
        questions.append(VideoQuestion("colour_first", question, first, firsts[first], (a, b)))
    if spoken:
        heard = [n for n, e in enumerate(events) if e.speech_start is not None]
        for number in rng.sample(heard, min(per_kind, len(heard))):
            event = events[number]
            assert event.speech_start is not None and event.speech_end is not None
            time = round((event.speech_start + event.speech_end) / 2, 1)
            question = f"What was said at {clock(time)}?"
            said = " ".join((event.colour, event.shape, event.spoken[-1]))
            questions.append(VideoQuestion("said_at", question, said, number))
    return questions


def first_position(text: str, phrase: str) -> int | None:
    """Where `phrase` first occurs in `text` as words (case aside), or None."""
    match = re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text, re.IGNORECASE)
    return match.start() if match else None


def is_right(question: VideoQuestion, answer: str) -> bool:
    """Whether an answer is right: it holds the expected words; for a choice, the expected
    option is the first one it names; for speech, two of the three content words."""
    if question.kind == "said_at":
        return sum(holds(answer, word) for word in question.expected.split()) >= 2
    if question.kind == "colour_first":
        named = [(p, o) for o in question.options if (p := first_position(answer, o)) is not None]
        return bool(named) and min(named)[1] == question.expected
    return holds(answer, question.expected)


@dataclass(frozen=True)
class DescriptionScore:
    """How a long description covers the scenes: recall of their on-screen texts, the order of
    those it mentions, and how far each mention's nearest earlier timestamp is from the scene."""

    recall: float
    order_accuracy: float
    timestamp_error_s: float | None
    found: int
    scenes: int


def score_description(description: str, events: Sequence[SceneEvent]) -> DescriptionScore:
    """Recall, order accuracy (adjacent pairs of found scenes mentioned in order) and mean
    timestamp error of a description against the scenes."""
    positions = [first_position(description, event.text) for event in events]
    found = [(n, p) for n, p in enumerate(positions) if p is not None]
    pairs = list(itertools.pairwise(found))
    ordered = sum(1 for (_, a), (_, b) in pairs if a < b)
    labels = [(m.start(), label_seconds(m)) for m in LABEL.finditer(description)]
    errors = []
    for number, position in found:
        before = [time for where, time in labels if where < position]
        if before:
            errors.append(abs(before[-1] - events[number].start))
    return DescriptionScore(
        recall=len(found) / len(events) if events else 0.0,
        order_accuracy=ordered / len(pairs) if pairs else (1.0 if found else 0.0),
        timestamp_error_s=sum(errors) / len(errors) if errors else None,
        found=len(found),
        scenes=len(events),
    )
