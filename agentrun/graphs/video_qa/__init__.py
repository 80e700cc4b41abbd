"""Questions about long videos answered from retrieved segments (after Video-RAG, 2024).

`VideoQA(config).run(video=Path("talk.mp4"), question="What was said at 01:05?")` indexes the
video once, then answers from the segments the question retrieves:

- Index (stored under the video's fingerprint, reused by later questions): per segment of
  `segment_s` seconds, its caption (shared with long-caption: the same settings reuse the same
  stored captions), the text on its frames (Tesseract, `ocr`) and what is said in it
  (PocketSphinx, offline, `speech`), each with its times. Each segment is one checkpointed step.
- Retrieve: the segments at times the question names (`01:05`, `00:01:05`, `minute 2`), those
  holding text it quotes, the `top_k` most like it in the index (by meaning where the store
  embeds, else by shared words), and their `neighbours`, within `max_frames` frames.
- Answer: one call to the vision model with each segment's text and frames (decoded again from
  the file, each after its `[HH:MM:SS]` label) and the question; it cites timestamps, and each
  citation is checked against what was sent (`grounded`).

`method: uniform` is the baseline: `max_frames` frames spread evenly over the video, no text.
A model that cannot see (the embedded text model, `vision: false`) answers from the index's text
alone; the baseline needs one that sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.graph import StateGraph

from agentrun.errors import ConfigError
from agentrun.graphs.base import BuildContext, Workflow
from agentrun.graphs.long_caption.segments import (
    caption_set,
    check_can_caption,
    open_inputs,
    sees_images,
    segment_windows,
    videos_ns,
)
from agentrun.graphs.runtime import Session
from agentrun.graphs.video_qa.answers import citations
from agentrun.graphs.video_qa.graph import VideoQAState, build_graph, index_set, manifest_key
from agentrun.graphs.video_qa.models import (
    Citation,
    Method,
    Retrieved,
    SegmentIndex,
    TimedLine,
    VideoQAConfig,
    VideoQAInputs,
    VideoQAResult,
)
from agentrun.media import ocr, speech


class VideoQA(Workflow[VideoQAConfig, VideoQAInputs, VideoQAResult]):
    """Answer a question about a video, citing timestamps (see the package doc)."""

    name = "video-qa"
    description = (
        "Index a video's captions, on-screen text and speech by time, retrieve the segments a "
        "question needs, and answer from their frames and text with timestamps "
        "(method: uniform, the baseline, sends evenly spread frames only)."
    )

    def build(self, ctx: BuildContext[VideoQAConfig]) -> StateGraph[Any, Any, Any, Any]:
        return build_graph(ctx.config)

    async def start(self, inputs: VideoQAInputs, session: Session) -> VideoQAState:
        """Check the video (refused by name before any call), and what the index will hold."""
        config = self.config
        _, ref = open_inputs(inputs, config)
        vision = sees_images(session.gateway, config)
        if config.method == "uniform" and not vision:
            raise ConfigError(
                f"the uniform baseline sends frames only, and model {config.answerer!r} cannot "
                "see images; use a vision model (or vision: true)"
            )
        if config.captions and config.method == "rag":
            check_can_caption(session.gateway, config, vision)
        reading = ocr.available() if config.ocr is None else config.ocr
        hearing = (speech.available() if config.speech is None else config.speech) and bool(
            ref["has_audio"]
        )
        captions = caption_set(ref, config, session.gateway, vision)
        index = index_set(captions, config.captions, reading, hearing)
        done = await session.store.aget(videos_ns(session.ctx, ref["video_id"]),
                                        manifest_key(index))  # fmt: skip
        return {
            "source": ref,
            "question": inputs.question,
            "caption_set": captions,
            "index_set": index,
            "vision": vision,
            "ocr": reading,
            "speech": hearing,
            "segments": len(segment_windows(ref, config)),
            "next_segment": 0,
            "indexed": config.method == "rag" and config.reuse and done is not None,
        }

    async def finish(self, state: Mapping[str, Any], session: Session) -> VideoQAResult:
        ref = state["source"]
        retrieved = [Retrieved.model_validate(item) for item in state.get("retrieved", [])]
        frames = list(state.get("frames", []))
        answer = str(state.get("answer", ""))
        return VideoQAResult(
            answer=answer, question=state["question"], method=self.config.method,
            citations=citations(answer, retrieved, frames), segments=retrieved, frames=frames,
            source=ref["path"], video_id=ref["video_id"], duration=ref["duration"],
            indexed_segments=state["segments"] if self.config.method == "rag" else 0,
            index_reused=bool(state.get("indexed")), warnings=list(state.get("warnings", [])),
        )  # fmt: skip


__all__ = [
    "Citation",
    "Method",
    "Retrieved",
    "SegmentIndex",
    "TimedLine",
    "VideoQA",
    "VideoQAConfig",
    "VideoQAInputs",
    "VideoQAResult",
]
