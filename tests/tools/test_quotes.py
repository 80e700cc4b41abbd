"""Locating quotes: exact, normalized and fuzzy matches map back to the original text."""

from __future__ import annotations

import pytest

from agentrun.tools.quotes import locate

SOURCE = (
    "The Saltmere light was first lit in 1887.  Its keeper,   MAREN HOLT, kept a log.\n"
    "東京タワーは1958年に完成した。 The café served crème brûlée 🍮 on Sundays.\n"
    "Decomposed: the cafe\u0301 stayed open."
)


@pytest.mark.parametrize(
    ("quote", "kind", "expected"),
    [
        ("first lit in 1887.", "exact", "first lit in 1887."),
        (
            "its keeper, maren holt, kept a log.",
            "normalized",
            "Its keeper,   MAREN HOLT, kept a log.",
        ),
        ("東京タワーは1958年に完成した。", "exact", "東京タワーは1958年に完成した。"),
        ("THE CAFÉ SERVED CRÈME BRÛLÉE 🍮", "normalized", "The café served crème brûlée 🍮"),
        ("the café stayed open", "normalized", "the cafe\u0301 stayed open"),
        (
            "The Saltmere light was first lighted in 1887",
            "fuzzy",
            "The Saltmere light was first lit in 1887",
        ),
    ],
)
def test_found_quotes_are_exact_slices_of_the_source(quote: str, kind: str, expected: str) -> None:
    span = locate(SOURCE, quote)
    assert span is not None
    assert span.match == kind
    assert SOURCE[span.start : span.end] == span.text == expected


@pytest.mark.parametrize(
    "quote",
    ["The lighthouse was painted green in 1901.", "", "   ", "Maren Smith"],
)
def test_invented_or_empty_quotes_are_not_found(quote: str) -> None:
    assert locate(SOURCE, quote) is None


def test_a_restatement_maps_to_the_sentence_it_restates() -> None:
    from agentrun.tools.quotes import match_sentence

    source = (
        "The railway reached Saltmere in 1862, when a branch line opened. "
        "The Wend Bridge was designed by Margaret Olufsen and opened on 12 May 1971. "
        "Saltmere held a fair every summer."
    )
    span = match_sentence(source, "The Wend Bridge at Saltmere was opened in 1973.")
    assert span is not None and span.match == "paraphrase"
    assert source[span.start : span.end] == span.text
    assert span.text.startswith("The Wend Bridge was designed")
    assert match_sentence(source, "Cats and dogs lived in the lighthouse.") is None
