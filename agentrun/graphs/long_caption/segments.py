"""Segments of a video and their captions, shared by long-caption and video-qa.

A run keeps a `SourceRef` (the file, its content fingerprint, duration, size and modification
time) in its state, never frames: a segment's frames are decoded again from the file when the
segment is captioned or its frames are sent, and a file that changed since the run started is
refused. Captions go to the store under the video's fingerprint and a `caption_set` naming the
settings that made them (segmenting, sampling, model, prompt), so a later run on the same video,
of either workflow, reuses them instead of paying for them again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import TypedDict

from agentrun.agents.gateway import Gateway
from agentrun.agents.ledger import Usage
from agentrun.errors import ConfigError, UsageError
from agentrun.graphs import runtime
from agentrun.graphs.long_caption import prompts
from agentrun.graphs.long_caption.models import (
    TOKENS_PER_WORD,
    SegmentCaption,
    VideoInputs,
    VideoSettings,
)
from agentrun.graphs.runtime import WorkflowContext
from agentrun.media import ImageLimits, MediaLimits, Sampling, evenly_spaced, ocr
from agentrun.media.frames import Frame
from agentrun.media.source import (
    MediaSource,
    SourceKind,
    VideoSource,
    Window,
    open_source,
    windows,
)

#: Where a run's records about one video live, inside its namespace's records.
VIDEOS = "videos"


class SourceRef(TypedDict):
    """What a run's state says about its video: enough to read it again, and to notice if it
    changed."""

    kind: str
    path: str
    rate: float
    video_id: str
    duration: float
    has_audio: bool
    stamp: list[int]


def open_inputs(inputs: VideoInputs, settings: VideoSettings) -> tuple[MediaSource, SourceRef]:
    """The source the inputs name, checked (a bad file is refused by name), and its ref."""
    path = inputs.video if inputs.video is not None else inputs.images
    assert path is not None  # the inputs' own check
    kind: SourceKind = "video" if inputs.video is not None else "images"
    source = open_source(path, kind, rate=settings.images_rate)
    ref = SourceRef(
        kind=source.kind, path=str(source.path), rate=settings.images_rate,
        video_id=source.fingerprint(), duration=source.duration, has_audio=source.has_audio,
        stamp=list(source.stamp()),
    )  # fmt: skip
    return source, ref


def reopen(ref: SourceRef) -> MediaSource:
    """The source of a ref, without checking the file again; refused if it changed since."""
    path = Path(ref["path"])
    source: MediaSource
    if ref["kind"] == "images":
        source = open_source(path, "images", rate=ref["rate"])
    else:
        source = VideoSource(path, ref["duration"], ref["has_audio"], MediaLimits())
    try:
        unchanged = list(source.stamp()) == list(ref["stamp"])
    except OSError:
        unchanged = False
    if not unchanged:
        raise UsageError(
            f"{path}: the file changed (or is gone) since this run started on it; start a new "
            "run on it"
        )
    return source


def sampling(settings: VideoSettings) -> Sampling:
    return Sampling(
        fps=settings.fps, scene_threshold=settings.scene_threshold,
        max_side=settings.image_max_side,
    )  # fmt: skip


def image_limits(settings: VideoSettings) -> ImageLimits:
    return ImageLimits(max_side=settings.image_max_side, detail=settings.image_detail)


def segment_windows(ref: SourceRef, settings: VideoSettings) -> list[Window]:
    return windows(ref["duration"], settings.segment_s)


def sees_images(gateway: Gateway, settings: VideoSettings) -> bool:
    """Whether frames are sent to the caption model: as configured; else not to the embedded
    text model, and not to a model LiteLLM knows cannot see; to any other."""
    if settings.vision is not None:
        return settings.vision
    if gateway.is_local(settings.model):
        return False
    from agentrun.agents._litellm import litellm

    try:
        info = litellm().get_model_info(gateway.resolve(settings.model).model)
    except Exception:
        return True  # unknown to LiteLLM: a video workflow was given it, so it should see
    return info.get("supports_vision") is not False


def check_can_caption(gateway: Gateway, settings: VideoSettings, vision: bool) -> None:
    """A model that cannot see captions from on-screen text, which needs Tesseract."""
    if not vision and not ocr.available():
        raise ConfigError(
            f"model {settings.model!r} cannot see images, so segments are captioned from their "
            f"on-screen text, which needs Tesseract ({ocr.TESSERACT_HINT}); or use a vision "
            "model, or set vision: true"
        )


def caption_set(ref: SourceRef, settings: VideoSettings, gateway: Gateway, vision: bool) -> str:
    """A name for the settings that decide a segment's caption, the model by what it resolves
    to, not its alias (the video is not in it: its records sit under its fingerprint)."""
    keys = ("segment_s", "fps", "scene_threshold", "frames_per_segment", "images_rate",
            "image_max_side", "image_detail", "caption_words", "temperature")  # fmt: skip
    decided = {key: getattr(settings, key) for key in keys}
    model = gateway.resolve(settings.model)
    decided |= {"model": [model.model, model.api_base], "vision": vision, "kind": ref["kind"],
                "prompt": prompts.CAPTION_PROMPT_VERSION}  # fmt: skip
    text = json.dumps(decided, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def videos_ns(ctx: WorkflowContext, video_id: str) -> tuple[str, ...]:
    """The store namespace of one video's records in the workflow's namespace."""
    return ctx.ns(VIDEOS, video_id)


def caption_key(caption_set_id: str, segment: int) -> str:
    return f"caption-{caption_set_id}-{segment:06d}"


async def window_frames(
    source: MediaSource, window: Window, settings: VideoSettings, limit: int | None = None
) -> list[Frame]:
    """A window's sampled frames, evenly thinned to `limit` (default: frames_per_segment);
    decoded in a thread, so the event loop goes on meanwhile."""

    def read() -> list[Frame]:
        return list(source.frames(window, sampling(settings)))

    frames = await asyncio.to_thread(read)
    count = settings.frames_per_segment if limit is None else limit
    return evenly_spaced(frames, count) if frames else []


async def stored_caption(video_id: str, key: str) -> SegmentCaption | None:
    ctx = runtime.context()
    item = await ctx.store.aget(videos_ns(ctx, video_id), key)
    return SegmentCaption.from_value(item.value) if item is not None else None


async def caption_segment(
    settings: VideoSettings,
    ref: SourceRef,
    window: Window,
    *,
    caption_set_id: str,
    vision: bool,
    count_model: str,
    node: str,
    frames: list[Frame] | None = None,
) -> tuple[SegmentCaption | None, Usage]:
    """The caption of one segment: from the store when an earlier run made it with the same
    settings (and `reuse` is on), else from one checkpointed model call, then stored. None when
    the segment has no frame (or, for a text model, no on-screen text) to caption. `frames`:
    the window's frames when the caller has read them already."""
    ctx = runtime.context()
    key = caption_key(caption_set_id, window.index)
    if settings.reuse and (found := await stored_caption(ref["video_id"], key)) is not None:
        return found, Usage()
    if frames is None:
        frames = await window_frames(reopen(ref), window, settings)
    if not frames:
        return None, Usage()
    words = settings.caption_words
    if vision:
        messages = prompts.caption_messages(
            window.start, window.end, frames, image_limits(settings), words
        )
    else:
        texts = await asyncio.to_thread(ocr.read_text, frames, end=window.end)
        if not texts:
            return None, Usage()
        messages = prompts.caption_from_text_messages(window.start, window.end, texts, words)
    completion = await runtime.complete(
        settings.model, messages, node=node,
        max_tokens=words * TOKENS_PER_WORD + 32, temperature=settings.temperature,
    )  # fmt: skip
    text = completion.text.strip()
    usage = runtime.usage_of(completion)
    if not text:
        return None, usage
    record = SegmentCaption(
        text=text, video_id=ref["video_id"], caption_set=caption_set_id, segment=window.index,
        start=window.start, end=window.end, frames=[f.timestamp for f in frames],
        model=settings.model, tokens=ctx.gateway.count_text(count_model, text),
    )  # fmt: skip
    await ctx.store.aput(videos_ns(ctx, ref["video_id"]), key, record.to_value())
    return record, usage
