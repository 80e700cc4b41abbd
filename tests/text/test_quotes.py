"""Locating quotes: exact, normalized and fuzzy matches map back to the original text."""

from __future__ import annotations

import pytest

from agentrun.text import quotes
from agentrun.text.quotes import locate

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
    from agentrun.text.quotes import match_sentence

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


@pytest.mark.parametrize(
    ("source", "quote", "expected"),
    [
        # Latin, Cyrillic, digits: a match is widened to whole words.
        ("The mill was founded in 1761 by Orla.", "founded in 17", "founded in 1761"),
        ("The glassblower left early.", "The glass", "The glassblower"),
        ("Москва стоит на реке.", "Москв", "Москва"),
        ("She bought an iPhone在北京", "an iPh", "an iPhone"),
        # Grapheme clusters: combining marks, ZWJ sequences, variation selectors, skin tones,
        # flags (pairs of regional indicators).
        ("Cafe\u0301 Noir opened in May.", "Cafe", "Cafe\u0301"),
        ("Our team 👩\u200d🔬 won the prize.", "team 👩", "team 👩\u200d🔬"),
        ("Family 👨\u200d👩\u200d👧 photo.", "Family 👨\u200d👩", "Family 👨\u200d👩\u200d👧"),
        ("I ❤\ufe0f tea.", "I ❤", "I ❤\ufe0f"),
        ("Thumbs 👍🏽 up.", "Thumbs 👍", "Thumbs 👍🏽"),
        ("Flags 🇫🇷🇩🇪 flew.", "Flags 🇫🇷🇩", "Flags 🇫🇷🇩🇪"),
        # Scripts without spaces: never widened across their characters.
        ("東京タワーは1958年に完成した。", "タワーは1958", "タワーは1958"),
        ("東京タワーは1958年に完成した。", "は195", "は1958"),
        ("東京タワーは1958年に完成した。", "京タワ", "京タワ"),
        ("ภาษาไทยง่าย", "ภาษา", "ภาษา"),
    ],
)
def test_matches_never_cut_words_or_characters(source: str, quote: str, expected: str) -> None:
    span = locate(source, quote)
    assert span is not None
    assert source[span.start : span.end] == span.text == expected
    assert span.match == ("exact" if quote == expected else "normalized")


def test_a_whole_word_occurrence_is_preferred_to_widening() -> None:
    source = "The glassblower left. Later the glass broke."
    span = locate(source, "the glass")
    assert span is not None and span.match == "exact"
    assert source[span.start : span.end] == "the glass" and span.start > 20


def test_normalized_matches_keep_whole_clusters() -> None:
    source = "Le CAFE\u0301 de la gare 👩\u200d🔬 ouvre."
    span = locate(source, "le café de la gare 👩")
    assert span is not None and span.match == "normalized"
    assert span.text == source[span.start : span.end] == "Le CAFE\u0301 de la gare 👩\u200d🔬"


def test_grapheme_boundaries() -> None:
    from agentrun.text.quotes import grapheme_boundaries

    assert grapheme_boundaries("e\u0301x") == [0, 2, 3]
    assert grapheme_boundaries("a🇫🇷🇩🇪b") == [0, 1, 3, 5, 6]
    assert grapheme_boundaries("👩\u200d🔬!") == [0, 3, 4]
    assert grapheme_boundaries("\u1100\u1161\u11a8가") == [0, 3, 4]  # decomposed Hangul
    assert grapheme_boundaries("") == [0]


def test_word_boundaries_split_unspaced_scripts_between_characters_only() -> None:
    from agentrun.text.quotes import word_boundaries

    assert word_boundaries("ab cd") == [0, 2, 3, 5]
    assert word_boundaries("東京は1958年") == [0, 1, 2, 3, 7, 8]
    assert word_boundaries("cafe\u0301 ok") == [0, 5, 6, 8]


SENTENCE = "The keeper of the Saltmere light in 1890 was Thomas Reed of Kellport."
KEEPER = f"Entry 1. The tide tables were posted.\n\n{SENTENCE} Boats left."
CLERK = "The keeper was not Thomas Reed of Kellport, said the clerk."


