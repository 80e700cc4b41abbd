"""Settings, inputs, store records and results of video-qa."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from agentrun.graphs.base import WorkflowResult
from agentrun.graphs.long_caption.models import VideoInputs, VideoSettings
from agentrun.memory.records import Record

Method = Literal["rag", "uniform"]
#: Why a segment was chosen: the question names its time, quotes its text, is like its text,
#: or it neighbours one of those.
Reason = Literal["time", "quote", "search", "neighbour"]


class VideoQAConfig(VideoSettings):
    """Settings of a video-qa run (the segment and caption settings are long-caption's, so the
    two share stored captions)."""

    method: Method = Field(
        default="rag",
        description="rag: index the video (captions, on-screen text, speech) and answer from "
        "the segments the question retrieves; uniform: the baseline, frames spread evenly.",
    )
    captions: bool = Field(default=True, description="Caption each segment for the index.")
    ocr: bool | None = Field(
        default=None, description="Index on-screen text (None: where Tesseract is installed)."
    )
    speech: bool | None = Field(
        default=None, description="Index speech (None: where PocketSphinx is installed)."
    )
    top_k: int = Field(default=2, ge=1, description="Segments found by searching the index.")
    neighbours: int = Field(default=1, ge=0, description="Also the segments this close to each.")
    max_segments: int = Field(default=3, ge=1, description="Segments sent with the question.")
    max_frames: int = Field(
        default=16, ge=1, description="Frames sent with the question (shared by its segments)."
    )
    answer_words: int = Field(default=80, ge=5)
    answer_model: str | None = Field(default=None, description="Defaults to `model`.")

    @property
    def answerer(self) -> str:
        return self.answer_model or self.model


class VideoQAInputs(VideoInputs):
    question: str = Field(description="The question about the video.")

    @field_validator("question")
    @classmethod
    def _asked(cls, question: str) -> str:
        if not question.strip():
            raise ValueError("the question is empty; pass the question to answer")
        return question


class TimedLine(BaseModel):
    """Text seen or heard from `start` to `end` seconds."""

    start: float
    end: float
    text: str


class SegmentIndex(Record):
    """What the index knows of one segment: its caption, on-screen text and speech; `text`
    (all three) is what questions are searched against."""

    kind: str = "video-segment"
    video_id: str
    index_set: str
    segment: int = Field(ge=0)
    start: float
    end: float
    caption: str = ""
    on_screen: list[TimedLine] = Field(default_factory=list)
    speech: list[TimedLine] = Field(default_factory=list)


class Retrieved(BaseModel):
    """A segment whose frames and text were sent with the question, and why."""

    segment: int
    start: float
    end: float
    reason: Reason
    frames: list[float] = Field(default_factory=list)


class Citation(BaseModel):
    """A timestamp the answer cites; `grounded` when it lies in what the model was sent."""

    time: float
    label: str
    grounded: bool


class VideoQAResult(WorkflowResult):
    """The answer with the timestamps it cites, and what it was answered from."""

    output_field = "answer"

    answer: str
    question: str
    method: str
    citations: list[Citation] = Field(default_factory=list)
    segments: list[Retrieved] = Field(default_factory=list)
    frames: list[float] = Field(default_factory=list, description="Timestamps of frames sent.")
    source: str
    video_id: str
    duration: float
    indexed_segments: int = 0
    index_reused: bool = False
    warnings: list[str] = Field(default_factory=list)
