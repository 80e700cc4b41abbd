"""How a proposed quote is found in its source (whether the facts hold the answer is
`agentrun.graphs.long_doc.ground_answer`, shared with chain-of-agents)."""

from __future__ import annotations

import dataclasses

from rapidfuzz import fuzz

from agentrun.graphs.retrieve_then_reason.models import Proposal, Stage
from agentrun.memory.records import DocumentChunk
from agentrun.text.quotes import (
    QuoteSpan,
    content_words,
    locate,
    match_sentence,
    number_sentences,
    sentences,
)

#: A fuzzy threshold no score reaches: exact and normalized matches only.
STRICT = 101.0

# --- sentences cited by id ----------------------------------------------------------------------


def cited_sentences(chunk: DocumentChunk, ids: list[int], stage: Stage) -> list[Proposal]:
    """The sentences of `chunk` (numbered as `agentrun.text.quotes.number_sentences` shows
    them) that `ids` name, verbatim with document offsets; an id the chunk does not have is a
    proposal not found (`text` is the id as cited), so it is counted and re-asked."""
    numbered = number_sentences(chunk.text)
    proposals = []
    for sentence_id in ids:
        span = numbered.span(sentence_id)
        proposal = Proposal(
            chunk=chunk.index, text=f"[{sentence_id}]", found=False, stage=stage,
            sentence=sentence_id,
        )  # fmt: skip
        if span is not None:
            start, end = span
            proposal = proposal.model_copy(
                update={"text": chunk.text[start:end], "found": True, "match": "reference",
                        "start": chunk.start + start, "end": chunk.start + end}
            )  # fmt: skip
        proposals.append(proposal)
    return proposals


# --- verification ------------------------------------------------------------------------------


def _shift(span: QuoteSpan, offset: int) -> QuoteSpan:
    return dataclasses.replace(span, start=span.start + offset, end=span.end + offset)


def locate_quote(
    document: str, chunk: DocumentChunk, quote: str, threshold: float
) -> tuple[QuoteSpan, bool] | None:
    """A quote's span in document offsets, and whether it leaves its chunk; None if not found.

    Exact and normalized matches are tried in the chunk, then in the whole document (so a quote
    across a chunk boundary is kept whole); only then fuzzy matches, the better of chunk and
    document winning (ties go to the chunk).
    """
    strict = locate(chunk.text, quote, fuzzy_threshold=STRICT)
    if strict is not None:
        return _shift(strict, chunk.start), False
    found = locate(document, quote, fuzzy_threshold=STRICT)
    if found is None:
        near = locate(chunk.text, quote, fuzzy_threshold=threshold)
        far = locate(document, quote, fuzzy_threshold=threshold)
        if near is not None and (far is None or near.score >= far.score):
            return _shift(near, chunk.start), False
        found = far
    if found is None:
        return None
    return found, not (chunk.start <= found.start and found.end <= chunk.end)


def locate_answer_sentence(
    chunk: DocumentChunk, answer: str, query: str, threshold: float
) -> QuoteSpan | None:
    """The chunk's sentence that contains the answer words and shares most words with the
    question (document offsets), or None when the words are not in the chunk."""
    wanted = content_words(query)
    best: tuple[int, int, int, QuoteSpan] | None = None
    for start, end in sentences(chunk.text):
        found = locate(chunk.text[start:end], answer, fuzzy_threshold=threshold)
        if found is None:
            continue
        score = len(content_words(chunk.text[start:end]) & wanted)
        if best is None or score > best[0]:
            best = (score, start, end, found)
    if best is None:
        found = locate(chunk.text, answer, fuzzy_threshold=threshold)
        if found is None:
            return None
        bounds = [(s, e) for s, e in sentences(chunk.text) if s < found.end and e > found.start]
        start = min([found.start, *(s for s, _ in bounds)])
        end = max([found.end, *(e for _, e in bounds)])
        best = (0, start, end, found)
    _, start, end, found = best
    text = chunk.text[start:end]
    return QuoteSpan(chunk.start + start, chunk.start + end, text, found.match, found.score)


def map_paraphrases(
    chunk: DocumentChunk, texts: list[str], known: set[tuple[int | None, int | None]]
) -> list[Proposal]:
    """For models that cannot copy: each text that restates a sentence of its chunk
    (`agentrun.text.quotes.match_sentence`) becomes that sentence, verbatim, unless known."""
    mapped: list[Proposal] = []
    seen = set(known)
    for text in texts:
        span = match_sentence(chunk.text, text)
        if span is None:
            continue
        start, end = chunk.start + span.start, chunk.start + span.end
        if (start, end) in seen:
            continue
        seen.add((start, end))
        mapped.append(
            Proposal(
                chunk=chunk.index,
                text=text,
                found=True,
                stage="paraphrase",
                start=start,
                end=end,
                match="paraphrase",
            )
        )
    return mapped


#: Two words are the same word, misspelt, at this rapidfuzz ratio or above.
SAME_WORD_RATIO = 85.0


def _shares_words(missing: str, found: str) -> bool:
    """Whether `found` (source text) restates `missing`: at least half of the content words of
    `missing` occur in it, allowing for misspellings."""
    wanted, there = content_words(missing), content_words(found)
    if not wanted:
        return False
    shared = sum(
        word in there or any(fuzz.ratio(word, other) >= SAME_WORD_RATIO for other in there)
        for word in wanted
    )
    return 2 * shared >= len(wanted)


def replaced(missing: list[str], found: list[str]) -> list[tuple[str, str]]:
    """Pairs (quote not found, new source text) where the re-ask's new text replaces that quote;
    each used once. A new sentence about something else recovers nothing: it is a new fact."""
    pairs: list[tuple[str, str]] = []
    unused = list(found)
    for quote in missing:
        match = next((text for text in unused if _shares_words(quote, text)), None)
        if match is not None:
            unused.remove(match)
            pairs.append((quote, match))
    return pairs
