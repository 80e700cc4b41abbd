"""The shared splitter: budgets hold, offsets are exact, boundaries are natural."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentrun.agents.tokens import count_cl100k
from agentrun.errors import UsageError
from agentrun.tools.text import split_text

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
def test_overlap_repeats_the_end_of_the_previous_chunk(
    text: str, budget: int, overlap: int
) -> None:
    chunks = split_text(text, budget, count_cl100k, overlap_tokens=overlap)
    for previous, chunk in itertools.pairwise(chunks):
        assert chunk.start <= previous.end
        assert chunk.end > previous.end
        assert chunk.tokens <= budget


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
