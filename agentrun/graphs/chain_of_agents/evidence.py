"""Evidence a worker hands on: sentences of its chunk cited by id (verbatim by construction),
quotes it retyped verified against its chunk, and a unit kept in budget.

A quote the model altered (fuzzy match, or a near match that negates differently:
`agentrun.text.quotes.locate`) or restated is mapped back to the source text it restates and
counted as restated; one that matches nothing is dropped. When new quotes push a unit over
`cu_tokens`, those sharing the fewest words with the question are evicted first (the oldest
first among equals); a single quote longer than the whole budget is cut at the last sentence end
that fits, else the last word boundary (else the last character), keeping
`chunk[start:end] == text`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from agentrun.graphs.chain_of_agents.models import CommunicationUnit, Quote
from agentrun.text.quotes import (
    FUNCTION_WORDS,
    grapheme_boundaries,
    locate,
    match_sentence,
    number_sentences,
    word_boundaries,
    words,
)


@dataclass(frozen=True)
class QuoteCounts:
    """What happened to one worker's quotes (summed over the run)."""

    dropped: int = 0
    restated: int = 0
    evicted: int = 0
    truncated: int = 0
    invalid_ids: int = 0

    def update(self) -> dict[str, int]:
        return {
            "invalid_ids": self.invalid_ids,
            "dropped_quotes": self.dropped,
            "restated_quotes": self.restated,
            "evicted_quotes": self.evicted,
            "truncated_quotes": self.truncated,
        }


_SENTENCE_END = re.compile(r"[.!?。！？][\"'”’)\]]*(?=\s|$)|[。！？]")


def _cut_points(text: str) -> list[list[int]]:
    """Where a quote may be cut, best kind first: after a sentence end, at a word boundary
    (between any two characters where words are not spaced), at any grapheme boundary."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text) if m.end() < len(text)]
    return [ends, word_boundaries(text)[1:-1], grapheme_boundaries(text)[1:-1]]


def _truncate(quote: Quote, fits: Callable[[Quote], bool]) -> Quote | None:
    """The longest prefix of `quote` that `fits`, cut at the best kind of point that allows one."""
    for points in _cut_points(quote.text):
        best: Quote | None = None
        low, high = 0, len(points) - 1
        while low <= high:  # prefixes grow with the cut point: binary search the last that fits
            middle = (low + high) // 2
            text = quote.text[: points[middle]].rstrip()
            cut = quote.model_copy(
                update={"text": text, "end": quote.start + len(text), "truncated": True}
            )
            if text and fits(cut):
                best, low = cut, middle + 1
            else:
                high = middle - 1
        if best is not None:
            return best
    return None


def trim(
    unit: CommunicationUnit, budget: int, count: Callable[[str], int], query: str | None = None
) -> tuple[CommunicationUnit, int, int]:
    """Evict quotes until the rendered unit fits its budget, those sharing the fewest words with
    `query` first and the oldest first among equals (a small model cites many sentences, and the
    one that answers must not make way for later ones that do not); a last quote that is alone
    over budget is truncated rather than evicted. Returns the unit, how many quotes were evicted
    and how many truncated."""

    def fits(quotes: list[Quote]) -> bool:
        return count(unit.model_copy(update={"quotes": quotes}).render()) <= budget

    asked = set(words(query or "")) - FUNCTION_WORDS
    order = sorted(
        range(len(unit.quotes)), key=lambda i: (len(asked & set(words(unit.quotes[i].text))), i)
    )
    gone: set[int] = set()
    quotes = unit.quotes
    for index in order:
        if len(quotes) <= 1 or fits(quotes):
            break
        gone.add(index)
        quotes = [quote for i, quote in enumerate(unit.quotes) if i not in gone]
    evicted = len(gone)
    truncated = 0
    if quotes and not fits(quotes):
        cut = _truncate(quotes[0], lambda quote: fits([quote]))
        quotes, truncated = ([cut], 1) if cut is not None else ([], 0)
        evicted += cut is None
    return unit.model_copy(update={"quotes": quotes}), evicted, truncated


def cite_sentences(
    ids: list[int], chunk_index: int, text: str, quotes: list[Quote]
) -> tuple[list[Quote], list[int]]:
    """`quotes` with the sentences of the chunk `ids` name appended (numbered as
    `agentrun.text.quotes.number_sentences` shows them; verbatim, with offsets, each once), and
    the ids the chunk has no sentence for."""
    numbered = number_sentences(text)
    known = {quote.text for quote in quotes}
    quotes, invalid = list(quotes), []
    for sentence_id in ids:
        span = numbered.span(sentence_id)
        if span is None:
            invalid.append(sentence_id)
        elif text[span[0] : span[1]] not in known:
            known.add(text[span[0] : span[1]])
            quotes.append(Quote(text=text[span[0] : span[1]], chunk=chunk_index, start=span[0],
                                end=span[1]))  # fmt: skip
    return quotes, invalid


def verify_quotes(
    candidates: list[str], chunk_index: int, text: str, previous: CommunicationUnit
) -> tuple[list[Quote], int, int]:
    """Quotes found in the chunk (verbatim, with offsets), new ones appended; how many of the
    candidates matched nothing and were dropped; and how many were not written verbatim
    (a fuzzy match or a restatement, kept as the source text they restate)."""
    known = {quote.text for quote in previous.quotes}
    quotes = list(previous.quotes)
    dropped = restated = 0
    for candidate in candidates:
        span = locate(text, candidate) or match_sentence(text, candidate)
        if span is None:
            dropped += 1
            continue
        restated += span.match in ("fuzzy", "paraphrase")
        if span.text not in known:
            known.add(span.text)
            quotes.append(Quote(text=span.text, chunk=chunk_index, start=span.start, end=span.end))
    return quotes, dropped, restated
