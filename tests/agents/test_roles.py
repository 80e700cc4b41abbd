"""Reading role replies: lenient, and never inventing content."""

from __future__ import annotations

import pytest

from agentrun.agents import roles


@pytest.mark.parametrize(
    ("reply", "quotes"),
    [
        (
            '- "The bridge opened in 1971."\n- It cost £2m.',
            ["The bridge opened in 1971.", "It cost £2m."],
        ),
        ("1) First.\n2) Second.", ["First.", "Second."]),
        ("The bridge opened in 1971.", ["The bridge opened in 1971."]),
        ("NONE", []),
        ("none.", []),
        ("", []),
        ("- NONE", []),
    ],
)
def test_parse_quotes(reply: str, quotes: list[str]) -> None:
    assert roles.parse_quotes(reply) == quotes


@pytest.mark.parametrize(
    ("reply", "answer"),
    [
        ("1971", "1971"),
        ("The answer is: 1971\nBecause the evidence says so.", "1971"),
        ('- "Daniel Ashby"', "Daniel Ashby"),
        ("NONE", None),
        ("  ", None),
        ("Answer: NONE", None),
    ],
)
def test_parse_answer(reply: str, answer: str | None) -> None:
    assert roles.parse_answer(reply) == answer


@pytest.mark.parametrize(
    ("reply", "ids", "quotes"),
    [
        ("[3]", [3], []),
        ("[3, 7]\n[3]", [3, 7], []),
        ("- [2] The keeper was Maren Holt.", [2], []),  # the id is what counts
        ("Sentences 4 and 5.", [4, 5], []),
        ("- The keeper was Maren Holt.\n[1]", [1], ["The keeper was Maren Holt."]),
        ("NONE", [], []),
    ],
)
def test_parse_references(reply: str, ids: list[int], quotes: list[str]) -> None:
    assert roles.parse_references(reply) == roles.References(ids, quotes)


@pytest.mark.parametrize(
    ("reply", "answer", "cited"),
    [
        ("The answer to the question is: The Saltwren [2].", "The Saltwren", [2]),
        ("Maren Holt [1, 3]\nbecause fact 1 says so", "Maren Holt", [1, 3]),
        ("Maren Holt", "Maren Holt", None),
        ("4471", "4471", None),
        ("[n]. Maren Holt [2]", "Maren Holt", [2]),
        ("NONE: no fact names the keeper.", None, None),
    ],
)
def test_parse_cited_answer(reply: str, answer: str | None, cited: list[int] | None) -> None:
    said = roles.parse_cited_answer(reply)
    assert (said.answer, said.cited) == (answer, cited)
    assert said.answer is not None or said.reason == "no fact names the keeper"
