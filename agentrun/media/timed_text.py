"""Timestamped text found in a video: on-screen text (OCR) and speech (ASR).

Both kinds share one record so that retrieval over a video (Video-RAG) can store them side by
side as memory keyed by time, next to the frames' captions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

TextKind = Literal["ocr", "speech"]


@dataclass(frozen=True)
class TimedWord:
    """One recognised word, seen or heard from `start` to `end` seconds; confidence 0..1."""

    word: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True)
class TimedText:
    """Text on screen or spoken from `start` to `end` seconds, with its words."""

    kind: TextKind
    start: float
    end: float
    text: str
    words: tuple[TimedWord, ...]

    @property
    def confidence(self) -> float:
        """The mean of the words' confidences (0 without words)."""
        return sum(w.confidence for w in self.words) / len(self.words) if self.words else 0.0


def merge_repeats(records: Iterable[TimedText]) -> list[TimedText]:
    """Records of the same kind and text (case and spacing aside) that follow each other without
    a gap become one spanning them all: text that stays on screen is one record, not one a frame.
    """
    merged: list[TimedText] = []
    for record in records:
        last = merged[-1] if merged else None
        if last is not None and _continues(last, record):
            end = max(last.end, record.end)
            words = tuple(replace(word, end=end) for word in last.words)
            merged[-1] = replace(last, end=end, words=words)
        else:
            merged.append(record)
    return merged


def _continues(last: TimedText, record: TimedText) -> bool:
    same_text = " ".join(last.text.lower().split()) == " ".join(record.text.lower().split())
    return last.kind == record.kind and same_text and record.start <= last.end
