"""The token-budgeted text splitter every workflow shares.

Text is cut at paragraph boundaries first, then at sentence boundaries, then (for a sentence
longer than the budget) at word boundaries, and the pieces are packed greedily into chunks of at
most `max_tokens`. Each chunk keeps its character offsets: `text[chunk.start:chunk.end]` is the
chunk's text, exactly.

Counting is the cost of splitting a long document: each unit is counted once, and each packed
chunk once more, since a chunk's count can exceed the sum of its units' (a tokenizer merges
across their boundaries differently). Counts are asked for in batches (`BatchCounter`), so a
tokenizer that releases the GIL counts on every core, and chunks are made as they are needed
(`iter_chunks`), so a caller that writes them as they come never holds them all.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from agentrun.errors import UsageError

TokenCounter = Callable[[str], int]
#: Counts several texts at once (in order); tokenizers that can, count them in parallel.
BatchCounter = Callable[[Sequence[str]], list[int]]

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"'”’)\]]*\s+|(?<=[。！？])")
_WORD_BREAK = re.compile(r"\s+")
_LEVELS = (_PARAGRAPH_BREAK, _SENTENCE_END, _WORD_BREAK)
#: Paragraphs counted per batch, and chunks checked per batch: enough to keep every core busy,
#: few enough that a batch's texts are a small part of a long document.
PARAGRAPH_BATCH = 256
CHUNK_BATCH = 8

Unit = tuple[int, int, int]  # (start, end, tokens)


@dataclass(frozen=True)
class TextChunk:
    index: int
    start: int
    end: int
    text: str
    tokens: int


def one_by_one(count: TokenCounter) -> BatchCounter:
    """A batch counter that counts with `count`, one text after another."""
    return lambda texts: [count(text) for text in texts]


def _spans(text: str, start: int, end: int, pattern: re.Pattern[str]) -> Iterator[tuple[int, int]]:
    """Split text[start:end] after each match of `pattern`; separators stay with the left piece."""
    cursor = start
    for match in pattern.finditer(text, start, end):
        if match.end() > cursor and match.end() < end:
            yield cursor, match.end()
            cursor = match.end()
    if cursor < end:
        yield cursor, end


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


def _units(
    text: str, max_tokens: int, count: TokenCounter, count_many: BatchCounter
) -> Iterator[Unit]:
    """(start, end, tokens) units, each within the budget, in order, covering the text; each
    piece of text is counted once, paragraphs in batches."""

    def counted(spans: Sequence[tuple[int, int]]) -> Iterator[Unit]:
        tokens = count_many([text[a:b] for a, b in spans])
        return ((a, b, n) for (a, b), n in zip(spans, tokens, strict=True))

    def walk(start: int, end: int, tokens: int, level: int) -> Iterator[Unit]:
        if tokens <= max_tokens:
            yield start, end, tokens
            return
        if level >= len(_LEVELS):
            for a, b in _hard_split(text, start, end, max_tokens, count):
                yield a, b, count(text[a:b])
            return
        spans = list(_spans(text, start, end, _LEVELS[level]))
        if len(spans) == 1:
            yield from walk(start, end, tokens, level + 1)
            return
        for a, b, n in counted(spans):
            yield from walk(a, b, n, level + 1)

    paragraphs = _spans(text, 0, len(text), _PARAGRAPH_BREAK)
    while batch := list(itertools.islice(paragraphs, PARAGRAPH_BATCH)):
        for a, b, n in counted(batch):
            yield from walk(a, b, n, 1)


def split_text(
    text: str, max_tokens: int, count: TokenCounter, *, overlap_tokens: int = 0
) -> list[TextChunk]:
    """Chunks of at most `max_tokens` (as `count` measures them), in source order.

    With `overlap_tokens`, each chunk after the first starts with whole units from the end of
    the previous chunk, up to that many tokens. (`iter_chunks` makes them one at a time, and
    counts in batches.)
    """
    return list(iter_chunks(text, max_tokens, count, overlap_tokens=overlap_tokens))


def iter_chunks(
    text: str,
    max_tokens: int,
    count: TokenCounter,
    *,
    overlap_tokens: int = 0,
    count_many: BatchCounter | None = None,
) -> Iterator[TextChunk]:
    """`split_text`'s chunks, made as they are asked for (the budgets are checked at once).
    `count_many`, when given, counts as `count` does, several texts at a time."""
    if max_tokens <= 0:
        raise UsageError(f"max_tokens must be positive, got {max_tokens}")
    if not 0 <= overlap_tokens < max_tokens:
        raise UsageError(f"overlap_tokens must be in [0, max_tokens), got {overlap_tokens}")
    return _chunks(text, max_tokens, count, overlap_tokens, count_many or one_by_one(count))


def _chunks(
    text: str, max_tokens: int, count: TokenCounter, overlap_tokens: int, count_many: BatchCounter
) -> Iterator[TextChunk]:
    if not text.strip():
        return
    units = _units(text, max_tokens - overlap_tokens, count, count_many)
    groups = _groups(units, max_tokens, overlap_tokens)
    index = 0
    while batch := list(itertools.islice(groups, CHUNK_BATCH)):
        tokens = count_many([text[group[0][0] : group[-1][1]] for group in batch])
        for group, group_tokens in zip(batch, tokens, strict=True):
            for start, end, chunk_tokens in _fit(group, group_tokens, text, max_tokens, count):
                yield TextChunk(index, start, end, text[start:end], chunk_tokens)
                index += 1


def _groups(units: Iterator[Unit], max_tokens: int, overlap_tokens: int) -> Iterator[list[Unit]]:
    """Units packed greedily by the sum of their counts, each group after the first starting
    with the previous group's last units (up to `overlap_tokens`)."""
    current: list[Unit] = []
    used = 0
    for unit in units:
        if current and used + unit[2] > max_tokens:
            yield current
            current = _overlap(current, overlap_tokens)
            used = sum(u[2] for u in current)
        current.append(unit)
        used += unit[2]
    if current:
        yield current


def _overlap(units: list[Unit], budget: int) -> list[Unit]:
    carried: list[Unit] = []
    used = 0
    for unit in reversed(units):
        if used + unit[2] > budget:
            break
        carried.insert(0, unit)
        used += unit[2]
    return carried


def _fit(
    group: list[Unit], tokens: int, text: str, max_tokens: int, count: TokenCounter
) -> Iterator[Unit]:
    """A group's real count (`tokens`) can exceed the sum of its units' counts; halve it until
    it fits."""
    if tokens <= max_tokens or len(group) == 1:
        yield group[0][0], group[-1][1], tokens
        return
    middle = len(group) // 2
    for half in (group[:middle], group[middle:]):
        yield from _fit(half, count(text[half[0][0] : half[-1][1]]), text, max_tokens, count)
