"""AgentWrite's plan review: the run stops at the outline; approve, edit or reject it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from agentrun.agents.testing import ScriptedModel, scripted_model
from agentrun.errors import RunFailedError, UsageError
from agentrun.graphs import agent_write as aw
from agentrun.graphs.events import Event, Interrupted
from tests.graphs.test_agent_write import (
    INSTRUCTION,
    WRITE,
    Writer,
    assert_within,
    config,
    gateway,
    plan_json,
    run_ns,
    sections_of,
)

EDIT = {
    "sections": [
        {"title": "Fire towers", "point": "Beacon fires on towers by old harbours", "words": 400},
        {"title": "Lenses", "point": "How the Fresnel lens carried the light on", "words": 800},
        {"title": "Automation", "point": "Automatic lamps replacing the keepers", "words": 600},
    ]
}
KEEPERS = [f"The daily life of lighthouse keepers in decade {i + 1}" for i in range(6)]


class Reviewed:
    """One reviewed AgentWrite thread: its store and checkpointer survive each resume."""

    def __init__(self, data_dir: Path, thread_id: str = "r", **options: Any) -> None:
        self.workflow = aw.AgentWrite(
            config(review_plan=True, **options), gateway=gateway(data_dir),
            store=InMemoryStore(), checkpointer=InMemorySaver(),
        )  # fmt: skip
        self.thread_id = thread_id

    @property
    def store(self) -> Any:
        return self.workflow.store

    async def start(self, instruction: str = INSTRUCTION, **options: Any) -> aw.AgentWriteResult:
        return await self.workflow.arun(instruction, thread_id=self.thread_id, **options)

    async def answer(self, answer: Any) -> aw.AgentWriteResult:
        return await self.workflow.aresume(self.thread_id, answer=answer)


def prompts_of(fake: ScriptedModel) -> list[str]:
    return [call.messages[-1]["content"] for call in fake.calls]


def plan_prompts(fake: ScriptedModel) -> list[str]:
    return [prompt for prompt in prompts_of(fake) if "JSON schema" in prompt]


async def test_the_run_stops_at_the_outline_before_any_section(data_dir: Path) -> None:
    run = Reviewed(data_dir)
    events: list[Event] = []
    with scripted_model(Writer(1.0)) as fake:
        result = await run.start(on_event=events.append)
    assert result.waiting and result.thread_id == "r"
    pending = result.interrupt
    assert pending is not None and pending.node == "review" and pending.review == "approve"
    outline = pending.value
    assert outline["target_words"] == 3000
    assert [s["title"] for s in outline["sections"]] == [f"Era {i}" for i in range(1, 7)]
    assert outline["sections"][0]["point"] == "How lighthouse era 1 changed coastal shipping"
    assert sum(s["words"] for s in outline["sections"]) == 3000
    assert "3000-word piece in 6 sections" in pending.question
    assert pending.answer_schema is not None
    assert len(fake.calls) == 1 and len(plan_prompts(fake)) == 1  # the planner only
    assert run.store.search(run_ns("r", "sections")) == []
    assert [e.pending.node for e in events if isinstance(e, Interrupted)] == ["review"]


@pytest.mark.parametrize("mode", ["sequential", "parallel"])
async def test_an_approved_outline_is_written_as_shown(data_dir: Path, mode: str) -> None:
    run = Reviewed(data_dir, mode=mode)
    with scripted_model(Writer(1.0)) as fake:
        shown = (await run.start()).interrupt.value  # type: ignore[union-attr]
        result = await run.answer("approve")
    assert not result.waiting
    assert [s.model_dump() for s in result.plan] == shown["sections"]
    assert sorted(sections_of(fake)) == [1, 2, 3, 4, 5, 6]
    assert len(plan_prompts(fake)) == 1  # approving does not plan again
    assert result.plan_review == aw.PlanReview(outcome="approved")
    assert result.target_source == "instruction" and result.target_words == 3000
    assert_within(result)


async def test_an_edited_outline_is_used_as_written(data_dir: Path) -> None:
    run = Reviewed(data_dir)
    with scripted_model(Writer(1.0)) as fake:
        await run.start()
        # the text a person types: the outline as shown, target_words left as it was
        result = await run.answer(json.dumps({"target_words": 3000, **EDIT}))
    edited = EDIT["sections"]
    assert [s.model_dump() for s in result.plan] == edited  # budgets not re-scaled
    writes = [p for p in prompts_of(fake) if WRITE.search(p)]
    for number, (prompt, section) in enumerate(zip(writes, edited, strict=True), start=1):
        assert f"Now write section {number} of 3: {section['point']}" in prompt
        assert f"Write about {section['words']} words" in prompt
    headings = [line for line in result.markdown.splitlines() if line.startswith("## ")]
    assert headings == ["## Fire towers", "## Lenses", "## Automation"]
    # the edited budgets' sum is the new target, and the warnings say so
    assert result.target_words == 1800 and result.target_source == "review"
    assert any("target is now 1800 (was 3000)" in warning for warning in result.warnings)
    assert result.plan_review is not None and result.plan_review.outcome == "edited"
    assert len(plan_prompts(fake)) == 1
    assert_within(result)


async def test_an_edit_that_keeps_the_total_keeps_the_target(data_dir: Path) -> None:
    run = Reviewed(data_dir)
    with scripted_model(Writer(1.0)):
        shown = (await run.start()).interrupt.value  # type: ignore[union-attr]
        sections = [{**s, "title": f"Part {i}"} for i, s in enumerate(shown["sections"], 1)]
        result = await run.answer({**shown, "sections": sections})  # a Python value works too
    assert [s.title for s in result.plan] == [f"Part {i}" for i in range(1, 7)]
    assert result.target_words == 3000 and result.target_source == "instruction"
    assert not result.warnings


@pytest.mark.parametrize(
    ("edit", "refusal"),
    [
        (
            {"sections": [{**EDIT["sections"][0], "words": 50}, EDIT["sections"][1]]},
            "sections/0/words: 50 is less than the minimum of 200",
        ),
        ({"sections": [{"point": "One long part", "words": 1500}]}, "greater than the maximum"),
        ({"sections": []}, "sections: [] should be non-empty"),
        ({"sections": [{"title": "A", "words": 300}]}, "'point' is a required property"),
        ("make it about keepers", "is not of type 'object'"),
    ],
)
async def test_an_edit_that_breaks_the_schema_is_refused_and_the_run_still_waits(
    data_dir: Path, edit: Any, refusal: str
) -> None:
    run = Reviewed(data_dir)
    with scripted_model(Writer(1.0)) as fake:
        shown = (await run.start()).interrupt.value  # type: ignore[union-attr]
        with pytest.raises(UsageError, match=r"the edit refused: .*the run still waits") as error:
            await run.answer(edit)
        assert refusal in str(error.value) and "\n" not in str(error.value)
        assert len(fake.calls) == 1  # nothing ran
        with pytest.raises(UsageError, match="waits for an answer"):
            await run.workflow.aresume(run.thread_id)
        result = await run.answer("approve")
    assert [s.model_dump() for s in result.plan] == shown["sections"]
    assert sorted(sections_of(fake)) == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("change", "note"),
    [
        ({"target_words": 4000}, "target_words (4000) is not the sum of its budgets (3000)"),
        (
            {"sections": [{"point": f"Part {i} of the story", "words": 1000} for i in range(5)]},
            "budgets sum to 5000 words, over max_words=4000",
        ),
        (
            {"sections": [{"point": "  ", "words": 500}, {"point": "Keepers", "words": 500}]},
            "section 1 point: String should have at least 1 character.",
        ),
    ],
)
async def test_an_edit_against_the_plan_rules_is_asked_about_again(
    data_dir: Path, change: dict[str, Any], note: str
) -> None:
    run = Reviewed(data_dir, max_words=4000)
    with scripted_model(Writer(1.0)) as fake:
        shown = (await run.start()).interrupt.value  # type: ignore[union-attr]
        again = await run.answer({**shown, **change})
        assert again.waiting and again.interrupt is not None
        assert again.interrupt.question.startswith(f"Your edit was not used: the edit's {note}")
        assert again.interrupt.value == shown  # the same outline, unchanged
        assert len(fake.calls) == 1
        result = await run.answer("approve")
    assert [s.model_dump() for s in result.plan] == shown["sections"]
    assert result.target_words == 3000


async def test_a_rejection_re_plans_with_the_reason_then_asks_again(data_dir: Path) -> None:
    reason = "cover the keepers' daily lives, not the technology"
    writer = Writer(1.0, plans=[plan_json(6, 3000), plan_json(6, 3000, points=KEEPERS)])
    run = Reviewed(data_dir)
    with scripted_model(writer) as fake:
        first = (await run.start()).interrupt
        again = await run.answer(f"reject: {reason}")
        assert again.waiting and again.interrupt is not None
        assert [s["point"] for s in again.interrupt.value["sections"]] == KEEPERS
        assert "outline 2 of at most 3" in again.interrupt.question
        replan = plan_prompts(fake)[1]
        assert f"Reason: {reason}" in replan and "A reviewer rejected this outline" in replan
        assert first is not None and first.value["sections"][0]["point"] in replan
        assert sections_of(fake) == []  # nothing written before approval
        result = await run.answer("approve")
    assert [s.point for s in result.plan] == KEEPERS
    assert result.plan_review == aw.PlanReview(outcome="approved", rejections=[reason])
    assert sorted(sections_of(fake)) == [1, 2, 3, 4, 5, 6]


async def test_rejecting_every_outline_ends_with_an_error_naming_the_limit(
    data_dir: Path,
) -> None:
    run = Reviewed(data_dir)
    with scripted_model(Writer(1.0)) as fake:
        await run.start()
        assert (await run.answer("reject: too dry")).waiting
        assert (await run.answer("reject")).waiting
        with pytest.raises(
            RunFailedError, match=r"rejected at all 3 reviews \(max_plan_reviews=3\)"
        ):
            await run.answer("no: still too dry")
    assert len(plan_prompts(fake)) == 3 and sections_of(fake) == []
    assert not any(WRITE.search(prompt) for prompt in prompts_of(fake))


async def test_a_lone_section_rejected_with_a_reason_is_written_with_it(data_dir: Path) -> None:
    run = Reviewed(data_dir)
    instruction = "Write a 150-word thank-you email to a librarian."
    with scripted_model(Writer(1.0)) as fake:
        shown = (await run.start(instruction)).interrupt.value  # type: ignore[union-attr]
        assert shown["sections"] == [{"title": "", "point": instruction, "words": 150}]
        again = await run.answer("reject: mention the harbour map she found")
        point = again.interrupt.value["sections"][0]["point"]  # type: ignore[union-attr]
        assert point.endswith("Reviewer's note: mention the harbour map she found")
        assert fake.calls == []  # a lone section needs no planner
        result = await run.answer("approve")
    (prompt,) = prompts_of(fake)
    assert f"Main point: {point}" in prompt and result.words > 0
