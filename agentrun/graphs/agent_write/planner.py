"""Making AgentWrite's outline: a JSON-schema-constrained request, re-asked with its problems,
then the configured fallback. After a person rejected an outline, every planning prompt carries
that outline and the reason."""

from __future__ import annotations

from dataclasses import dataclass, field

from agentrun.agents import structured
from agentrun.agents.gateway import Gateway
from agentrun.agents.ledger import Usage
from agentrun.agents.messages import Message
from agentrun.errors import ContextLengthError, StructuredOutputError
from agentrun.graphs import runtime
from agentrun.graphs.agent_write import prompts
from agentrun.graphs.agent_write.calibration import CallSize
from agentrun.graphs.agent_write.models import AgentWriteConfig
from agentrun.graphs.agent_write.plan import (
    OutlineDraft,
    OutlineShape,
    Plan,
    PlanSource,
    SectionPlan,
    fallback_plan,
    outline_problems,
    outline_request,
    outline_shape,
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


@dataclass(frozen=True)
class PlanOutcome:
    """The outline, how it was made, what went wrong on the way, and what the calls cost."""

    plan: Plan
    source: PlanSource
    warnings: list[str] = field(default_factory=list)
    #: One line per outline reply that could not be used (unparsable or unusable).
    problems: list[str] = field(default_factory=list)
    #: Outline replies that did not parse against the schema.
    parse_failures: int = 0
    usage: Usage = field(default_factory=Usage)


def _room(
    gateway: Gateway, planner: str, messages: list[Message], output: type[OutlineDraft]
) -> int:
    """Output room for a structured call, counting the schema note the gateway adds to the
    prompt in every mode but `json_schema`."""
    if gateway.structured_mode(planner) != "json_schema":
        messages = structured.with_instruction(messages, output)
    return room(gateway, planner, messages)


async def make_plan(
    config: AgentWriteConfig,
    instruction: str,
    target: int,
    language: Language,
    rejection: Rejection | None = None,
    size: CallSize | None = None,
) -> PlanOutcome:
    """The outline, with sections of what one call writes (`size`, when known): asked for as
    schema-constrained JSON, re-asked with its problems, then the configured fallback."""
    planner, gateway = config.planner, context().gateway
    bounds = config.bounds_for(size.words if size else None)
    if target < config.single_section_below:
        point = instruction.strip()
        if rejection is not None and rejection.reason:
            point = prompts.reviewed_point(instruction, rejection.reason, language)
        section = SectionPlan(point=point, words=target)
        return PlanOutcome(Plan(target_words=target, sections=[section]), "single")
    first = bounds.preferred_count(target)
    draft_prompt = prompts.plan(instruction, target, OutlineShape(first, first, first), bounds,
                                language)  # fmt: skip
    shape = outline_shape(target, bounds, _room(gateway, planner, draft_prompt, OutlineDraft))
    base = prompts.plan(instruction, target, shape, bounds, language)
    if rejection is not None:
        base = rejection.noted(base, language)
    output = outline_request(shape.low, shape.high)
    messages, usage, problems, parse_failures = base, Usage(), [], 0
    failed: list[str] = []
    for attempt in range(1, config.plan_attempts + 1):
        max_tokens = min(shape.max_tokens, _room(gateway, planner, messages, output))
        if max_tokens < MIN_OUTPUT_TOKENS:
            raise ContextLengthError(planner, "the instruction leaves no room for an outline")
        reply = await runtime.structured(
            planner, messages, output, node="plan", max_tokens=max_tokens,
            max_reasks=0, **config.sampling,
        )  # fmt: skip
        usage += reply.usage
        if reply.value is None:
            parse_failures += 1
            problems = [f"the reply was not a valid outline ({reply.error})"]
        else:
            problems = outline_problems(reply.value, instruction, target, bounds)
            if not problems:
                made = plan_from_draft(reply.value, target, bounds)
                return PlanOutcome(made, "model", [], failed, parse_failures, usage)
        failed.append(f"outline {attempt}: {'; '.join(problems)}")
        messages = prompts.replan(base, problems, language)
    reason = (
        f"the planner gave no usable outline in {config.plan_attempts} attempts "
        f"({'; '.join(problems)})"
    )
    if config.plan_fallback == "error":
        raise PlanError(
            planner, f"{reason}; use a stronger planner_model or plan_fallback='lines'/'outline'"
        )
    count = shape.count
    points: list[tuple[str, str]] = []
    if config.plan_fallback == "lines":
        lines = prompts.point_lines(instruction, count, language)
        if rejection is not None:
            lines = rejection.noted(lines, language)
        completion = await runtime.complete(
            planner, lines, node="plan_lines",
            max_tokens=max(1, min(48 * count + 32, room(gateway, planner, lines))),
            **config.sampling,
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
    source: PlanSource = "lines" if points else "outline"
    return PlanOutcome(plan, source, [warning], failed, parse_failures, usage)
