"""AgentWrite's graph: plan -> (review) -> write (one section per step) -> assemble, and the
records it keeps in the store (section texts, running summaries, the document)."""

from __future__ import annotations

import operator
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from agentrun.errors import EndpointUnreachableError, ModelCallError, RunFailedError
from agentrun.graphs.agent_write.calibration import (
    CallSample,
    call_size,
    save_samples,
    size_from,
)
from agentrun.graphs.agent_write.models import AgentWriteConfig, TargetSource
from agentrun.graphs.agent_write.plan import Plan, PlanSource
from agentrun.graphs.agent_write.planner import Rejection, make_plan
from agentrun.graphs.agent_write.review import review_outline
from agentrun.graphs.agent_write.section import SectionWriter
from agentrun.graphs.runtime import WorkflowContext, add_usage, context, emit, usage_update
from agentrun.text import words as w
from agentrun.text.words import Language


def merge_sections(
    left: list[dict[str, Any]] | None, right: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """State reducer: section records by index (parallel writers each add their own)."""
    merged = {int(item["index"]): item for item in (left or [])}
    merged.update({int(item["index"]): item for item in (right or [])})
    return [merged[index] for index in sorted(merged)]


class WriteState(TypedDict, total=False):
    instruction: str
    target_words: int
    target_source: TargetSource
    language: Language
    tokens_per_word: float
    # first calls of sections (this model's, earlier runs' first): what calls are sized from
    samples: Annotated[list[dict[str, Any]], operator.add]
    plan: dict[str, Any]
    plan_source: PlanSource
    # outline replies that could not be used, over every planning (a rejection plans again)
    plan_problems: Annotated[list[str], operator.add]
    plan_parse_failures: Annotated[int, operator.add]
    cursor: int
    sections: Annotated[list[dict[str, Any]], merge_sections]
    words: int
    warnings: Annotated[list[str], operator.add]
    usage: Annotated[dict[str, Any], add_usage]
    # plan review: the reasons of rejected outlines, why an edit was not used, how it ended
    rejections: Annotated[list[str], operator.add]
    review_note: str
    plan_review: str


#: What a parallel section writer gets from the state (besides its index).
_SECTION_INPUT = (
    "instruction", "language", "tokens_per_word", "samples", "plan", "plan_review",
)  # fmt: skip


# --- records in the store ----------------------------------------------------------------------


def _key(index: int) -> str:
    return f"{index:04d}"


async def load_text(ctx: WorkflowContext, kind: str, index: int) -> str:
    """A stored section (`sections`) or running summary (`summaries`); empty when missing."""
    item = await ctx.store.aget(ctx.ns("runs", ctx.run_id, kind), _key(index))
    return str(item.value["text"]) if item is not None else ""


async def _save(ctx: WorkflowContext, kind: str, index: int, text: str) -> None:
    value = {"text": text, "words": w.count_words(text), "index": index}
    await ctx.store.aput(ctx.ns("runs", ctx.run_id, kind), _key(index), value, index=False)


async def load_document(ctx: WorkflowContext) -> str:
    document = await ctx.store.aget(ctx.ns("runs", ctx.run_id, "document"), "markdown")
    return str(document.value["text"]) if document is not None else ""


# --- nodes -------------------------------------------------------------------------------------


@contextmanager
def failures_kept() -> Iterator[None]:
    """A failure a later try may cure stops the run resumably; settings errors keep their own
    type (and exit code)."""
    try:
        yield
    except (ModelCallError, EndpointUnreachableError) as exc:
        raise RunFailedError(
            f"AgentWrite stopped: {exc}; the sections written are kept, and a resume continues "
            "from there",
            context().run_id,
        ) from exc


def carried_budget(plan: Plan, written: list[dict[str, Any]], index: int) -> int:
    """Section `index`'s budget plus what the sections before it wrote short of their plan (or
    minus what they wrote over), by at most half its own: the running total follows the plan, so
    sections that stall short, each within tolerance or not, are made up by the next ones."""
    planned = plan.sections[index].words
    before = [record for record in written if int(record["index"]) < index]
    owed = sum(s.words for s in plan.sections[:index]) - sum(int(r["words"]) for r in before)
    return planned + max(-(planned // 2), min(planned // 2, owed))


async def write_section(
    config: AgentWriteConfig, state: WriteState, index: int, sequential: bool
) -> dict[str, Any]:
    """Write, check, store and stream one section; the state update it makes."""
    ctx = context()
    plan = Plan.model_validate(state["plan"])
    carry = sequential and config.carry_over
    writer = SectionWriter(
        config, plan, index,
        instruction=state["instruction"], language=state["language"],
        ratio=float(state["tokens_per_word"]), reviewed=bool(state.get("plan_review")),
        budget=carried_budget(plan, state.get("sections") or [], index) if carry else None,
    )  # fmt: skip
    previous: str | None = None
    summary: str | None = None
    if sequential:
        previous = await load_text(ctx, "sections", index - 1) if index > 0 else None
        summary = await load_text(ctx, "summaries", index - 1) if index > 0 else ""
    samples = [CallSample.model_validate(raw) for raw in state.get("samples") or []]
    size = call_size(samples, config.tolerance, config.words_per_call)
    draft = await writer.write(summary, previous, size)
    await _save(ctx, "sections", index, draft.text)
    fresh = [draft.sample] if draft.sample is not None else []
    if sequential:  # in parallel, sections run at once: `assemble` keeps all they measured
        await save_samples(ctx, config.calibration_key, [*samples, *fresh], config.tolerance)
    emit({"kind": "token", "node": f"section[{index}]", "text": draft.text})
    if sequential and index < writer.task.count - 1:
        new_summary = await writer.summarize(summary or "", draft.text)
        await _save(ctx, "summaries", index, new_summary)
    budget, words = writer.section.words, w.count_words(draft.text)
    within = abs(words - budget) <= config.tolerance * budget
    warnings = (
        []
        if within
        else [
            f"section {index + 1}: {words} words for a budget of {budget} after "
            f"{draft.extensions} extension(s) (outside the {config.tolerance:.0%} tolerance)"
        ]
    )
    record = {
        "index": index, "words": words, "budget": budget, "extensions": draft.extensions,
        "condensed": draft.condensed, "trimmed": draft.trimmed,
        "repeats_dropped": draft.repeats_dropped, "retried": draft.retried,
        "calls": draft.calls, "within_tolerance": within,
    }  # fmt: skip
    return {
        "sections": [record], "warnings": warnings, "usage": usage_update(writer.usage),
        "samples": [sample.model_dump() for sample in fresh],
    }  # fmt: skip


def to_markdown(plan: Plan, texts: list[str], headings: bool) -> str:
    """The document: sections separated by blank lines, titled with `##` headings."""
    if len(texts) == 1 or not headings:
        return "\n\n".join(text.strip() for text in texts if text.strip())
    blocks = [
        f"## {section.title}\n\n{text.strip()}" if section.title else text.strip()
        for section, text in zip(plan.sections, texts, strict=True)
    ]
    return "\n\n".join(block for block in blocks if block)


# --- graph -------------------------------------------------------------------------------------


def rejection(config: AgentWriteConfig, state: WriteState) -> Rejection | None:
    """The outline a person rejected last, if any; an error once `max_plan_reviews` outlines
    have all been rejected."""
    reasons = state.get("rejections") or []
    if not reasons:
        return None
    if len(reasons) >= config.max_plan_reviews:
        raise RunFailedError(
            f"AgentWrite stopped: the outline was rejected at all {len(reasons)} reviews "
            f"(max_plan_reviews={config.max_plan_reviews}); nothing was written. Start a new run "
            "with a clearer instruction, or allow more reviews with a larger max_plan_reviews",
            context().run_id,
        )
    return Rejection(Plan.model_validate(state["plan"]), reasons[-1])


def build_graph(config: AgentWriteConfig) -> StateGraph[WriteState, WorkflowContext, Any, Any]:
    """plan -> write (one section per step, looping) -> assemble; in parallel mode plan fans
    out to one `write_one` per section. With `review_plan`, `review` stands between planning and
    writing: it loops back to `plan` on a rejection and to itself when an edit is not used."""

    async def plan(state: WriteState) -> dict[str, Any]:
        rejected = rejection(config, state)
        size = size_from(state.get("samples"), config.tolerance, config.words_per_call)
        with failures_kept():
            made = await make_plan(
                config,
                state["instruction"],
                state["target_words"],
                state["language"],
                rejected,
                size,
            )
        return {
            "plan": made.plan.model_dump(), "plan_source": made.source, "cursor": 0,
            "warnings": made.warnings, "plan_problems": made.problems,
            "plan_parse_failures": made.parse_failures, "usage": usage_update(made.usage),
        }  # fmt: skip

    async def write(state: WriteState) -> dict[str, Any]:
        index = state["cursor"]
        with failures_kept():
            update = await write_section(config, state, index, sequential=True)
        return {**update, "cursor": index + 1}

    def after_write(state: WriteState) -> str:
        return "write" if state["cursor"] < len(state["plan"]["sections"]) else "assemble"

    async def write_one(state: WriteState) -> dict[str, Any]:
        with failures_kept():
            return await write_section(config, state, state["cursor"], sequential=False)

    def fan_out(state: WriteState) -> list[Send] | str:
        done = {int(item["index"]) for item in state.get("sections") or []}
        todo = [i for i in range(len(state["plan"]["sections"])) if i not in done]
        shared = {key: value for key, value in state.items() if key in _SECTION_INPUT}
        return [Send("write_one", {**shared, "cursor": i}) for i in todo] or "assemble"

    async def review(state: WriteState) -> dict[str, Any]:
        return review_outline(config, dict(state))

    def after_review(state: WriteState) -> list[Send] | str:
        if state.get("plan_review"):
            return fan_out(state) if config.mode == "parallel" else "write"
        return "review" if state.get("review_note") else "plan"

    async def assemble(state: WriteState) -> dict[str, Any]:
        ctx = context()
        made = Plan.model_validate(state["plan"])
        texts = [await load_text(ctx, "sections", i) for i in range(len(made.sections))]
        markdown = to_markdown(made, texts, config.headings)
        if config.mode == "parallel":
            samples = [CallSample.model_validate(raw) for raw in state.get("samples") or []]
            await save_samples(ctx, config.calibration_key, samples, config.tolerance)
        await ctx.store.aput(
            ctx.ns("runs", ctx.run_id, "document"), "markdown", {"text": markdown}, index=False
        )
        return {"words": w.count_words(markdown)}

    graph: StateGraph[WriteState, WorkflowContext, Any, Any] = StateGraph(
        WriteState, context_schema=WorkflowContext
    )
    graph.add_node("plan", plan)
    graph.add_node("assemble", assemble)
    graph.add_edge(START, "plan")
    if config.mode == "parallel":
        graph.add_node("write_one", write_one)
        graph.add_edge("write_one", "assemble")
        writing = ["write_one", "assemble"]
    else:
        graph.add_node("write", write)
        graph.add_conditional_edges("write", after_write, ["write", "assemble"])
        writing = ["write"]
    if config.review_plan:
        graph.add_node("review", review)
        graph.add_edge("plan", "review")
        graph.add_conditional_edges("review", after_review, ["plan", "review", *writing])
    elif config.mode == "parallel":
        graph.add_conditional_edges("plan", fan_out, writing)
    else:
        graph.add_edge("plan", "write")
    graph.add_edge("assemble", END)
    return graph
