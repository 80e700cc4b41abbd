"""Making AgentWrite's outline: a JSON-schema-constrained request, re-asked with its problems,
then the configured fallback. After a person rejected an outline, every planning prompt carries
that outline and the reason."""

from __future__ import annotations

from dataclasses import dataclass

from agentrun.agents.ledger import Usage
from agentrun.agents.messages import Message
from agentrun.errors import ContextLengthError, StructuredOutputError
from agentrun.graphs import runtime
from agentrun.graphs.agent_write import prompts
from agentrun.graphs.agent_write.models import AgentWriteConfig
from agentrun.graphs.agent_write.plan import (
    OutlineDraft,
    Plan,
    PlanSource,
    SectionPlan,
    fallback_plan,
    outline_problems,
    parse_point_lines,
    plan_from_draft,
)
from agentrun.graphs.agent_write.section import MIN_OUTPUT_TOKENS, room
from agentrun.graphs.runtime import context, usage_of
from agentrun.text.words import Language


class PlanError(StructuredOutputError):
    """The planner gave no usable outline and `plan_fallback` is `error`."""


@dataclass(frozen=True)
class Rejection:
    """An outline a person rejected at review, and why."""

    plan: Plan
    reason: str

    def noted(self, messages: list[Message], language: Language) -> list[Message]:
        outline = prompts.render_plan(self.plan.sections, language)
        return prompts.rejected(messages, outline, self.reason, language)


async def make_plan(
    config: AgentWriteConfig,
    instruction: str,
    target: int,
    language: Language,
    rejection: Rejection | None = None,
) -> tuple[Plan, PlanSource, list[str], Usage]:
    """The outline, with how it was made, warnings, and what the planning calls cost."""
    bounds, planner, gateway = config.bounds, config.planner, context().gateway
    if target < config.single_section_below:
        point = instruction.strip()
        if rejection is not None and rejection.reason:
            point = prompts.reviewed_point(instruction, rejection.reason, language)
        section = SectionPlan(point=point, words=target)
        return Plan(target_words=target, sections=[section]), "single", [], Usage()
    count = bounds.preferred_count(target)
    base = prompts.plan(instruction, target, bounds, language)
    if rejection is not None:
        base = rejection.noted(base, language)
    messages, usage, problems = base, Usage(), []
    for _ in range(config.plan_attempts):
        # ~80 tokens per section (title, point, count); room for a few more than asked for
        max_tokens = min(80 * (count + 2) + 64, room(gateway, planner, messages))
        if max_tokens < MIN_OUTPUT_TOKENS:
            raise ContextLengthError(planner, "the instruction leaves no room for an outline")
        reply = await runtime.structured(
            planner, messages, OutlineDraft, node="plan", max_tokens=max_tokens,
            temperature=config.temperature, max_reasks=0,
        )  # fmt: skip
        usage += reply.usage
        if reply.value is None:
            problems = [f"the reply was not a valid outline ({reply.error})"]
        else:
            problems = outline_problems(reply.value, instruction, target, bounds)
            if not problems:
                return plan_from_draft(reply.value, target, bounds), "model", [], usage
        messages = prompts.replan(base, problems, language)
    reason = (
        f"the planner gave no usable outline in {config.plan_attempts} attempts "
        f"({'; '.join(problems)})"
    )
    if config.plan_fallback == "error":
        raise PlanError(
            planner, f"{reason}; use a stronger planner_model or plan_fallback='lines'/'outline'"
        )
    points: list[tuple[str, str]] = []
    if config.plan_fallback == "lines":
        lines = prompts.point_lines(instruction, count, language)
        if rejection is not None:
            lines = rejection.noted(lines, language)
        completion = await runtime.complete(
            planner, lines, node="plan_lines",
            max_tokens=max(1, min(48 * count + 32, room(gateway, planner, lines))),
            temperature=config.temperature,
        )  # fmt: skip
        usage += usage_of(completion)
        points = parse_point_lines(completion.text, instruction)[:count]
    plan = fallback_plan(target, count, language, points)
    used = (
        f"the model's plain-text list of {len(points)} main point(s)"
        if points
        else "a generic outline"
    )
    warning = f"{reason}; used {used} and even budgets of ~{target // count} words"
    return plan, ("lines" if points else "outline"), [warning], usage
