"""The long-caption graph: caption each segment, merge level by level, write the sections.

Every model call is its own graph step (a segment, a merge, a section), checkpointed after it,
so a killed run resumes at the first step it had not finished. The state holds the video's ref,
counters and the items' keys, spans and token counts; the texts are in the store.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph

from agentrun.errors import UsageError
from agentrun.graphs import runtime
from agentrun.graphs.long_caption import prompts
from agentrun.graphs.long_caption.merge import (
    Item,
    group_neighbours,
    needs_merging,
    notes_for,
    share_words,
)
from agentrun.graphs.long_caption.models import (
    TOKENS_PER_WORD,
    LongCaptionConfig,
    MergedCaption,
)
from agentrun.graphs.long_caption.prompts import Part
from agentrun.graphs.long_caption.segments import (
    SourceRef,
    caption_segment,
    segment_windows,
    videos_ns,
)
from agentrun.graphs.runtime import WorkflowContext, add_usage, context, usage_of, usage_update
from agentrun.memory.records import Record
from agentrun.text.words import count_words, tail_words

#: Words of the previous section shown to the writer of the next.
PREVIOUS_WORDS = 60


class Written(TypedDict):
    """A section of the description: its text is under `key` in the run's records."""

    key: str
    start: float
    end: float
    words: int


class LongCaptionState(TypedDict, total=False):
    source: SourceRef
    caption_set: str
    vision: bool
    segments: int
    next_segment: int
    levels: list[list[Item]]
    groups: list[list[int]]
    next_group: int
    merged: list[Item]
    merges: int
    target_words: int
    plan: list[int]
    next_section: int
    sections: list[Written]
    warnings: Annotated[list[str], operator.add]
    usage: Annotated[dict[str, Any], add_usage]


class SectionText(Record):
    """One written section of a run's description."""

    kind: str = "video-section"
    start: float
    end: float
    target_words: int


def run_ns(ctx: WorkflowContext) -> tuple[str, ...]:
    """Where a run keeps its merges and sections (its captions belong to the video)."""
    return ctx.ns("runs", ctx.run_id, "long-caption")


async def text_at(namespace: tuple[str, ...], key: str) -> str:
    item = await context().store.aget(namespace, key)
    if item is None:
        raise UsageError(f"the store lost record {key!r} of this run; start the run again")
    return str(item.value["text"])


async def item_texts(state: LongCaptionState, items: list[Item]) -> list[Part]:
    """The texts of captions (under the video) and merges (under the run)."""
    ctx = context()
    parts = []
    for item in items:
        where = run_ns(ctx) if item["key"].startswith("merge-") else videos_ns(ctx, _video(state))
        parts.append(Part(item["start"], item["end"], await text_at(where, item["key"])))
    return parts


def _video(state: LongCaptionState) -> str:
    return state["source"]["video_id"]


