"""The shared splitter: budgets hold, offsets are exact, boundaries are natural."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentrun.agents.tokens import count_cl100k, count_cl100k_many
from agentrun.errors import UsageError
from agentrun.text.splitter import (
    CHUNK_BATCH,
    BatchCounter,
    TextChunk,
    iter_chunks,
    split_text,
)

PARAGRAPHS = [
    "The harbour opened in 1821. Boats came from the north. Trade grew fast!",
    "A storm in 1854 broke the pier. It was rebuilt within a year? Nobody knows.",
    "東京は日本の首都です。大阪は大きな都市です。",
    "Emoji 🙂 and combining marks: e\u0301te\u0301 stay intact.",
]
texts = st.lists(
    st.one_of(st.sampled_from(PARAGRAPHS), st.text(min_size=1, max_size=300)),
    min_size=1,
    max_size=12,
).map("\n\n".join)


@settings(max_examples=150, deadline=None)
@given(text=texts, budget=st.integers(min_value=4, max_value=120))
def test_chunks_cover_the_text_within_budget_with_exact_offsets(text: str, budget: int) -> None:
    chunks = split_text(text, budget, count_cl100k)
    if not text.strip():
        assert chunks == []
        return
    assert_cover_within_budget(chunks, text, budget)


def assert_cover_within_budget(chunks: list[TextChunk], text: str, budget: int) -> None:
    """The chunks are the text, in order, with exact offsets and counts within the budget."""
    assert "".join(c.text for c in chunks) == text
    for index, chunk in enumerate(chunks):
        assert chunk.index == index
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.tokens == count_cl100k(chunk.text) <= budget


@settings(max_examples=60, deadline=None)
@given(text=texts, budget=st.integers(min_value=20, max_value=120), overlap=st.integers(0, 15))
def test_overlap_repeats_at_most_overlap_tokens_of_the_previous_chunk(
    text: str, budget: int, overlap: int
) -> None:
    chunks = split_text(text, budget, count_cl100k, overlap_tokens=overlap)
    batched = list(
        iter_chunks(
            text, budget, count_cl100k, overlap_tokens=overlap, count_many=count_cl100k_many
        )
    )
    assert batched == chunks  # counting in batches changes nothing
    for previous, chunk in itertools.pairwise(chunks):
        if overlap == 0:
            assert chunk.start == previous.end
        assert previous.start < chunk.start <= previous.end < chunk.end
        assert count_cl100k(text[chunk.start : previous.end]) <= overlap
        assert chunk.tokens <= budget


@pytest.mark.parametrize("overlap", [10, 20])
def test_overlap_shares_whole_sentences_of_about_overlap_tokens(overlap: int) -> None:
    text = " ".join(f"Boat {i} left at dawn." for i in range(40))
    sentence_tokens = max(count_cl100k(f"Boat {i} left at dawn. ") for i in range(40))
    chunks = split_text(text, 40, count_cl100k, overlap_tokens=overlap)
    assert len(chunks) > 3
    for previous, chunk in itertools.pairwise(chunks):
        shared = text[chunk.start : previous.end]
        assert previous.text.endswith(shared) and chunk.text.startswith(shared)
        assert shared.startswith("Boat ") and shared.endswith("dawn. ")  # whole sentences
        assert overlap - sentence_tokens < count_cl100k(shared) <= overlap
    # Without overlap the same text is cut into contiguous chunks.
    plain = split_text(text, 40, count_cl100k)
    assert all(b.start == a.end for a, b in itertools.pairwise(plain))


def test_paragraph_then_sentence_boundaries_are_preferred() -> None:
    text = "\n\n".join(PARAGRAPHS[:2])
    paragraph_budget = max(count_cl100k(p) for p in PARAGRAPHS[:2]) + 2
    by_paragraph = split_text(text, paragraph_budget, count_cl100k)
    assert [c.text.strip() for c in by_paragraph] == PARAGRAPHS[:2]
    sentences = ["The harbour opened in 1821. ", "Boats came from the north. ", "Trade grew fast!"]
    by_sentence = split_text(PARAGRAPHS[0], max(map(count_cl100k, sentences)), count_cl100k)
    assert [c.text for c in by_sentence] == sentences


def test_bad_budgets_are_clear_errors() -> None:
    with pytest.raises(UsageError, match="max_tokens"):
        split_text("text", 0, count_cl100k)
    with pytest.raises(UsageError, match="overlap_tokens"):
        split_text("text", 10, count_cl100k, overlap_tokens=10)


# --- counting a long document: each unit once, in batches, chunks made as they are asked for ---


def noting_batches(batches: list[int]) -> BatchCounter:
    """A cl100k batch counter that notes the size of each batch it is given."""

    def count_many(texts: Sequence[str]) -> list[int]:
        batches.append(len(texts))
        return count_cl100k_many(texts)

    return count_many


ADVERSARIAL = {
    "no spaces": "x7q" * 4000,
    "one long sentence": " ".join(f"word{i}" for i in range(3000)),
    "cjk": "東京は日本の首都です。大阪は大きな都市です。" * 300 + "長い文" * 800,
    "many tiny paragraphs": "\n\n".join(f"P{i}." for i in range(3000)),
    "digits and symbols": ("12345678901234567890%%%%%%%%&&&&####" * 200).replace("#", "# ", 7),
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
@pytest.mark.parametrize("budget", [5, 37, 400])
def test_adversarial_texts_split_within_budget_the_same_with_batches(
    name: str, budget: int
) -> None:
    text = ADVERSARIAL[name]
    one_by_one = split_text(text, budget, count_cl100k)
    batched = list(iter_chunks(text, budget, count_cl100k, count_many=count_cl100k_many))
    assert batched == one_by_one
    assert_cover_within_budget(batched, text, budget)


def test_ordinary_prose_is_counted_in_batches_each_paragraph_once_and_each_chunk_once() -> None:
    paragraphs = [
        f"Keeper {i} lit the lamp at dusk. The tower stood {i} feet tall." for i in range(600)
    ]
    text = "\n\n".join(paragraphs)
    singles: list[str] = []
    batches: list[int] = []

    def count(piece: str) -> int:
        singles.append(piece)
        return count_cl100k(piece)

    chunks = list(iter_chunks(text, 200, count, count_many=noting_batches(batches)))
    assert singles == []  # no unit is over the budget, and no chunk over it either
    assert sum(batches) == len(paragraphs) + len(chunks)
    assert max(batches) > CHUNK_BATCH  # paragraphs go in batches big enough to share out


def test_chunks_are_made_as_they_are_asked_for() -> None:
    text = "\n\n".join(f"Boat {i} left the quay at dawn with nets." for i in range(20_000))
    counted: list[str] = []

    def count_many(texts: Sequence[str]) -> list[int]:
        counted.extend(texts)
        return count_cl100k_many(texts)

    chunks = iter_chunks(text, 100, count_cl100k, count_many=count_many)
    first = next(chunks)
    assert first.start == 0 and first.tokens <= 100
    assert sum(map(len, counted)) < len(text) / 10  # not the whole document first


def test_a_chunk_can_count_far_more_than_its_units_and_still_fits() -> None:
    """No bound of one token per boundary holds for BPE: joining two pieces can cost tokens
    (here a space moves onto a run of symbols, which BPE then merges differently). The splitter
    therefore checks each packed chunk's own count, and halves a chunk that does not fit."""
    left, right = "Output.  ", "%" * 32 + "Ast. "  # two sentences, as the splitter cuts them
    excess = count_cl100k(left + right) - count_cl100k(left) - count_cl100k(right)
    assert excess > 1
    budget = count_cl100k(left) + count_cl100k(right)  # the pair fits, by the sum of its units
    text = (left + right) * 20
    chunks = list(iter_chunks(text, budget, count_cl100k, count_many=count_cl100k_many))
    assert_cover_within_budget(chunks, text, budget)
