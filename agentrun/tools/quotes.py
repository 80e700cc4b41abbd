"""Finding a model's quote in its source, so no workflow reasons over text that is not there.

A quote is located by, in order: exact match; match under Unicode compatibility normalization
(NFKC-equivalent), case folding and whitespace collapsing; then fuzzy alignment above a
threshold. Every match is mapped back to the original text: `source[span.start:span.end]` is the
kept quote, which may differ from what the model wrote. `match_sentence` goes one step further
for models that cannot copy at all: it maps a restatement to the source sentence it restates.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz

MatchKind = Literal["exact", "normalized", "fuzzy", "paraphrase"]

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


_SENTENCE = re.compile(r"[^.!?。！？\n]+(?:[.!?。！？]+[\"'”’)\]]*|$)")
_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an the of in on at to for from by with and or but is was were be been are it its this "
        "that these those as which who whom what when where why how did do does has have had not",
    )
)


def content_words(text: str) -> set[str]:
    """Lower-cased words of a text without the commonest function words."""
    return {w for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOPWORDS}


def sentences(source: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `source`, without surrounding whitespace."""
    spans = []
    for match in _SENTENCE.finditer(source):
        start, end = match.start(), match.end()
        while start < end and source[start].isspace():
            start += 1
        while end > start and source[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def match_sentence(
    source: str, text: str, *, min_overlap: float = 0.5, min_words: int = 3
) -> QuoteSpan | None:
    """The sentence of `source` that `text` restates, judged by shared content words.

    For models that cannot copy: their restatement of a sentence is mapped back to the sentence
    itself, which is then the evidence kept (verbatim, with offsets). Words are weighted by how
    rare they are among the source's sentences, so a shared name that occurs everywhere counts
    for less than a shared rare word.
    """
    wanted = content_words(text)
    if len(wanted) < min_words:
        return None
    spans = sentences(source)
    words_of = [content_words(source[start:end]) for start, end in spans]
    frequency: Counter[str] = Counter(w for words in words_of for w in words & wanted)
    weight = {w: math.log((1 + len(spans)) / (1 + frequency[w])) + 1.0 for w in wanted}
    total = sum(weight.values())
    best: tuple[float, int, int] | None = None
    for (start, end), words in zip(spans, words_of, strict=True):
        shared = wanted & words
        score = sum(weight[w] for w in shared) / total
        if len(shared) >= min_words and score >= min_overlap and (best is None or score > best[0]):
            best = (score, start, end)
    if best is None:
        return None
    score, start, end = best
    return QuoteSpan(start, end, source[start:end], "paraphrase", round(100 * score, 1))
