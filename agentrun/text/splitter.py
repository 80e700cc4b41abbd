"""The token-budgeted text splitter every workflow shares.

Text is cut at paragraph boundaries first, then at sentence boundaries, then (for a sentence
longer than the budget) at word boundaries, and the pieces are packed greedily into chunks of at
most `max_tokens`. Each chunk keeps its character offsets: `text[chunk.start:chunk.end]` is the
chunk's text, exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from agentrun.errors import UsageError

TokenCounter = Callable[[str], int]

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"'”’)\]]*\s+|(?<=[。！？])")
_WORD_BREAK = re.compile(r"\s+")


@dataclass(frozen=True)
class TextChunk:
    index: int
    start: int
    end: int
    text: str
    tokens: int


def _spans(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """Split text[start:end] after each match of `pattern`; separators stay with the left piece."""
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in pattern.finditer(text, start, end):
        if match.end() > cursor and match.end() < end:
            spans.append((cursor, match.end()))
            cursor = match.end()
    if cursor < end:
        spans.append((cursor, end))
    return spans


def _hard_split(
    text: str, start: int, end: int, max_tokens: int, count: TokenCounter
) -> list[tuple[int, int]]:
    """Pieces of a single over-long run of characters, cut by binary search on length."""
    pieces: list[tuple[int, int]] = []
    cursor = start
    while cursor < end:
        low, high = cursor + 1, end
        while low < high:
            middle = (low + high + 1) // 2
            if count(text[cursor:middle]) <= max_tokens:
                low = middle
            else:
                high = middle - 1
        pieces.append((cursor, low))
        cursor = low
    return pieces


def _units(text: str, max_tokens: int, count: TokenCounter) -> Iterator[tuple[int, int, int]]:
    """(start, end, tokens) units, each within the budget, in order, covering the text."""
    levels = (_PARAGRAPH_BREAK, _SENTENCE_END, _WORD_BREAK)

    def walk(start: int, end: int, level: int) -> Iterator[tuple[int, int, int]]:
        tokens = count(text[start:end])
        if tokens <= max_tokens:
            yield start, end, tokens
            return
        if level >= len(levels):
            for a, b in _hard_split(text, start, end, max_tokens, count):
                yield a, b, count(text[a:b])
            return
        spans = _spans(text, start, end, levels[level])
        if len(spans) == 1:
            yield from walk(start, end, level + 1)
            return
        for a, b in spans:
            yield from walk(a, b, level + 1)

    paragraphs = _spans(text, 0, len(text), _PARAGRAPH_BREAK)
    for a, b in paragraphs:
        yield from walk(a, b, 1)


def split_text(
    text: str,
    max_tokens: int,
    count: TokenCounter,
    *,
    overlap_tokens: int = 0,
) -> list[TextChunk]:
    """Chunks of at most `max_tokens` (as `count` measures them), in source order.

    With `overlap_tokens`, each chunk after the first starts with whole units from the end of
    the previous chunk, up to that many tokens.
    """
    if max_tokens <= 0:
        raise UsageError(f"max_tokens must be positive, got {max_tokens}")
    if not 0 <= overlap_tokens < max_tokens:
        raise UsageError(f"overlap_tokens must be in [0, max_tokens), got {overlap_tokens}")
    if not text.strip():
        return []
    units = list(_units(text, max_tokens - overlap_tokens, count))
    groups: list[list[tuple[int, int, int]]] = []
    current: list[tuple[int, int, int]] = []
    used = 0
    for unit in units:
        if current and used + unit[2] > max_tokens:
            groups.append(current)
            current = _overlap(current, overlap_tokens)
            used = sum(u[2] for u in current)
        current.append(unit)
        used += unit[2]
    if current:
        groups.append(current)
    chunks: list[TextChunk] = []
    for group in groups:
        for start, end, tokens in _fit(group, text, max_tokens, count):
            chunks.append(TextChunk(len(chunks), start, end, text[start:end], tokens))
    return chunks


def _overlap(units: list[tuple[int, int, int]], budget: int) -> list[tuple[int, int, int]]:
    carried: list[tuple[int, int, int]] = []
    used = 0
    for unit in reversed(units):
        if used + unit[2] > budget:
            break
        carried.insert(0, unit)
        used += unit[2]
    return carried


def _fit(
    group: list[tuple[int, int, int]], text: str, max_tokens: int, count: TokenCounter
) -> Iterator[tuple[int, int, int]]:
    """A group's real count can exceed the sum of its units' counts; halve it until it fits."""
    start, end = group[0][0], group[-1][1]
    tokens = count(text[start:end])
    if tokens <= max_tokens or len(group) == 1:
        yield start, end, tokens
        return
    middle = len(group) // 2
    yield from _fit(group[:middle], text, max_tokens, count)
    yield from _fit(group[middle:], text, max_tokens, count)
