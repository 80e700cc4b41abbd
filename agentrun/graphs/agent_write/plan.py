"""AgentWrite's outline: what the planner is asked for, how its reply is checked, and the
outlines used when no usable plan comes back.

The planner proposes sections (title, main point, word count). Its word counts are treated as
proportions: they are scaled to sum exactly to the target with every section inside the size
bounds, because even strong models add up badly. What makes an outline unusable (and triggers a
re-plan) is its shape: too few or too many sections, missing or duplicated main points, or points
that copy the instructions instead of planning.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from agentrun.text.words import Language, count_words

PlanSource = Literal["single", "model", "lines", "outline"]

POINT_DESCRIPTION = "What the section covers, in one or two sentences."
#: Longest title and main point the outline's schema allows (in characters): with them and a
#: bounded number of sections, a grammar-constrained outline always closes within its max_tokens.
TITLE_CHARS = 60
POINT_CHARS = 200
#: Output tokens one section of an outline can take under the schema's bounds (a token per
#: character at worst, and the JSON around the strings).
TOKENS_PER_SECTION = TITLE_CHARS + POINT_CHARS + 100


class SectionDraft(BaseModel):
    """One section as the planner proposes it (checked and normalized afterwards). The string
    bounds are in the schema only, so a grammar stops the strings there; a longer reply from a
    provider that ignores them is still used."""

    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"required": ["title", "point", "words"]}
    )

    title: str = Field(
        default="",
        description="A short heading for the section.",
        json_schema_extra={"maxLength": TITLE_CHARS},
    )
    point: str = Field(
        description=POINT_DESCRIPTION,
        json_schema_extra={"minLength": 12, "maxLength": POINT_CHARS},
    )
    words: int = Field(description="How many words the section gets.")


class OutlineDraft(BaseModel):
    """The planner's reply."""

    model_config = ConfigDict(extra="ignore")

    sections: list[SectionDraft]


def outline_request(low: int, high: int) -> type[OutlineDraft]:
    """The outline's model with `low`..`high` sections in its schema: under a JSON-schema
    grammar (the embedded model) the planner cannot stop early, run on, or leave the JSON open;
    elsewhere the schema asks for it. The count is checked again in `outline_problems`."""
    sections = Field(json_schema_extra={"minItems": low, "maxItems": high})
    return create_model(
        "OutlineDraft", __base__=OutlineDraft, sections=(list[SectionDraft], sections)
    )


class SectionPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = ""
    point: str = Field(min_length=1)
    words: int = Field(gt=0)


class Plan(BaseModel):
    """A validated outline: main points and word budgets that sum to the target."""

    model_config = ConfigDict(extra="forbid")

    target_words: int = Field(gt=0)
    sections: list[SectionPlan] = Field(min_length=1)

    @model_validator(mode="after")
    def _budgets_sum_to_target(self) -> Plan:
        total = sum(section.words for section in self.sections)
        if total != self.target_words:
            raise ValueError(f"section budgets sum to {total}, not {self.target_words}")
        return self


