"""Long captions of long videos by hierarchical aggregation (after LongCaption-Agent, 2024).

`LongCaption(config).run(video=Path("talk.mp4"), target_words=800)` (or `images=` a folder)
describes a video of any length in timestamped sections:

1. The video is cut into segments of `segment_s` seconds; each segment's frames (sampled at
   `fps` and at scene changes, at most `frames_per_segment`) go to the vision model in one call,
   each after its `[HH:MM:SS]` label, and the caption comes back as timed lines. Segments are
   decoded one at a time, straight from the file (the run never holds the video), and each
   caption is kept in the store under the video's fingerprint, where video-qa finds it too.
2. Neighbouring captions are merged by the text model, level by level, a group at most
   `merge_fan_in` long and `merge_input_tokens` large, into merges of at most `merge_words`,
   until at most `max_sections` remain.
3. Each remaining item becomes a section headed by its time span, written from the finest
   captions under it that fit `section_input_tokens` and the end of the previous section; the
   target length is shared among sections by the time they cover.

Each segment, merge and section is one checkpointed graph step: a killed run resumes at the
first one it had not finished, and a later run with the same settings on the same video reuses
the stored captions (`reuse`). A model that cannot see images (the embedded text model, or
`vision: false`) captions each segment from the on-screen text Tesseract reads on its frames.
A missing, empty, corrupt, truncated or unsupported file is refused before any call, by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.graph import StateGraph

from agentrun.graphs.base import BuildContext, Workflow
from agentrun.graphs.long_caption.graph import LongCaptionState, build_graph, run_ns
from agentrun.graphs.long_caption.models import (
    Caption,
    LongCaptionConfig,
    LongCaptionInputs,
    LongCaptionResult,
    MergedCaption,
    Section,
    SegmentCaption,
    VideoInputs,
    VideoSettings,
)
from agentrun.graphs.long_caption.prompts import span
from agentrun.graphs.long_caption.segments import (
    caption_set,
    check_can_caption,
    open_inputs,
    sees_images,
    segment_windows,
    videos_ns,
)
from agentrun.graphs.runtime import Session
from agentrun.text.words import count_words

CAPTION_FIELDS = {"segment", "start", "end", "frames", "text"}


class LongCaption(Workflow[LongCaptionConfig, LongCaptionInputs, LongCaptionResult]):
    """A long description of a video in timestamped sections (see the package doc)."""

    name = "long-caption"
    description = (
        "Caption a long video segment by segment with a vision model, merge neighbouring "
        "captions level by level, and write a description in timestamped sections."
    )

    def build(self, ctx: BuildContext[LongCaptionConfig]) -> StateGraph[Any, Any, Any, Any]:
        return build_graph(ctx.config)

    async def start(self, inputs: LongCaptionInputs, session: Session) -> LongCaptionState:
        """Check the video (a bad file is refused here, before any call) and plan segments."""
        config = self.config
        _, ref = open_inputs(inputs, config)
        vision = sees_images(session.gateway, config)
        check_can_caption(session.gateway, config, vision)
        return {
            "source": ref,
            "caption_set": caption_set(ref, config, session.gateway, vision),
            "vision": vision,
            "segments": len(segment_windows(ref, config)),
            "next_segment": 0,
            "levels": [[]],
            "merges": 0,
            "target_words": inputs.target_words or config.target_words,
        }

    async def finish(self, state: Mapping[str, Any], session: Session) -> LongCaptionResult:
        ctx = session.ctx
        ref = state["source"]
        sections = []
        for number, written in enumerate(state["sections"]):
            text = await _read(session, run_ns(ctx), written["key"])
            heading = span(written["start"], written["end"])
            sections.append(Section(start=written["start"], end=written["end"], heading=heading,
                                    text=text, words=count_words(text),
                                    target_words=state["plan"][number]))  # fmt: skip
        captions = []
        for item in state["levels"][0]:
            value = await session.store.aget(videos_ns(ctx, ref["video_id"]), item["key"])
            if value is not None:
                record = SegmentCaption.from_value(value.value)
                captions.append(Caption(**record.model_dump(include=CAPTION_FIELDS)))
        description = "\n\n".join(f"## {s.heading}\n\n{s.text}" for s in sections)
        return LongCaptionResult(
            description=description, sections=sections, captions=captions, source=ref["path"],
            video_id=ref["video_id"], duration=ref["duration"], segments=state["segments"],
            vision=state["vision"], levels=len(state["levels"]) - 1,
            merges=int(state.get("merges", 0)), words=sum(s.words for s in sections),
            target_words=state["target_words"], warnings=list(state.get("warnings", [])),
        )  # fmt: skip


async def _read(session: Session, namespace: tuple[str, ...], key: str) -> str:
    item = await session.store.aget(namespace, key)
    return str(item.value["text"]) if item is not None else ""


__all__ = [
    "Caption",
    "LongCaption",
    "LongCaptionConfig",
    "LongCaptionInputs",
    "LongCaptionResult",
    "MergedCaption",
    "Section",
    "SegmentCaption",
    "VideoInputs",
    "VideoSettings",
]
