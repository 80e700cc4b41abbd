"""A scripted vision model for synthetic videos: it answers from the generator's ground truth,
wrong at a seeded rate, so evals and tests measure a workflow's aggregation and retrieval
without a real model.

It "sees" exactly the frames a call sends: the `[HH:MM:SS]` text part before each image says
when the frame was taken, and the ground truth says what was on screen then. It reads the text
a prompt gives it (on-screen text, speech) literally, and it can hear nothing. Each kind of call
is told apart by its system message:

- caption: one line per scene seen, at the first frame that shows it (with an error, another
  colour or another caption text); from on-screen text only, for the text-model path;
- merge: the parts' timed lines, a scene repeated across parts kept once, shortened to fit the
  word limit, then cut;
- section: a sentence per timed line of the notes, then neutral sentences up to the asked
  length (so the workflow's share of words per section is what is tested);
- answer: the four question kinds of `agentrun.evals.video_questions`, from the frames seen
  and the speech lines given, citing the frames or lines used.

Errors are decided by a hash of (seed, what is described), so a repeated or resumed call gets
the same reply.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from agentrun.agents.messages import Message, text_of
from agentrun.evals import video_questions as vq
from agentrun.graphs.long_caption.prompts import CAPTION_SYSTEM, MERGE_SYSTEM, SECTION_SYSTEM
from agentrun.graphs.video_qa.answers import LABEL, label_seconds
from agentrun.graphs.video_qa.prompts import ANSWER_SYSTEM
from agentrun.media import timestamp_label
from agentrun.media.synthetic import CAPTION_WORDS, COLOURS, SceneEvent

_SAID = re.compile(r"(\[[\d:.]+\])-(\[[\d:.]+\]) said: \u201c([^\u201d]*)\u201d")
_WORD_LIMIT = re.compile(r"(?:at most|about) (\d+) words")
_SCENE = re.compile(r'An? (\w+) (\w+) appears; the on-screen text reads "([^"]+)"\.')
FILLER = "The picture holds steady for a moment."


@dataclass(frozen=True)
class Seen:
    """A scene the model saw, at the first frame that showed it."""

    scene: int
    time: float


def frame_times(messages: Sequence[Message]) -> list[float]:
    """When each frame sent was taken: the label part right before each image part."""
    times = []
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for before, part in itertools.pairwise(content):
            label = LABEL.fullmatch(str(before.get("text", "")).strip())
            if part.get("type") == "image_url" and label is not None:
                times.append(label_seconds(label))
    return times


def _system(messages: Sequence[Message]) -> str:
    return next((str(m.get("content")) for m in messages if m.get("role") == "system"), "")


def _limit(prompt: str, default: int) -> int:
    found = _WORD_LIMIT.search(prompt)
    return int(found.group(1)) if found else default


class ScriptedVLM:
    """A reply function for `agentrun.agents.testing.scripted_model` (see the module doc)."""

    def __init__(
        self, events: Sequence[SceneEvent], *, error_rate: float = 0.0, seed: int = 0
    ) -> None:
        if not 0 <= error_rate <= 1:
            raise ValueError(f"error_rate must be within 0..1, not {error_rate}")
        self.events = tuple(events)
        self.error_rate = error_rate
        self.seed = seed
        self.calls: dict[str, int] = {}

    def __call__(self, messages: list[Message]) -> str:
        kind = {CAPTION_SYSTEM: "caption", MERGE_SYSTEM: "merge", SECTION_SYSTEM: "section",
                ANSWER_SYSTEM: "answer"}.get(_system(messages), "other")  # fmt: skip
        self.calls[kind] = self.calls.get(kind, 0) + 1
        prompt = text_of([m for m in messages if m.get("role") == "user"])
        if kind == "caption":
            times = frame_times(messages)
            return self.caption(times) if times else self.caption_from_text(prompt)
        if kind == "merge":
            return merge(prompt)
        if kind == "section":
            return write(prompt)
        if kind == "answer":
            return self.answer(prompt, frame_times(messages))
        return "I can only describe videos."

    # --- what the frames show ----------------------------------------------------------------

    def wrong(self, *what: object) -> bool:
        """Whether this description errs: a coin seeded by the seed and what is described."""
        return random.Random(repr((self.seed, *what))).random() < self.error_rate

    def seen(self, times: Sequence[float]) -> list[Seen]:
        """The scenes the frames show, in order, each at its first frame."""
        found: dict[int, float] = {}
        for time in sorted(times):
            scene = vq.scene_at(self.events, time)
            if scene is not None:
                found.setdefault(scene, time)
        return [Seen(scene, time) for scene, time in found.items()]

    def line(self, seen: Seen) -> str:
        event = self.events[seen.scene]
        colour, text = event.colour, event.text
        if self.wrong("caption", seen.scene, seen.time):
            other = random.Random(repr((self.seed, "wrong", seen.scene)))
            if other.random() < 0.5:
                colour = other.choice([c for c in sorted(COLOURS) if c != colour])
            else:
                text = f"{other.choice(CAPTION_WORDS)} {other.randint(10, 99)}"
        label = timestamp_label(seen.time)
        article = "An" if colour[0] in "aeiou" else "A"
        return (
            f'{label} {article} {colour} {event.shape} appears; the on-screen text reads "{text}".'
        )

    def caption(self, times: Sequence[float]) -> str:
        return "\n".join(self.line(seen) for seen in self.seen(times))

    def caption_from_text(self, prompt: str) -> str:
        lines = []
        for match in re.finditer(r"^(\[[\d:.]+\]) (.+)$", prompt, re.MULTILINE):
            lines.append(f'{match.group(1)} The on-screen text reads "{match.group(2)}".')
        return "\n".join(lines)

    # --- answers -----------------------------------------------------------------------------

    def answer(self, prompt: str, times: Sequence[float]) -> str:
        seen = self.seen(times)
        if found := vq.TEXT_AFTER.search(prompt):
            return self._text_after(found.group(1), seen)
        if found := vq.TEXT_AT.search(prompt):
            return self._text_at(vq.clock_seconds(found.group(1)), times)
        if found := vq.COLOUR_FIRST.search(prompt):
            return self._colour_first((found.group(1), found.group(2)), seen)
        if found := vq.SAID_AT.search(prompt):
            return self._said_at(vq.clock_seconds(found.group(1)), prompt)
        return "I cannot tell from what I was shown."

    def _reply(self, right: str, wrong: str, label: str, *what: object) -> str:
        return f"{wrong if self.wrong('answer', *what) else right} {label}"

    def _text_after(self, text: str, seen: list[Seen]) -> str:
        shown = [s for s in seen if self.events[s.scene].text.lower() == text.lower()]
        later = [s for s in seen if shown and s.scene > shown[0].scene]
        if not later:
            return "I cannot tell from these frames."
        after = later[0]
        other = f"{random.Random(repr((self.seed, text))).choice(CAPTION_WORDS)} 11"
        return self._reply(f'"{self.events[after.scene].text}"', f'"{other}"',
                           timestamp_label(after.time), "after", text)  # fmt: skip

    def _text_at(self, time: float, times: Sequence[float]) -> str:
        before = [t for t in times if t <= time + 0.5 and time - t <= 5.0]
        scene = vq.scene_at(self.events, before[-1]) if before else None
        if scene is None:
            return "I cannot tell from these frames."
        other = f"{random.Random(repr((self.seed, time))).choice(CAPTION_WORDS)} 11"
        return self._reply(f'"{self.events[scene].text}"', f'"{other}"',
                           timestamp_label(before[-1]), "at", time)  # fmt: skip

    def _colour_first(self, options: tuple[str, str], seen: list[Seen]) -> str:
        firsts = [(s.time, self.events[s.scene].colour) for s in seen
                  if self.events[s.scene].colour in options]  # fmt: skip
        if not firsts:
            return "I cannot tell from these frames."
        time, colour = min(firsts)
        other = options[1] if colour == options[0] else options[0]
        return self._reply(f"The {colour} one.", f"The {other} one.", timestamp_label(time),
                           "first", options)  # fmt: skip

    def _said_at(self, time: float, prompt: str) -> str:
        for start, end, words in _SAID.findall(prompt):
            begins = label_seconds(LABEL.fullmatch(start))  # type: ignore[arg-type]
            ends = label_seconds(LABEL.fullmatch(end))  # type: ignore[arg-type]
            if begins - 1.0 <= time <= ends + 1.0:
                return self._reply(f"They said: \u201c{words}\u201d", "They said nothing.",
                                   start, "said", time)  # fmt: skip
        return "I cannot tell: nothing said then was given to me."


# --- the text model's side: merges and sections ---------------------------------------------------


def timed_lines(prompt: str) -> list[str]:
    """The lines of a prompt that start with a timestamp label."""
    return [line.strip() for line in prompt.splitlines() if LABEL.match(line.strip())]


def _short(line: str) -> str:
    found = _SCENE.search(line)
    label = LABEL.match(line)
    if found is None or label is None:
        return line
    colour, shape, text = found.groups()
    return f'{label.group(0)} {colour} {shape}, "{text}".'


def _body(line: str) -> str:
    return LABEL.sub("", line, count=1).strip()


def distinct_lines(text: str) -> list[str]:
    """The timed lines in order, a line that repeats the one before (the same scene seen at a
    part boundary) left out."""
    kept: list[str] = []
    for line in timed_lines(text):
        if not kept or _body(kept[-1]) != _body(line):
            kept.append(line)
    return kept


def merge(prompt: str) -> str:
    """The parts' distinct lines in order, within the word limit (shortened, then cut)."""
    limit = _limit(prompt, 250)
    kept = distinct_lines(prompt)
    if len(" ".join(kept).split()) > limit:
        kept = [_short(line) for line in kept]
    while kept and len(" ".join(kept).split()) > limit:
        kept.pop()
    return "\n".join(kept)


def write(prompt: str) -> str:
    """A sentence per timed note, then filler sentences up to about the asked length."""
    notes = prompt.split("Notes:", 1)[-1]
    target = _limit(prompt, 100)
    sentences = []
    for line in distinct_lines(notes):
        label = LABEL.match(line)
        assert label is not None
        body = line[label.end() :].strip()
        sentences.append(f"At {label.group(0)}, {body[:1].lower()}{body[1:]}")
    text = " ".join(sentences)
    while len(text.split()) + len(FILLER.split()) <= target:
        text = f"{text} {FILLER}".strip()
    return text