@pytest.mark.parametrize(
    ("source", "quote", "kept"),
    [
        (KEEPER, SENTENCE.replace("was", "was not"), SENTENCE),
        (KEEPER, SENTENCE.replace("was", "wasn't"), SENTENCE),
        (KEEPER, SENTENCE.replace("was", "was never"), SENTENCE),
        (CLERK, CLERK.replace("was not", "was"), CLERK[:-1]),  # the negation left out
        ("The boats left without their nets.", "The boats left with their nets.", None),
        # an exact fragment widened to the whole word takes in the source's negation
        ("The keeper wasn't Thomas Reed.", "The keeper was", "The keeper wasn't"),
    ],
)
def test_a_near_match_that_negates_differently_is_a_paraphrase(
    source: str, quote: str, kept: str | None
) -> None:
    span = locate(source, quote)
    assert span is not None and span.match == "paraphrase"
    assert source[span.start : span.end] == span.text
    assert kept is None or span.text == kept


@pytest.mark.parametrize(
    ("quote", "kind"),
    [
        (SENTENCE.replace("light", "lite"), "fuzzy"),  # misspelt, the same claim
        (SENTENCE.lower(), "normalized"),
        (CLERK.replace("was not", "wasn't"), "fuzzy"),  # negated alike, in other words
    ],
)
def test_a_near_match_that_negates_alike_keeps_its_kind(quote: str, kind: str) -> None:
    span = locate(f"{KEEPER} {CLERK}", quote)
    assert span is not None and span.match == kind


def test_a_fuzzy_match_keeps_only_the_source_text_the_quote_aligns_with() -> None:
    span = locate(KEEPER, SENTENCE.replace("was", "was not"))
    assert span is not None and span.text == SENTENCE  # not ". The keeper ... Kellport. B"


def test_contractions_are_whole_words() -> None:
    from agentrun.text.quotes import word_boundaries

    assert word_boundaries("wasn't here") == [0, 6, 7, 11]
    assert word_boundaries("Holt’s 'log'") == [0, 6, 7, 8, 11, 12]


def test_words_are_compared_normalized() -> None:
    from agentrun.text.quotes import negations, words

    assert words("The KEEPER wasn’t paid 1,890 crowns (3.5%) in ＳＡＬＴＭＥＲＥ café") == [
        "the", "keeper", "was", "not", "paid", "1890", "crowns", "3.5", "in", "saltmere", "café"
    ]  # fmt: skip
    assert words("cafe\u0301") == words("café")
    assert negations("It cannot be; there was no keeper, nor a light.") == {
        "not": 1,
        "no": 1,
        "nor": 1,
    }


@pytest.mark.parametrize(
    ("answer", "missing"),
    [
        ("Thomas Reed", []),
        ("THOMAS REED, in 1,890.", []),  # case, punctuation, thousands commas, function words
        ("She was the keeper", []),
        ("not Thomas Reed", ["not"]),  # a negation is never a function word
        ("Thomas Reedy", ["reedy"]),  # whole words only
        ("1890.5", ["1890.5"]),
        ("root:x:0:0:root:/root:/bin/bash", ["root", "x", "0", "bin", "bash"]),
        ("東京タワー", []),  # no spaces: held inside a word
        ("大阪", ["大阪"]),
    ],
)
def test_unsupported_words(answer: str, missing: list[str]) -> None:
    from agentrun.text.quotes import unsupported_words

    support = [
        "The keeper was Thomas Reed.",
        "In 1890 it was lit.",
        "東京タワーは1958年に完成した。",
    ]
    assert unsupported_words(answer, support) == missing


def test_numbered_sentences_map_each_id_to_its_exact_span() -> None:
    text = "The wall was built in 1734.  Maren Holt kept the light!\nBoats left."
    numbered = quotes.number_sentences(text)
    assert numbered.render() == (
        "[1] The wall was built in 1734.\n[2] Maren Holt kept the light!\n[3] Boats left."
    )
    start, end = numbered.span(2) or (0, 0)
    assert text[start:end] == numbered.sentence(2) == "Maren Holt kept the light!"
    assert numbered.span(0) is None and numbered.span(4) is None and numbered.sentence(9) is None


def test_names_are_capitalized_words_not_opening_a_sentence() -> None:
    assert quotes.names("In which town was Orla Vennick's boat built?") == {"orla", "vennick"}
    assert quotes.names("What is the Name of the harbour?") == set()
    assert quotes.mentioned({"orla", "dunholm"}, "Orla lives in Kelby.") == {"orla"}
