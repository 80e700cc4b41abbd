"""Pipelines name workflows through the registry; its inputs arrive as rendered text."""

from __future__ import annotations

import pytest

from agentrun.errors import UsageError
from agentrun.graphs.registry import WORKFLOWS


def test_every_workflow_is_registered_with_its_entry_point() -> None:
    assert set(WORKFLOWS) == {
        "chain-of-agents",
        "retrieve-then-reason",
        "agent-write",
        "navigation",
    }
    for entry in WORKFLOWS.values():
        assert callable(entry.runner()) and callable(entry.resumer())


def test_integer_inputs_are_converted_and_blank_ones_left_to_the_default() -> None:
    write = WORKFLOWS["agent-write"]
    assert write.arguments({"instruction": "Write.", "target_words": " 1500 "}) == {
        "instruction": "Write.",
        "target_words": 1500,
    }
    assert write.arguments({"instruction": "Write.", "target_words": ""}) == {
        "instruction": "Write."
    }
    assert WORKFLOWS["retrieve-then-reason"].arguments({"context": "c", "query": "q"}) == {
        "context_in": "c",
        "query": "q",
    }


def test_a_non_integer_names_the_workflow_and_the_input() -> None:
    with pytest.raises(UsageError, match=r"workflow navigation: input 'task_seed' must be a whole"):
        WORKFLOWS["navigation"].arguments({"task_seed": "three"})