class SectionBounds(BaseModel):
    """Sizes a plan may have: sections of `min_words`..`max_words`, about `preferred_words`."""

    min_words: int
    max_words: int
    preferred_words: int

    def count_range(self, target: int) -> tuple[int, int]:
        low = max(1, math.ceil(target / self.max_words))
        high = max(low, target // self.min_words)
        return low, high

    def preferred_count(self, target: int) -> int:
        low, high = self.count_range(target)
        return min(high, max(low, round(target / self.preferred_words)))


@dataclass(frozen=True)
class OutlineShape:
    """The outline asked for: `count` sections, `low`..`high` in its schema."""

    count: int
    low: int
    high: int

    @property
    def max_tokens(self) -> int:
        """Enough output for the longest outline the schema allows."""
        return self.high * TOKENS_PER_SECTION + 32


def outline_shape(target: int, bounds: SectionBounds, room: int) -> OutlineShape:
    """Sections to ask for: the preferred count, at most two more in the schema, and no more
    than the longest outline that fits `room` output tokens (so it is never cut off)."""
    low, high = bounds.count_range(target)
    preferred = bounds.preferred_count(target)
    fits = room // TOKENS_PER_SECTION
    high = max(low, min(high, preferred + 2, fits))
    return OutlineShape(count=min(preferred, high), low=low, high=high)


# --- budgets -----------------------------------------------------------------------------------


def allocate(weights: list[float], target: int, low: int, high: int) -> list[int]:
    """Integer budgets proportional to `weights`, each within [low, high] where the target allows
    it, summing exactly to `target` (water-filling on a scale factor, then largest remainders)."""
    count = len(weights)
    if count == 1:
        return [target]
    positive = [w for w in weights if w > 0]
    fill = sum(positive) / len(positive) if positive else 1.0
    shares = [w if w > 0 else fill for w in weights]
    low, high = (low, high) if count * low <= target <= count * high else (0, target)

    def total(scale: float) -> float:
        return sum(min(high, max(low, scale * share)) for share in shares)

    lo_scale, hi_scale = 0.0, target / min(shares) + 1.0
    for _ in range(100):
        middle = (lo_scale + hi_scale) / 2
        lo_scale, hi_scale = (middle, hi_scale) if total(middle) < target else (lo_scale, middle)
    exact = [min(high, max(low, hi_scale * share)) for share in shares]
    budgets = [math.floor(value) for value in exact]
    order = sorted(range(count), key=lambda i: exact[i] - budgets[i], reverse=True)
    for index in order[: target - sum(budgets)]:
        budgets[index] += 1
    return budgets


# --- checking the planner's outline ------------------------------------------------------------


def _key(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def outline_problems(
    draft: OutlineDraft, instruction: str, target: int, bounds: SectionBounds
) -> list[str]:
    """Why an outline cannot be used as it is (empty when it can)."""
    problems: list[str] = []
    low, high = bounds.count_range(target)
    count = len(draft.sections)
    if not low <= count <= high:
        problems.append(f"it has {count} sections; a {target}-word piece needs {low} to {high}")
    copied = {_key(POINT_DESCRIPTION), _key(instruction)}
    seen: dict[str, int] = {}
    for number, section in enumerate(draft.sections, start=1):
        key = _key(section.point)
        if count_words(section.point) < 3:
            problems.append(f"section {number} has no real main point ({section.point!r})")
        elif key in copied:
            problems.append(f"section {number} copies the instructions instead of a main point")
        elif key in seen:
            problems.append(f"sections {seen[key]} and {number} have the same main point")
        seen.setdefault(key, number)
    return problems


#: Leading words a title shares with the schema's description of a section when it copies it.
COPIED_WORDS = 4


def _schema_text(title: str) -> bool:
    """A title that copies the outline schema's own words (a small model under its grammar
    does): the title's description, or the opening words of the section's."""
    words = _key(title).split()
    if words == _key(SectionDraft.model_fields["title"].description or "").split():
        return True
    opening = _key(SectionDraft.__doc__ or "").split()[:COPIED_WORDS]
    return len(words) >= COPIED_WORDS and words[:COPIED_WORDS] == opening


def plan_from_draft(draft: OutlineDraft, target: int, bounds: SectionBounds) -> Plan:
    """A valid plan from a usable draft: its budgets scaled to the target within the bounds; a
    title copied from the schema is dropped (the section goes untitled)."""
    budgets = allocate(
        [float(s.words) for s in draft.sections], target, bounds.min_words, bounds.max_words
    )
    return Plan(
        target_words=target,
        sections=[
            SectionPlan(
                title="" if _schema_text(s.title) else s.title.strip(),
                point=s.point.strip(),
                words=words,
            )
            for s, words in zip(draft.sections, budgets, strict=True)
        ],
    )


# --- outlines without a usable plan ------------------------------------------------------------

_PREFIX = re.compile(
    r"^\s*(?:[-*•#]+|\d+\s*[.)、:：]|(?:section|part|paragraph)\s*\d*\s*[:.\-)]?|"
    r"the\s+\w+\s+section\s*[:.\-]|第[一二三四五六七八九十\d]+(?:部分|节|章|段)\s*[:：、.]?)\s*",
    re.IGNORECASE,
)


def parse_point_lines(reply: str, instruction: str) -> list[tuple[str, str]]:
    """(title, point) pairs from a plain-text list, one section per line; a short `Title: text`
    prefix becomes the title. Lines that say nothing, or repeat another, are skipped."""
    pairs: list[tuple[str, str]] = []
    seen = {_key(instruction)}
    for raw in reply.splitlines():
        line = raw
        for _ in range(2):
            line = _PREFIX.sub("", line, count=1)
        line = line.strip().strip("*\"'“”").strip()
        title, point = "", line
        head, sep, rest = line.partition(":") if ":" in line else line.partition("：")
        if sep and rest.strip() and count_words(head) <= 8:
            title, point = head.strip().strip("*"), rest.strip()
        if count_words(point) < 3 or _key(point) in seen:
            continue
        seen.add(_key(point))
        pairs.append((title, point))
    return pairs


def generic_points(count: int, language: Language) -> list[str]:
    """Main points that fit any piece: an opening, parts that each add something new, a close."""
    if count == 1:
        return ["整篇内容，按写作任务的要求完成。" if language == "zh" else "The whole piece."]
    if language == "zh":
        middle = "第{i}部分：从前文未涉及的新角度、新例子或新情节展开主题。"
        first, last = "开篇：引出主题，为后文作铺垫。", "结尾：收束全文，呼应主题。"
    else:
        middle = "Part {i}: develop the subject with an aspect, example or event not covered yet."
        first = "Opening: introduce the subject of the piece and set up what follows."
        last = "Closing: draw the threads of the piece together and bring it to an end."
    return [first, *(middle.format(i=i) for i in range(2, count)), last]


def fallback_plan(
    target: int,
    count: int,
    language: Language,
    points: list[tuple[str, str]] | None = None,
) -> Plan:
    """An outline of `count` even sections: the given (title, point) pairs first, generic points
    for the rest (the last section is always the closing one when points run out)."""
    points = list(points or [])[:count]
    generic = generic_points(count, language)
    sections = [("", generic[i]) for i in range(count)]
    for index, pair in enumerate(points):
        sections[index] = pair
    budgets = allocate([1.0] * count, target, 0, target)
    return Plan(
        target_words=target,
        sections=[
            SectionPlan(title=title, point=point, words=words)
            for (title, point), words in zip(sections, budgets, strict=True)
        ],
    )
