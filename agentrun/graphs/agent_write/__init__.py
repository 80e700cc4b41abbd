"""AgentWrite: long texts that hit the requested length, planned as an outline and written one
section at a time (Bai et al., 2024, LongWriter).

Unlike the reference, which puts all previous text into every call, each section is written from
a bounded context (instruction, plan, a running summary, the end of the previous section), so a
20,000-word piece fits an 8k window. Every section is counted the LongBench-Write way and
extended or trimmed until it is within `tolerance` of its budget; in sequential mode what the
sections so far fell short of their plan is carried into the next one's budget (`carry_over`), so
the whole lands on target even where single sections stall. Each section is a graph step
(checkpoint after it) and each model call a checkpointed task, so a resumed run sends no call it
already made. A failed call raises; nothing is ever written in place of text. A section that
comes back blank is asked for once more (a call outside the checkpoint, so resuming asks again
rather than replaying the blank) and raises `EmptySectionError` if it stays blank.

Planning: the planner is asked for a JSON-schema-constrained outline; an unusable one is re-asked
with its problems, `plan_attempts` times in all. Then, per `plan_fallback`: `lines` asks for the
main points as plain text (small models manage that far better than JSON) and splits the target
evenly; `outline` uses a generic opening/parts/closing outline; `error` raises `PlanError`.
Either fallback is stated in the result's warnings.

Events: besides the base's (nodes `plan`, `write` per section, `assemble`; model calls), each
finished section's text is a `TokenDelta` named `section[<index>]`; with `stream_text`, model
tokens too, named after the call (`write[<index>]`, `extend[<index>]`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.graph import StateGraph

from agentrun.graphs.agent_write.baselines import SingleCall, all_previous_text_tokens, single_call
from agentrun.graphs.agent_write.calibration import load_samples, size_from
from agentrun.graphs.agent_write.graph import build_graph, load_document, load_text
from agentrun.graphs.agent_write.models import (
    AgentWriteConfig,
    AgentWriteInputs,
    AgentWriteResult,
    PlanReview,
    SectionResult,
)
from agentrun.graphs.agent_write.plan import Plan, SectionPlan
from agentrun.graphs.agent_write.planner import PlanError
from agentrun.graphs.agent_write.section import EmptySectionError
from agentrun.graphs.agent_write.target import resolve_target, tokens_per_word
from agentrun.graphs.base import BuildContext, Workflow
from agentrun.graphs.runtime import Session, recorded_prompts
from agentrun.text import words as w


class AgentWrite(Workflow[AgentWriteConfig, AgentWriteInputs, AgentWriteResult]):
    """Write what `instruction` asks for, `target_words` long (default: the length the
    instruction names, else one inferred from it and stated in `warnings`)."""

    name = "agent-write"
    description = (
        "Plan sections with word budgets, then write them one by one (AgentWrite): long texts "
        "that hit the requested length."
    )

    def build(self, ctx: BuildContext[AgentWriteConfig]) -> StateGraph[Any, Any, Any, Any]:
        return build_graph(ctx.config)

    async def start(self, inputs: AgentWriteInputs, session: Session) -> Mapping[str, Any]:
        target = resolve_target(inputs.instruction, inputs.target_words, self.config)
        language = w.language_of(inputs.instruction)
        return {
            "instruction": inputs.instruction,
            "target_words": target.words,
            "target_source": target.source,
            "language": language,
            "tokens_per_word": tokens_per_word(session.gateway, self.config.model, language),
            "samples": [
                sample.model_dump()
                for sample in await load_samples(session.ctx, self.config.calibration_key)
            ],
            "warnings": [target.note] if target.note else [],
        }

    async def finish(self, state: Mapping[str, Any], session: Session) -> AgentWriteResult:
        ctx = session.ctx
        plan = Plan.model_validate(state["plan"])
        sections = [
            SectionResult(
                **record,
                title=plan.sections[record["index"]].title,
                point=plan.sections[record["index"]].point,
                text=await load_text(ctx, "sections", record["index"]),
            )
            for record in state.get("sections", [])
        ]
        markdown = await load_document(ctx)
        words = w.count_words(markdown)
        outcome = state.get("plan_review")
        size = size_from(state.get("samples"), self.config.tolerance, self.config.words_per_call)
        rejections = list(state.get("rejections") or [])
        return AgentWriteResult(
            instruction=state["instruction"],
            target_words=state["target_words"],
            target_source=state["target_source"],
            model=self.config.model,
            language=state["language"],
            mode=self.config.mode,
            plan_source=state["plan_source"],
            plan=plan.sections,
            plan_problems=list(state.get("plan_problems") or []),
            plan_parse_failures=int(state.get("plan_parse_failures") or 0),
            plan_review=PlanReview(outcome=outcome, rejections=rejections) if outcome else None,
            sections=sections,
            markdown=markdown,
            words=words,
            length_score=w.length_score(state["target_words"], words),
            tokens_per_word=state["tokens_per_word"],
            words_per_call=size.words if size else None,
            ask_factor=size.ask_factor if size else 1.0,
            prompts=await recorded_prompts(ctx),
            warnings=list(state.get("warnings", [])),
        )


__all__ = [
    "AgentWrite",
    "AgentWriteConfig",
    "AgentWriteInputs",
    "AgentWriteResult",
    "EmptySectionError",
    "PlanError",
    "PlanReview",
    "SectionPlan",
    "SectionResult",
    "SingleCall",
    "all_previous_text_tokens",
    "single_call",
]
