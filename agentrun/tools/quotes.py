"""Finding a model's quote in its source, so no workflow reasons over text that is not there.

A quote is located by, in order: exact match; match under Unicode compatibility normalization
(NFKC-equivalent), case folding and whitespace collapsing; then fuzzy alignment above a
threshold. Every match is mapped back to the original text: `source[span.start:span.end]` is the
kept quote, which may differ from what the model wrote.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz

MatchKind = Literal["exact", "normalized", "fuzzy"]

#: Quotes shorter than this many characters are too ambiguous to verify fuzzily.
MIN_FUZZY_LENGTH = 12


@dataclass(frozen=True)
class QuoteSpan:
    start: int
    end: int
    text: str
    match: MatchKind
    score: float


def _fold_char(char: str) -> str:
    """Compatibility-decomposed, case-folded form of one character."""
    return unicodedata.normalize("NFKD", char).casefold()


def _folded(text: str) -> tuple[str, list[int]]:
    """Normalized text and, for each of its characters, the index of the source character.

    Whitespace runs become one space; leading and trailing whitespace is dropped.
    """
    chars: list[str] = []
    origin: list[int] = []
    in_space = False
    for index, char in enumerate(text):
        if char.isspace():
            if chars and not in_space:
                chars.append(" ")
                origin.append(index)
            in_space = True
            continue
        in_space = False
        for piece in _fold_char(char):
            chars.append(piece)
            origin.append(index)
    while chars and chars[-1] == " ":
        chars.pop()
        origin.pop()
    return "".join(chars), origin


def _span(source: str, origin: list[int], start: int, end: int) -> tuple[int, int]:
    """Original [start, end) for normalized [start, end), widened to whole characters."""
    first = origin[start]
    last = origin[end - 1]
    stop = last + 1
    # Keep combining marks that follow the last character (they belong to it).
    while stop < len(source) and unicodedata.combining(source[stop]):
        stop += 1
    return first, stop


def locate(source: str, quote: str, *, fuzzy_threshold: float = 90.0) -> QuoteSpan | None:
    """Where `quote` is in `source`, or None when it cannot be found well enough."""
    needle = quote.strip()
    if not needle or not source:
        return None
    exact = source.find(needle)
    if exact != -1:
        return QuoteSpan(exact, exact + len(needle), needle, "exact", 100.0)
    folded_source, origin = _folded(source)
    folded_quote, _ = _folded(needle)
    if not folded_quote:
        return None
    position = folded_source.find(folded_quote)
    if position != -1:
        start, end = _span(source, origin, position, position + len(folded_quote))
        return QuoteSpan(start, end, source[start:end], "normalized", 100.0)
    if len(folded_quote) < MIN_FUZZY_LENGTH or len(folded_quote) > len(folded_source):
        return None
    alignment = fuzz.partial_ratio_alignment(folded_quote, folded_source)
    if alignment is None or alignment.score < fuzzy_threshold:
        return None
    if alignment.dest_end <= alignment.dest_start:
        return None
    start, end = _widen_to_words(
        source, *_span(source, origin, alignment.dest_start, alignment.dest_end)
    )
    return QuoteSpan(start, end, source[start:end], "fuzzy", float(alignment.score))


def _widen_to_words(source: str, start: int, end: int) -> tuple[int, int]:
    """A fuzzy alignment may cut a word; extend the span to whole words."""
    while start > 0 and source[start - 1].isalnum() and source[start].isalnum():
        start -= 1
    while end < len(source) and source[end - 1].isalnum() and source[end].isalnum():
        end += 1
    return start, end
