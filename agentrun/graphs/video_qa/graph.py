"""The video-qa graph: index the video (speech, then each segment), retrieve, answer.

rag:     START -> speech -> index (per segment) -> retrieve -> answer -> END
         (START -> retrieve when the store already holds this video's index)
uniform: START -> uniform -> END (baselines.py)

Each segment is indexed in its own checkpointed step; its record (caption, on-screen text and
speech, with times) goes to the store under the video, where a later question finds it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import operator
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph

from agentrun.agents.ledger import Usage
from agentrun.graphs import runtime
from agentrun.graphs.long_caption.segments import (
    SourceRef,
    caption_segment,
    image_limits,
    reopen,
    segment_windows,
    videos_ns,
    window_frames,
)
from agentrun.graphs.runtime import WorkflowContext, add_usage, context, usage_of, usage_update
from agentrun.graphs.video_qa import retrieval
from agentrun.graphs.video_qa.baselines import uniform_answer
from agentrun.graphs.video_qa.models import Reason, SegmentIndex, TimedLine, VideoQAConfig
from agentrun.graphs.video_qa.prompts import Shown, answer_messages
from agentrun.media import ocr, speech
from agentrun.media.source import Window
from agentrun.memory.records import Record
from agentrun.memory.scope import searches_by_meaning


class VideoQAState(TypedDict, total=False):
    source: SourceRef
    question: str
    caption_set: str
    index_set: str
    vision: bool
    ocr: bool
    speech: bool
    segments: int
    next_segment: int
    indexed: bool
    retrieved: list[dict[str, Any]]
    frames: list[float]
    answer: str
    warnings: Annotated[list[str], operator.add]
    usage: Annotated[dict[str, Any], add_usage]


class SpeechRecord(Record):
    """Everything said in a video, utterance by utterance (`text`: all of it)."""

    kind: str = "video-speech"
    utterances: list[TimedLine]


def index_set(caption_set: str, captions: bool, on_screen: bool, spoken: bool) -> str:
    """A name for the settings an index was made with (a video's records sit under it)."""
    text = json.dumps([caption_set, captions, on_screen, spoken])
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def index_key(index_set_id: str, segment: int) -> str:
    return f"segment-{index_set_id}-{segment:06d}"


def manifest_key(index_set_id: str) -> str:
    return f"index-{index_set_id}"


SPEECH_KEY = "speech"


async def stored_speech(ctx: WorkflowContext, video_id: str) -> list[TimedLine]:
    item = await ctx.store.aget(videos_ns(ctx, video_id), SPEECH_KEY)
    return SpeechRecord.from_value(item.value).utterances if item is not None else []


def overlapping(lines: list[TimedLine], window: Window) -> list[TimedLine]:
    return [line for line in lines if line.start < window.end and line.end > window.start]


def build_graph(config: VideoQAConfig) -> StateGraph[VideoQAState, WorkflowContext, Any, Any]:
    """The rag graph, or the uniform baseline's (see the module doc)."""
    graph: StateGraph[VideoQAState, WorkflowContext, Any, Any] = StateGraph(
        VideoQAState, context_schema=WorkflowContext
    )
    if config.method == "uniform":

        async def uniform(state: VideoQAState) -> dict[str, Any]:
            return await uniform_answer(config, state["source"], state["question"])

        graph.add_node("uniform", uniform)
        graph.add_edge(START, "uniform")
        graph.add_edge("uniform", END)
        return graph

    async def transcribe(state: VideoQAState) -> dict[str, Any]:
        ctx, ref = context(), state["source"]
        namespace = videos_ns(ctx, ref["video_id"])
        if await ctx.store.aget(namespace, SPEECH_KEY) is None:
            said = await asyncio.to_thread(speech.transcribe, ref["path"])
            lines = [TimedLine(start=t.start, end=t.end, text=t.text) for t in said]
            record = SpeechRecord(text=" ".join(line.text for line in lines), utterances=lines)
            await ctx.store.aput(namespace, SPEECH_KEY, record.to_value(), index=False)
        return {}

    async def index(state: VideoQAState) -> dict[str, Any]:
        ctx, ref = context(), state["source"]
        position = state.get("next_segment", 0)
        window = segment_windows(ref, config)[position]
        key = index_key(state["index_set"], window.index)
        namespace = videos_ns(ctx, ref["video_id"])
        update: dict[str, Any] = {"next_segment": position + 1}
        if await ctx.store.aget(namespace, key) is not None:
            return update  # indexed by an earlier run
        frames = await window_frames(reopen(ref), window, config) if state["ocr"] else None
        usage = Usage()
        caption = ""
        if config.captions:
            record, usage = await caption_segment(
                config, ref, window, caption_set_id=state["caption_set"],
                vision=state["vision"], count_model=config.model, node="caption", frames=frames,
            )  # fmt: skip
            caption = record.text if record is not None else ""
        on_screen: list[TimedLine] = []
        if frames:
            texts = await asyncio.to_thread(ocr.read_text, frames, end=window.end)
            on_screen = [TimedLine(start=t.start, end=t.end, text=t.text) for t in texts]
        said = overlapping(await stored_speech(ctx, ref["video_id"]), window)
        entry = SegmentIndex(
            text="", video_id=ref["video_id"], index_set=state["index_set"],
            segment=window.index, start=window.start, end=window.end, caption=caption,
            on_screen=on_screen, speech=said,
        )  # fmt: skip
        entry.text = "\n".join(
            [caption, *(line.text for line in on_screen), *(line.text for line in said)]
        ).strip()
        await ctx.store.aput(namespace, key, entry.to_value())
        if position + 1 == state["segments"]:
            done = {"kind": "video-index", "text": "", "segments": state["segments"]}
            await ctx.store.aput(namespace, manifest_key(state["index_set"]), done, index=False)
        return update | {"usage": usage_update(usage)}

    def after_index(state: VideoQAState) -> str:
        return "index" if state["next_segment"] < state["segments"] else "retrieve"

    async def retrieve(state: VideoQAState) -> dict[str, Any]:
        ctx, ref = context(), state["source"]
        question = state["question"]
        namespace = videos_ns(ctx, ref["video_id"])
        where = {"kind": "video-segment", "index_set": state["index_set"]}
        everything = [
            SegmentIndex.from_value(item.value)
            for item in await ctx.store.asearch(namespace, filter=where, limit=state["segments"])
        ]
        windows = segment_windows(ref, config)
        anchors: list[tuple[int, Reason]] = [
            (segment, "time")
            for segment in retrieval.windows_at(retrieval.mentioned_times(question), windows)
        ]
        for phrase in retrieval.quoted(question):
            anchors += [(r.segment, "quote") for r in everything if retrieval.holds(r.text, phrase)]
        rankings = [retrieval.keyword_rank(question, everything)]
        if searches_by_meaning(ctx.store):
            hits = await ctx.store.asearch(namespace, query=question, filter=where,
                                           limit=state["segments"])  # fmt: skip
            rankings.append(retrieval.ranked(hits) or [])
        order = retrieval.fused(rankings, config.top_k)
        limit = min(config.max_segments, config.max_frames)
        chosen = retrieval.choose(anchors, order, config.neighbours, windows, limit)
        by_segment = {record.segment: record for record in everything}
        retrieved = [
            {"segment": s, "start": windows[s].start, "end": windows[s].end, "reason": why}
            for s, why in chosen
            if s in by_segment
        ]
        return {"retrieved": retrieved}

    async def answer(state: VideoQAState) -> dict[str, Any]:
        ctx, ref = context(), state["source"]
        namespace = videos_ns(ctx, ref["video_id"])
        retrieved = state["retrieved"]
        per_segment = max(1, config.max_frames // max(1, len(retrieved)))
        source = reopen(ref)
        shown, frames_sent = [], []
        for item in retrieved:
            stored = await ctx.store.aget(namespace, index_key(state["index_set"], item["segment"]))
            assert stored is not None  # retrieve only keeps indexed segments
            window = Window(item["segment"], item["start"], item["end"])
            frames = (
                await window_frames(source, window, config, per_segment) if state["vision"] else []
            )
            item["frames"] = [frame.timestamp for frame in frames]
            frames_sent += item["frames"]
            shown.append(Shown(SegmentIndex.from_value(stored.value), frames))
        messages = answer_messages(
            state["question"], shown, image_limits(config), config.answer_words
        )
        completion = await runtime.complete(
            config.answerer, messages, node="answer",
            max_tokens=config.answer_words * 2 + 32, temperature=config.temperature,
        )  # fmt: skip
        return {"answer": completion.text.strip(), "retrieved": retrieved, "frames": frames_sent,
                "usage": usage_update(usage_of(completion))}  # fmt: skip

    def begin(state: VideoQAState) -> str:
        if state.get("indexed"):
            return "retrieve"
        return "transcribe" if state["speech"] else "index"

    graph.add_node("transcribe", transcribe)
    graph.add_node("index", index)
    graph.add_node("retrieve", retrieve)
    graph.add_node("answer", answer)
    graph.add_conditional_edges(START, begin, ["transcribe", "index", "retrieve"])
    graph.add_edge("transcribe", "index")
    graph.add_conditional_edges("index", after_index, ["index", "retrieve"])
    graph.add_edge("retrieve", "answer")
    graph.add_edge("answer", END)
    return graph
