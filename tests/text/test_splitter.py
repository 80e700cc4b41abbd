"""The shared splitter: budgets hold, offsets are exact, boundaries are natural."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentrun.agents.tokens import count_cl100k
from agentrun.errors import UsageError
from agentrun.text.splitter import split_text

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