def build_graph(
    config: LongCaptionConfig,
) -> StateGraph[LongCaptionState, WorkflowContext, Any, Any]:
    """caption (per segment) -> plan_level -> merge (per group) ... -> plan_sections -> write."""

    async def caption(state: LongCaptionState) -> dict[str, Any]:
        position = state.get("next_segment", 0)
        window = segment_windows(state["source"], config)[position]
        record, usage = await caption_segment(
            config, state["source"], window, caption_set_id=state["caption_set"],
            vision=state["vision"], count_model=config.writer, node="caption",
        )  # fmt: skip
        levels = [list(level) for level in state.get("levels") or [[]]]
        if record is not None:
            key = f"caption-{record.caption_set}-{record.segment:06d}"
            levels[0].append(Item(key=key, start=record.start, end=record.end,
                                  tokens=record.tokens))  # fmt: skip
        return {"next_segment": position + 1, "levels": levels, "usage": usage_update(usage)}

    def after_caption(state: LongCaptionState) -> str:
        return "caption" if state["next_segment"] < state["segments"] else "plan_level"

    async def plan_level(state: LongCaptionState) -> dict[str, Any]:
        top = state["levels"][-1]
        if not top:
            what = "frames" if state["vision"] else "on-screen text to read (a text model)"
            raise UsageError(
                f"{state['source']['path']}: no segment had {what} to caption; use a vision "
                "model, or a video with frames"
            )
        if not needs_merging(top, config.max_sections):
            return {"groups": []}
        tokens = [item["tokens"] for item in top]
        groups = group_neighbours(tokens, config.merge_input_tokens, config.merge_fan_in)
        return {"groups": groups, "next_group": 0, "merged": []}

    def after_plan(state: LongCaptionState) -> str:
        return "merge" if state["groups"] else "plan_sections"

    async def merge(state: LongCaptionState) -> dict[str, Any]:
        ctx = context()
        levels, number = state["levels"], state["next_group"]
        group = [levels[-1][position] for position in state["groups"][number]]
        update: dict[str, Any] = {"next_group": number + 1}
        if len(group) == 1:
            item = group[0]  # nothing to merge it with: it goes up as it is
        else:
            parts = await item_texts(state, group)
            completion = await runtime.complete(
                config.writer, prompts.merge_messages(parts, config.merge_words), node="merge",
                max_tokens=config.merge_words * TOKENS_PER_WORD + 32,
                temperature=config.temperature,
            )  # fmt: skip
            text = completion.text.strip()
            if not text:
                update["warnings"] = [
                    f"merge {number + 1} of level {len(levels)} came back empty: its parts go up "
                    "as they were"
                ]
                text = "\n\n".join(part.text for part in parts)
            level = len(levels)
            key = f"merge-{level}-{number:05d}"
            record = MergedCaption(
                text=text, video_id=_video(state), run=ctx.run_id, level=level,
                start=group[0]["start"], end=group[-1]["end"], parts=[i["key"] for i in group],
                tokens=ctx.gateway.count_text(config.writer, text),
            )  # fmt: skip
            await ctx.store.aput(run_ns(ctx), key, record.to_value(), index=False)
            item = Item(key=key, start=record.start, end=record.end, tokens=record.tokens)
            update |= {"merges": state.get("merges", 0) + 1,
                       "usage": usage_update(usage_of(completion))}  # fmt: skip
        merged = [*state["merged"], item]
        if number + 1 == len(state["groups"]):
            return update | {"levels": [*levels, merged], "merged": [], "groups": []}
        return update | {"merged": merged}

    def after_merge(state: LongCaptionState) -> str:
        return "merge" if state["groups"] else "plan_level"

    async def plan_sections(state: LongCaptionState) -> dict[str, Any]:
        top = state["levels"][-1]
        spans = [(item["start"], item["end"]) for item in top]
        return {"plan": share_words(spans, state["target_words"]), "next_section": 0,
                "sections": []}  # fmt: skip

    async def write(state: LongCaptionState) -> dict[str, Any]:
        ctx = context()
        number = state["next_section"]
        top = state["levels"][-1]
        section, words = top[number], state["plan"][number]
        notes = await item_texts(state, notes_for(state["levels"], section,
                                                  config.section_input_tokens))  # fmt: skip
        written = state["sections"]
        previous = (
            tail_words(await text_at(run_ns(ctx), written[-1]["key"]), PREVIOUS_WORDS)
            if written
            else ""
        )
        part = Part(section["start"], section["end"], "")
        messages = prompts.section_messages(number + 1, len(top), part, notes, words, previous)
        completion = await runtime.complete(
            config.writer, messages, node="write",
            max_tokens=words * TOKENS_PER_WORD + 64, temperature=config.temperature,
        )  # fmt: skip
        text = completion.text.strip()
        key = f"section-{number:04d}"
        record = SectionText(text=text, start=section["start"], end=section["end"],
                             target_words=words)  # fmt: skip
        await ctx.store.aput(run_ns(ctx), key, record.to_value(), index=False)
        done = Written(key=key, start=section["start"], end=section["end"], words=count_words(text))
        update: dict[str, Any] = {"next_section": number + 1, "sections": [*written, done],
                                  "usage": usage_update(usage_of(completion))}  # fmt: skip
        if not text:
            update["warnings"] = [f"section {number + 1} came back empty"]
        return update

    def after_write(state: LongCaptionState) -> str:
        return "write" if state["next_section"] < len(state["plan"]) else END

    graph: StateGraph[LongCaptionState, WorkflowContext, Any, Any] = StateGraph(
        LongCaptionState, context_schema=WorkflowContext
    )
    graph.add_node("caption", caption)
    graph.add_node("plan_level", plan_level)
    graph.add_node("merge", merge)
    graph.add_node("plan_sections", plan_sections)
    graph.add_node("write", write)
    graph.add_edge(START, "caption")
    graph.add_conditional_edges("caption", after_caption, ["caption", "plan_level"])
    graph.add_conditional_edges("plan_level", after_plan, ["merge", "plan_sections"])
    graph.add_conditional_edges("merge", after_merge, ["merge", "plan_level"])
    graph.add_edge("plan_sections", "write")
    graph.add_conditional_edges("write", after_write, ["write", END])
    return graph
