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
