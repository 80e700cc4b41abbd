"""Settings, inputs, store records and results of long-caption (shared with video-qa)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentrun.agents.config import LOCAL_MODEL
from agentrun.graphs.base import WorkflowResult
from agentrun.media.source import ImagesPath, VideoPath
from agentrun.memory.records import Record

#: Tokens a word costs at most in the budgets below (English runs about 1.3).
TOKENS_PER_WORD = 2


class VideoSettings(BaseModel):
    """How a video (or a folder of images) becomes segments of frames, and how each segment is
    captioned: the part long-caption and video-qa share, so one can reuse the other's captions."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(default=LOCAL_MODEL, description="The vision model that captions.")
    vision: bool | None = Field(
        default=None,
        description="Whether the model sees images. None: decided for the model (the embedded "
        "text model does not: it captions from the on-screen text read by OCR instead).",
    )
    segment_s: float = Field(default=30.0, gt=0, description="Seconds of video per segment.")
    fps: float | None = Field(
        default=0.5, gt=0, description="Frames sampled a second (None: scene changes only)."
    )
    scene_threshold: float | None = Field(
        default=0.1, gt=0, lt=1, description="Also keep each new scene's first frame (None: off)."
    )
    frames_per_segment: int = Field(default=8, ge=1, description="At most this many per call.")
    images_rate: float = Field(default=1.0, gt=0, description="Images a second, for a folder.")
    image_max_side: int = Field(default=768, ge=16, description="Frames are shrunk to fit.")
    image_detail: Literal["auto", "low", "high"] | None = None
    caption_words: int = Field(default=120, ge=10, description="Words per segment caption.")
    temperature: float = Field(default=0.0, ge=0)
    reuse: bool = Field(
        default=True,
        description="Reuse captions already in the store for this video, model and settings.",
    )

    @model_validator(mode="after")
    def _samples_something(self) -> VideoSettings:
        if self.fps is None and self.scene_threshold is None:
            raise ValueError("set fps, scene_threshold or both: frames must be sampled somehow")
        return self


class LongCaptionConfig(VideoSettings):
    """Settings of a long-caption run: segment captions, merges, then the sections."""

    text_model: str | None = Field(
        default=None, description="The model that merges and writes (defaults to `model`)."
    )
    merge_fan_in: int = Field(default=4, ge=2, description="At most this many merged at once.")
    merge_input_tokens: int = Field(
        default=3000, gt=0, description="Token budget of the captions merged in one call."
    )
    merge_words: int = Field(default=250, ge=20, description="Words of one merged caption.")
    max_sections: int = Field(default=6, ge=1, description="Merge until at most this many.")
    section_input_tokens: int = Field(
        default=3000, gt=0, description="Token budget of the notes a section is written from."
    )
    target_words: int = Field(default=500, ge=20, description="Length when no input sets it.")

    @property
    def writer(self) -> str:
        return self.text_model or self.model

    @model_validator(mode="after")
    def _two_fit_a_merge(self) -> LongCaptionConfig:
        largest = max(self.caption_words, self.merge_words) * TOKENS_PER_WORD
        if self.merge_input_tokens < 2 * largest:
            raise ValueError(
                f"merge_input_tokens ({self.merge_input_tokens}) must hold two captions of "
                f"{largest} tokens; raise it to {2 * largest} or lower caption_words/merge_words"
            )
        return self


class VideoInputs(BaseModel):
    """A video file or a folder of images (exactly one)."""

    model_config = ConfigDict(extra="forbid")

    video: VideoPath | None = Field(default=None, description="A video file (mp4, mkv, webm...).")
    images: ImagesPath | None = Field(
        default=None, description="A folder of images (png, jpg, webp), in name order."
    )

    @model_validator(mode="after")
    def _one_source(self) -> VideoInputs:
        if (self.video is None) == (self.images is None):
            raise ValueError("give either video (a file) or images (a folder), not both or none")
        return self


class LongCaptionInputs(VideoInputs):
    target_words: int | None = Field(
        default=None, ge=20, description="Length of the description (default: the config's)."
    )


class SegmentCaption(Record):
    """A segment's caption in the store (under the video's records), found again by any run
    on the same video with the same caption settings (`caption_set`)."""

    kind: str = "video-caption"
    video_id: str
    caption_set: str
    segment: int = Field(ge=0)
    start: float
    end: float
    frames: list[float] = Field(default_factory=list, description="Timestamps of the frames.")
    model: str
    tokens: int = 0


class MergedCaption(Record):
    """A merge of neighbouring captions (level 1 merges segment captions, level 2 merges...)."""

    kind: str = "video-merge"
    video_id: str
    run: str
    level: int = Field(ge=1)
    start: float
    end: float
    parts: list[str]
    tokens: int = 0


class Section(BaseModel):
    """One timestamped section of the final description."""

    start: float
    end: float
    heading: str
    text: str
    words: int
    target_words: int


class Caption(BaseModel):
    """A segment caption as the result lists it."""

    segment: int
    start: float
    end: float
    frames: list[float]
    text: str


class LongCaptionResult(WorkflowResult):
    """The description (timestamped sections), the captions it was built from, and how many
    merge levels and calls it took."""

    output_field = "description"

    description: str
    sections: list[Section] = Field(default_factory=list)
    captions: list[Caption] = Field(default_factory=list)
    source: str
    video_id: str
    duration: float
    segments: int
    vision: bool
    levels: int = Field(description="Merge levels above the segment captions.")
    merges: int = Field(description="Merge calls made.")
    words: int
    target_words: int
    warnings: list[str] = Field(default_factory=list)
