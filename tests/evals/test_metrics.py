"""Scores: SQuAD-style EM and F1, abstention, evidence recall, and their aggregation."""

from __future__ import annotations

from typing import Any

import pytest

from agentrun.evals import metrics


@pytest.mark.parametrize(
    ("prediction", "golds", "em", "f1"),
    [
        ("The Saltwren!", ["Saltwren"], 1.0, 1.0),  # articles and punctuation do not count
        ("saltwren harbour", ["Saltwren"], 0.0, 2 / 3),
        ("Kellport", ["Dorrowick", "kellport"], 1.0, 1.0),  # best of several golds
        ("Dorrowick", ["Kellport"], 0.0, 0.0),
        (None, [], 1.0, 1.0),  # abstaining when there is no answer is right
        ("Kellport", [], 0.0, 0.0),  # answering it is wrong
        (None, ["Kellport"], 0.0, 0.0),  # abstaining when there is one is wrong
        ("the", ["a"], 1.0, 1.0),  # both normalize to nothing
    ],
)
def test_exact_match_and_f1(prediction: str | None, golds: list[str], em: float, f1: float) -> None:
    assert metrics.exact_match(prediction, golds) == em
    assert metrics.f1_score(prediction, golds) == pytest.approx(f1)
    assert metrics.abstention_correct(prediction, golds) == ((prediction is None) == (not golds))


def test_recall_helpers() -> None:
    gold = "The harbour of Dorrowick is named Kellport."
    assert metrics.covers("the harbour of dorrowick is named kellport", gold)
    assert metrics.covers("Ships say the harbour of Dorrowick is named Kellport.", gold)
    assert not metrics.covers("The harbour of Saltmere is named Ardfen.", gold)  # same shape
    assert not metrics.covers("Kellport", gold)  # an answer span is not a recalled sentence
    assert not metrics.covers("", gold)
    assert metrics.overlaps(10, 30, 15, 35)  # covers 15 of 20 gold characters
    assert not metrics.overlaps(10, 20, 15, 35)  # only 5 of 20
    assert not metrics.overlaps(0, 5, 10, 20)


def row(answer: str | None, answers: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "answer": answer,
        "answers": answers,
        "em": metrics.exact_match(answer, answers),
        "f1": metrics.f1_score(answer, answers),
        "abstention_correct": metrics.abstention_correct(answer, answers),
        "usage": {"prompt_tokens": 100, "completion_tokens": 5, "model_calls": 2, "cost_usd": 0.5},
        "wall_s": 2.0,
        **extra,
    }


def test_summaries_leave_errors_out_of_accuracy() -> None:
    rows = [
        row("Kellport", ["Kellport"]),
        row(None, []),
        row("Ardfen", ["Kellport"]),
        row(None, ["Kellport"], error="ModelCallError: boom"),
    ]
    summary = metrics.summarize(rows)
    assert summary["items"] == 4 and summary["scored"] == 3 and summary["errors"] == 1
    assert summary["em"] == pytest.approx(2 / 3, abs=1e-4)
    assert summary["abstention_accuracy"] == 1.0
    assert summary["abstained_when_absent"] == 1.0 and summary["abstained_when_present"] == 0.0
    assert summary["prompt_tokens"] == 300 and summary["calls"] == 6
    assert summary["cost_usd"] == 1.5 and summary["mean_latency_s"] == 2.0
    assert "evidence" not in summary


def test_evidence_summary() -> None:
    evidence = {
        "proposed": 4, "not_found": 2, "recovered": 1, "dropped": 1, "kept": 3, "gold": 2,
        "gold_recalled_raw": 1, "gold_recalled_verified": 2, "facts_not_in_source": 1,
    }  # fmt: skip
    summary = metrics.summarize([row("Kellport", ["Kellport"], evidence=evidence)])["evidence"]
    assert summary["hallucinated_rate"] == 0.5
    assert summary["reask_recovery_rate"] == 0.5
    assert summary["gold_recall_raw"] == 0.5 and summary["gold_recall_verified"] == 1.0
    assert summary["facts_not_in_source"] == 1


def test_gold_along_chain_tells_captured_from_lost_facts() -> None:
    harbour = "The harbour of Dorrowick is named Kellport."
    bell = "The bell of the Coranby chapel was cast in 1486."
    units = [
        f'- "{harbour}"',
        f'- "{harbour}"\n- "The bell of the Saltmere chapel was cast in 1486."',  # same shape
        '- "The bell of the Saltmere chapel was cast in 1486."',  # the harbour quote evicted
    ]
    chain = metrics.gold_along_chain(units, [harbour, bell])
    assert chain == {"gold": 2, "captured": 1, "reached_manager": 0}
    both = f'- "{bell.upper()}"\n- "{harbour}"'  # case and punctuation do not matter
    assert metrics.gold_along_chain([*units, both], [harbour, bell])["reached_manager"] == 2
    assert metrics.gold_along_chain([], [bell]) == {"gold": 1, "captured": 0, "reached_manager": 0}
    assert not metrics.carries("Kellport is the harbour of Dorrowick.", harbour)  # a restatement
    rows = [row("Kellport", ["Kellport"], details={"gold_chain": chain})] * 2
    assert metrics.summarize(rows)["gold_chain"] == {"gold": 4, "captured": 2, "reached_manager": 0}


@pytest.mark.parametrize(
    ("prediction", "golds", "expected"),
    [
        ("The Wend Bridge was opened in 1971.", ["1971"], 1.0),
        ("It opened in 19711.", ["1971"], 0.0),
        ("Daniel Ashby led the crew", ["Daniel Ashby"], 1.0),
        ("Ashby", ["Daniel Ashby"], 0.0),
        (None, [], 1.0),
        ("1971", [], 0.0),
        (None, ["1971"], 0.0),
    ],
)
def test_contains_answer(prediction: str | None, golds: list[str], expected: float) -> None:
    assert metrics.contains_answer(prediction, golds) == expected
