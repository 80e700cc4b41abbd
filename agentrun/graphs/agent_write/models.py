"""AgentWrite's settings, inputs and result."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentrun.agents.config import LOCAL_MODEL
from agentrun.graphs.agent_write.plan import PlanSource, SectionBounds, SectionPlan
from agentrun.graphs.base import WorkflowResult
from agentrun.text.words import Language

Mode = Literal["sequential", "parallel"]
#: Where the target came from; `review` when a person's edited outline changed it.
TargetSource = Literal["argument", "instruction", "inferred", "review"]


class AgentWriteConfig(BaseModel):
    """Settings of an AgentWrite run."""

    model_config = ConfigDict(extra="forbid")

    model: str = LOCAL_MODEL
    planner_model: str | None = Field(default=None, description="Defaults to `model`.")
    mode: Mode = Field(
        default="sequential",
        description="sequential (summary + previous section as context) or parallel (each "
        "section from the instruction, the plan and its own point, written concurrently).",
    )
    tolerance: float = Field(default=0.2, gt=0, lt=1, description="Allowed miss per section.")
    max_words: int = Field(default=20_000, gt=0, description="Longest target accepted.")
    default_words: int = Field(
        default=1000, gt=0, description="Target when the instruction names no length or kind."
    )
    single_section_below: int = Field(default=400, ge=0)
    min_section_words: int = Field(default=200, gt=0)
    max_section_words: int = Field(default=1000, gt=0)
    section_words: int = Field(default=500, gt=0, description="Preferred section size.")
    plan_attempts: int = Field(default=2, ge=1, description="Outline requests before fallback.")
    plan_fallback: Literal["lines", "outline", "error"] = "lines"
    fix_attempts: int = Field(
        default=2, ge=0, description="Extension (or condensing) calls per section."
    )
    trim: Literal["sentences", "model"] = Field(
        default="sentences",
        description="Over-long sections: cut at sentence ends, or ask the model to condense "
        "(then cut if still long).",
    )
    summary: Literal["model", "extractive"] = "model"
    summary_words: int = Field(default=150, gt=0)
    previous_words: int = Field(
        default=1000, gt=0, description="Cap on the previous section's text in each prompt."
    )
    headroom: float = Field(default=1.3, ge=1.0, description="max_tokens over the budget.")
    drop_repeats: bool = Field(
        default=True,
        description="Drop sentences that repeat earlier ones (numbers aside) before counting.",
    )
    headings: bool = Field(default=True, description="Section titles as Markdown headings.")
    temperature: float = Field(default=0.0, ge=0)
    review_plan: bool = Field(
        default=False,
        description="Stop after planning until a person approves, edits or rejects the outline "
        "(resume with the answer); no section is written before.",
    )
    max_plan_reviews: int = Field(
        default=3, ge=1, description="Outlines shown for review; rejecting the last is an error."
    )

    @model_validator(mode="after")
    def _sizes_agree(self) -> AgentWriteConfig:
        if self.max_section_words < 2 * self.min_section_words:
            raise ValueError("max_section_words must be at least twice min_section_words")
        if not self.min_section_words <= self.section_words <= self.max_section_words:
            raise ValueError("section_words must lie between min and max_section_words")
        return self

    @property
    def planner(self) -> str:
        return self.planner_model or self.model

    @property
    def bounds(self) -> SectionBounds:
        return SectionBounds(
            min_words=self.min_section_words,
            max_words=self.max_section_words,
            preferred_words=self.section_words,
        )


class AgentWriteInputs(BaseModel):
    """What to write, and how long (default: the length the instruction names, else one
    inferred from it and stated in the warnings)."""

    model_config = ConfigDict(extra="forbid")

    instruction: str
    target_words: int | None = None


class SectionResult(BaseModel):
    index: int
    title: str
    point: str
    budget: int
    words: int
    text: str
    extensions: int = 0
    condensed: bool = False
    trimmed: bool = False
    repeats_dropped: int = 0
    retried: bool = Field(default=False, description="It came back empty and was asked again.")
    within_tolerance: bool


class PlanReview(BaseModel):
    """How the outline's review ended, and the reasons of the outlines rejected before."""

    outcome: Literal["approved", "edited"]
    rejections: list[str] = Field(default_factory=list)


class AgentWriteResult(WorkflowResult):
    output_field = "markdown"

    instruction: str
    target_words: int
    target_source: TargetSource
    model: str
    language: Language
    mode: Mode
    plan_source: PlanSource
    plan: list[SectionPlan]
    plan_review: PlanReview | None = Field(default=None, description="Set with review_plan.")
    sections: list[SectionResult]
    markdown: str
    words: int
    length_score: float
    tokens_per_word: float
    prompts: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
