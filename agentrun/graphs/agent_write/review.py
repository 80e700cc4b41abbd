"""Plan review: a person sees the outline before any section is written, and approves it, edits
it or rejects it.

The outline is shown as `{"target_words": ..., "sections": [{"title", "point", "words"}]}`; an
edit is the same shape. The JSON Schema sent with the question holds each budget to the section
bounds (`min_section_words`..`max_section_words`; 1..max for a lone section), so the run refuses
an edit that breaks them before it resumes. An edit is taken as the person wrote it: its budgets
are not re-scaled, their sum becomes the target (stated in the warnings when it changed). An edit
whose sum is over `max_words`, or whose `target_words` was changed to something other than that
sum, is not used: the same outline is asked about again, with the reason. A rejection makes a
new outline with the reason given to the planner; at most `max_plan_reviews` outlines are shown.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from agentrun.graphs.agent_write.models import AgentWriteConfig
from agentrun.graphs.agent_write.plan import Plan, SectionBounds, SectionPlan
from agentrun.graphs.human import review


def outline_value(plan: Plan) -> dict[str, Any]:
    """What the person sees (and edits): the target and each section's title, point, budget."""
    return {
        "target_words": plan.target_words,
        "sections": [section.model_dump() for section in plan.sections],
    }


def outline_schema(bounds: SectionBounds) -> dict[str, Any]:
    """The JSON Schema an edited outline must satisfy."""
    section = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "point": {"type": "string", "minLength": 1},
            "words": {"type": "integer", "minimum": 1, "maximum": bounds.max_words},
        },
        "required": ["point", "words"],
        "additionalProperties": False,
    }
    sections = {
        "type": "array",
        "minItems": 1,
        "items": section,
        # two sections or more: each gets at least min_words
        "if": {"minItems": 2},
        "then": {"items": {"properties": {"words": {"minimum": bounds.min_words}}}},
    }
    return {
        "type": "object",
        "properties": {"target_words": {"type": "integer", "minimum": 1}, "sections": sections},
        "required": ["sections"],
        "additionalProperties": False,
    }


def question(plan: Plan, shown: int, limit: int, note: str) -> str:
    count = len(plan.sections)
    head = f"{note} " if note else ""
    return (
        f"{head}Review outline {shown} of at most {limit}: a {plan.target_words}-word piece in "
        f"{count} section{'s' if count > 1 else ''}. Answer approve; or the edited outline as "
        "JSON, in the shape shown (the budgets' sum becomes the target); or reject: <reason>, "
        "and a new outline is made with the reason."
    )


def edited_plan(value: Any, config: AgentWriteConfig, shown_target: int) -> Plan | str:
    """The plan a (schema-checked) edit describes, or why it cannot be used. A `target_words`
    left as shown is ignored (the budgets' sum is the target); one changed must equal that sum."""
    sections: list[SectionPlan] = []
    for number, item in enumerate(value["sections"], start=1):
        try:
            sections.append(
                SectionPlan(title=item.get("title", "").strip(), point=item["point"].strip(),
                            words=item["words"])
            )  # fmt: skip
        except ValidationError as exc:
            first = exc.errors()[0]
            return f"the edit's section {number} {first['loc'][0]}: {first['msg']}."
    total = sum(section.words for section in sections)
    named = value.get("target_words")
    if named not in (None, shown_target, total):
        return (
            f"the edit's target_words ({named}) is not the sum of its budgets ({total}); the "
            "target is that sum: change the budgets, or leave target_words out."
        )
    if total > config.max_words:
        return f"the edit's budgets sum to {total} words, over max_words={config.max_words}."
    return Plan(target_words=total, sections=sections)


def review_outline(config: AgentWriteConfig, state: dict[str, Any]) -> dict[str, Any]:
    """Ask about the current outline; the state update its answer makes (the run stops at the
    question until it is resumed with an answer)."""
    plan = Plan.model_validate(state["plan"])
    shown = len(state.get("rejections") or []) + 1
    note = state.get("review_note") or ""
    answer = review(
        question(plan, shown, config.max_plan_reviews, note),
        outline_value(plan),
        schema=outline_schema(config.bounds),
    )
    if answer.action == "approve":
        return {"plan_review": "approved", "review_note": ""}
    if answer.action == "reject":
        return {"rejections": [answer.reason], "review_note": ""}
    edited = edited_plan(answer.value, config, plan.target_words)
    if isinstance(edited, str):
        return {"review_note": f"Your edit was not used: {edited}"}
    update: dict[str, Any] = {
        "plan": edited.model_dump(), "plan_review": "edited", "review_note": "",
    }  # fmt: skip
    old = int(state["target_words"])
    if edited.target_words != old:
        update |= {
            "target_words": edited.target_words,
            "target_source": "review",
            "warnings": [
                f"the reviewed outline's budgets sum to {edited.target_words} words: the "
                f"target is now {edited.target_words} (was {old})"
            ],
        }
    return update
