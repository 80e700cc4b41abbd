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
    words_per_call: int | None = Field(
        default=None,
        gt=0,
        description="Words the model writes in one call: sections are planned at this size "
        "(within min..max_section_words) and a longer one is written in several calls. None: "
        "measured from the first call of each section (kept per model in the store, so the "
        "next run plans with it); until then a section's first call asks for the whole section.",
    )
    drop_repeats: bool = Field(
        default=True,
        description="Drop sentences that repeat earlier ones (numbers aside) before counting.",
    )
    carry_over: bool = Field(
        default=True,
        description="Sequential mode: a section's budget takes up what the sections before it "
        "wrote short of (or over) their plan, by at most half its own, so a section that stalls "
        "short is made up by the next ones and the whole stays on target.",
    )
    headings: bool = Field(default=True, description="Section titles as Markdown headings.")
    temperature: float = Field(
        default=0.8,
        ge=0,
        description="Sampling temperature of every call. At 0 a small model loops, its repeats "
        "are cut, and sections come out far short; sampled, it writes new text.",
    )
    seed: int | None = Field(
        default=0,
        description="Seed of the sampled calls, so that a run can be repeated (and its calls "
        "cached) where the server honours seeds, as llama.cpp does; None: a new draw each time.",
    )
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
    def sampling(self) -> dict[str, Any]:
        """The sampling options of every call."""
        return {"temperature": self.temperature, "seed": self.seed}

    @property
    def calibration_key(self) -> str:
        """Whose words-per-call measurements apply: the model's, at this temperature (a model
        that loops at 0 keeps far fewer words per call than when it samples)."""
        return self.model if self.temperature == 0 else f"{self.model}@t{self.temperature:g}"

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

    def bounds_for(self, words_per_call: int | None) -> SectionBounds:
        """The bounds with sections of what one call writes (within min..max_section_words), so
        a model that writes less than `section_words` per call gets more, shorter sections."""
        if words_per_call is None:
            return self.bounds
        preferred = min(self.max_section_words, max(self.min_section_words, words_per_call))
        return self.bounds.model_copy(update={"preferred_words": preferred})


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
    budget: int = Field(
        description="Words the section was written to: its planned budget, with what earlier "
        "sections fell short of or over added (carry_over)."
    )
    words: int
    text: str
    extensions: int = 0
    condensed: bool = False
    trimmed: bool = False
    repeats_dropped: int = 0
    retried: bool = Field(default=False, description="It came back empty and was asked again.")
    calls: int = Field(default=1, description="Model calls that wrote its text.")
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
    plan_problems: list[str] = Field(
        default_factory=list, description="Why each outline reply that was not used failed."
    )
    plan_parse_failures: int = Field(
        default=0, description="Outline replies that did not parse against the schema."
    )
    plan_review: PlanReview | None = Field(default=None, description="Set with review_plan.")
    sections: list[SectionResult]
    markdown: str
    words: int
    length_score: float
    tokens_per_word: float
    words_per_call: int | None = Field(
        default=None, description="What one call was expected to write at the end of the run."
    )
    ask_factor: float = Field(
        default=1.0, description="How much more a call was asked for than was wanted."
    )
    prompts: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
