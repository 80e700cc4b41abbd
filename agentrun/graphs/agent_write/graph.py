"""AgentWrite: long texts that hit the requested length, planned as an outline and written one
section at a time (Bai et al., 2024, LongWriter).

Unlike the reference, which puts all previous text into every call, each section is written from
a bounded context (instruction, plan, a running summary, the end of the previous section), so a
20,000-word piece fits an 8k window. Every section is counted the LongBench-Write way and
extended or trimmed until it is within `tolerance` of its budget. Each section is a graph step
(checkpoint after it) and each model call a checkpointed task, so a resumed run sends no call it
already made. A failed call raises; nothing is ever written in place of text. A section that
comes back blank is asked for once more (a call outside the checkpoint, so resuming asks again
rather than replaying the blank) and raises `EmptySectionError` if it stays blank.

Planning: the planner is asked for a JSON-schema-constrained outline; an unusable one is re-asked
with its problems, `plan_attempts` times in all. Then, per `plan_fallback`: `lines` asks for the
main points as plain text (small models manage that far better than JSON) and splits the target
evenly; `outline` uses a generic opening/parts/closing outline; `error` raises `PlanError`.
Either fallback is stated in the result's warnings.
"""

from __future__ import annotations

import operator
import os
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore
from langgraph.types import Send
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentrun.agents.config import LOCAL_MODEL
from agentrun.agents.gateway import Gateway
from agentrun.agents.ledger import Usage
from agentrun.errors import (
    ContextLengthError,
    EndpointUnreachableError,
    ModelCallError,
    RunFailedError,
    StructuredOutputError,
    UsageError,
)
from agentrun.graphs import runtime
from agentrun.graphs.agent_write import prompts
from agentrun.graphs.agent_write.plan import (
    OutlineDraft,
    Plan,
    PlanSource,
    SectionBounds,
    SectionPlan,
    fallback_plan,
    outline_problems,
    parse_point_lines,
    plan_from_draft,
)
from agentrun.graphs.agent_write.section import (
    MIN_OUTPUT_TOKENS,
    EmptySectionError,
    SectionWriter,
    room,
)
from agentrun.graphs.runtime import (
    DEFAULT_NAMESPACE,
    EventHandler,
    WorkflowContext,
    add_usage,
    context,
    usage_of,
    usage_update,
)
from agentrun.text import words as w
from agentrun.text.words import Language

#: Texts whose token count per word gives the model's words -> tokens ratio.
RATIO_SAMPLES: dict[Language, str] = {
    "en": (
        "The harbour town woke slowly that winter. Fishermen mended their nets by the light of "
        "paraffin lamps, children ran between the stalls of the market, and the old ferry, "
        "repainted every spring, crossed the bay twice a day whatever the weather. Visitors "
        "rarely stayed long, yet those who did remembered the bakery on the corner, the smell "
        "of smoked herring, and the way the church bell seemed to answer the foghorn."
    ),
    "zh": (
        "那年冬天，港口小镇醒得很慢。渔民们在煤油灯下修补渔网，孩子们在集市的摊位之间奔跑，"
        "那艘每年春天都重新粉刷的旧渡轮，无论天气如何，每天两次穿过海湾。游客很少久留，"
        "但留下来的人都记得街角的面包店、熏鲱鱼的香味，以及教堂钟声仿佛在回应雾笛的样子。"
    ),
}

Mode = Literal["sequential", "parallel"]
TargetSource = Literal["argument", "instruction", "inferred"]


class PlanError(StructuredOutputError):
    """The planner gave no usable outline and `plan_fallback` is `error`."""


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


class AgentWriteResult(BaseModel):
    thread_id: str
    instruction: str
    target_words: int
    target_source: TargetSource
    model: str
    language: Language
    mode: Mode
    plan_source: PlanSource
    plan: list[SectionPlan]
    sections: list[SectionResult]
    markdown: str
    words: int
    length_score: float
    tokens_per_word: float
    prompts: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, Any] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)


# --- target length -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    words: int
    source: TargetSource
    note: str | None = None


def resolve_target(instruction: str, target_words: int | None, config: AgentWriteConfig) -> Target:
    """The length to write: given, asked for in the instruction, or inferred (and said so)."""
    if not instruction.strip():
        raise UsageError("the instruction is empty; say what to write")
    if target_words is not None:
        target = Target(target_words, "argument")
        where = "target_words"
    elif (request := w.requested_length(instruction)) is not None:
        target = Target(request.words, "instruction")
        where = f"the instruction ({request.quote!r})"
    else:
        words, why = w.default_length(instruction, config.default_words)
        note = f"the instruction names no length; writing {words} words ({why}); pass target_words"
        target, where = Target(words, "inferred", note), "the inferred default"
    if target.words <= 0:
        raise UsageError(f"target_words must be at least 1 word (got {target.words})")
    if target.words > config.max_words:
        raise UsageError(
            f"the target of {target.words} words from {where} is over max_words="
            f"{config.max_words}; ask for less, or raise AgentWriteConfig.max_words"
        )
    return target


def tokens_per_word(gateway: Gateway, model: str, language: Language) -> float:
    """The model's tokens per LongBench-Write word, measured with its tokenizer on a sample."""
    sample = RATIO_SAMPLES[language]
    return gateway.count_text(model, sample) / w.count_words(sample)


# --- graph state and store ---------------------------------------------------------------------


def merge_sections(
    left: list[dict[str, Any]] | None, right: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """State reducer: section records by index (parallel writers each add their own)."""
    merged = {int(item["index"]): item for item in (left or [])}
    merged.update({int(item["index"]): item for item in (right or [])})
    return [merged[index] for index in sorted(merged)]


class WriteState(TypedDict, total=False):
    instruction: str
    target_words: int
    target_source: TargetSource
    language: Language
    tokens_per_word: float
    plan: dict[str, Any]
    plan_source: PlanSource
    cursor: int
    sections: Annotated[list[dict[str, Any]], merge_sections]
    words: int
    warnings: Annotated[list[str], operator.add]
    usage: Annotated[dict[str, Any], add_usage]


def _key(index: int) -> str:
    return f"{index:04d}"


async def _load(ctx: WorkflowContext, kind: str, index: int) -> str:
    item = await ctx.store.aget(ctx.ns("runs", ctx.run_id, kind), _key(index))
    return str(item.value["text"]) if item is not None else ""


async def _save(ctx: WorkflowContext, kind: str, index: int, text: str) -> None:
    value = {"text": text, "words": w.count_words(text), "index": index}
    await ctx.store.aput(ctx.ns("runs", ctx.run_id, kind), _key(index), value, index=False)


def _emit(node: str, text: str) -> None:
    """A finished section as a `text` event named `section[<index>]`."""
    try:
        get_stream_writer()({"kind": "token", "node": node, "text": text})
    except Exception:
        return


# --- planning ----------------------------------------------------------------------------------


async def make_plan(
    config: AgentWriteConfig, instruction: str, target: int, language: Language
) -> tuple[Plan, PlanSource, list[str], Usage]:
    """The outline, with how it was made, warnings, and what the planning calls cost."""
    bounds, planner, gateway = config.bounds, config.planner, context().gateway
    if target < config.single_section_below:
        section = SectionPlan(point=instruction.strip(), words=target)
        return Plan(target_words=target, sections=[section]), "single", [], Usage()
    count = bounds.preferred_count(target)
    base = prompts.plan(instruction, target, bounds, language)
    messages, usage, problems = base, Usage(), []
    for _ in range(config.plan_attempts):
        # ~80 tokens per section (title, point, count); room for a few more than asked for
        max_tokens = min(80 * (count + 2) + 64, room(gateway, planner, messages))
        if max_tokens < MIN_OUTPUT_TOKENS:
            raise ContextLengthError(planner, "the instruction leaves no room for an outline")
        reply = await runtime.structured(
            planner, messages, OutlineDraft, node="plan", max_tokens=max_tokens,
            temperature=config.temperature, max_reasks=0,
        )  # fmt: skip
        usage += reply.usage
        if reply.value is None:
            problems = [f"the reply was not a valid outline ({reply.error})"]
        else:
            problems = outline_problems(reply.value, instruction, target, bounds)
            if not problems:
                return plan_from_draft(reply.value, target, bounds), "model", [], usage
        messages = prompts.replan(base, problems, language)
    reason = (
        f"the planner gave no usable outline in {config.plan_attempts} attempts "
        f"({'; '.join(problems)})"
    )
    if config.plan_fallback == "error":
        raise PlanError(
            planner, f"{reason}; use a stronger planner_model or plan_fallback='lines'/'outline'"
        )
    points: list[tuple[str, str]] = []
    if config.plan_fallback == "lines":
        lines = prompts.point_lines(instruction, count, language)
        completion = await runtime.complete(
            planner, lines, node="plan_lines",
            max_tokens=max(1, min(48 * count + 32, room(gateway, planner, lines))),
            temperature=config.temperature,
        )  # fmt: skip
        usage += usage_of(completion)
        points = parse_point_lines(completion.text, instruction)[:count]
    plan = fallback_plan(target, count, language, points)
    used = (
        f"the model's plain-text list of {len(points)} main point(s)"
        if points
        else "a generic outline"
    )
    warning = f"{reason}; used {used} and even budgets of ~{target // count} words"
    return plan, ("lines" if points else "outline"), [warning], usage


async def _write_section(
    config: AgentWriteConfig, state: WriteState, index: int, sequential: bool
) -> dict[str, Any]:
    """Write, check, store and stream one section; the state update it makes."""
    ctx = context()
    writer = SectionWriter(
        config, Plan.model_validate(state["plan"]), index,
        instruction=state["instruction"], language=state["language"],
        ratio=float(state["tokens_per_word"]),
    )  # fmt: skip
    previous: str | None = None
    summary: str | None = None
    if sequential:
        previous = await _load(ctx, "sections", index - 1) if index > 0 else None
        summary = await _load(ctx, "summaries", index - 1) if index > 0 else ""
    draft = await writer.write(summary, previous)
    await _save(ctx, "sections", index, draft.text)
    _emit(f"section[{index}]", draft.text)
    if sequential and index < writer.task.count - 1:
        new_summary = await writer.summarize(summary or "", draft.text)
        await _save(ctx, "summaries", index, new_summary)
    budget, words = writer.section.words, w.count_words(draft.text)
    within = abs(words - budget) <= config.tolerance * budget
    warnings = (
        []
        if within
        else [
            f"section {index + 1}: {words} words for a budget of {budget} after "
            f"{draft.extensions} extension(s) (outside the {config.tolerance:.0%} tolerance)"
        ]
    )
    record = {
        "index": index, "words": words, "budget": budget, "extensions": draft.extensions,
        "condensed": draft.condensed, "trimmed": draft.trimmed,
        "repeats_dropped": draft.repeats_dropped, "retried": draft.retried,
        "within_tolerance": within,
    }  # fmt: skip
    return {"sections": [record], "warnings": warnings, "usage": usage_update(writer.usage)}


def to_markdown(plan: Plan, texts: list[str], headings: bool) -> str:
    """The document: sections separated by blank lines, titled with `##` headings."""
    if len(texts) == 1 or not headings:
        return "\n\n".join(text.strip() for text in texts if text.strip())
    blocks = [
        f"## {section.title}\n\n{text.strip()}" if section.title else text.strip()
        for section, text in zip(plan.sections, texts, strict=True)
    ]
    return "\n\n".join(block for block in blocks if block)


# --- graph -------------------------------------------------------------------------------------


def build_graph(config: AgentWriteConfig) -> StateGraph[WriteState, WorkflowContext, Any, Any]:
    """plan -> write (one section per step, looping) -> assemble; in parallel mode plan fans
    out to one `write_one` per section."""

    async def plan(state: WriteState) -> dict[str, Any]:
        made, source, warnings, usage = await make_plan(
            config, state["instruction"], state["target_words"], state["language"]
        )
        return {
            "plan": made.model_dump(), "plan_source": source, "cursor": 0,
            "warnings": warnings, "usage": usage_update(usage),
        }  # fmt: skip

    async def write(state: WriteState) -> dict[str, Any]:
        index = state["cursor"]
        update = await _write_section(config, state, index, sequential=True)
        return {**update, "cursor": index + 1}

    def after_write(state: WriteState) -> str:
        return "write" if state["cursor"] < len(state["plan"]["sections"]) else "assemble"

    async def write_one(state: WriteState) -> dict[str, Any]:
        return await _write_section(config, state, state["cursor"], sequential=False)

    def fan_out(state: WriteState) -> list[Send] | str:
        done = {int(item["index"]) for item in state.get("sections") or []}
        todo = [i for i in range(len(state["plan"]["sections"])) if i not in done]
        shared = {key: state[key] for key in _SECTION_INPUT}  # type: ignore[literal-required]
        return [Send("write_one", {**shared, "cursor": i}) for i in todo] or "assemble"

    async def assemble(state: WriteState) -> dict[str, Any]:
        ctx = context()
        made = Plan.model_validate(state["plan"])
        texts = [await _load(ctx, "sections", i) for i in range(len(made.sections))]
        markdown = to_markdown(made, texts, config.headings)
        await ctx.store.aput(
            ctx.ns("runs", ctx.run_id, "document"), "markdown", {"text": markdown}, index=False
        )
        return {"words": w.count_words(markdown)}

    graph: StateGraph[WriteState, WorkflowContext, Any, Any] = StateGraph(
        WriteState, context_schema=WorkflowContext
    )
    graph.add_node("plan", plan)
    graph.add_node("assemble", assemble)
    graph.add_edge(START, "plan")
    if config.mode == "parallel":
        graph.add_node("write_one", write_one)
        graph.add_conditional_edges("plan", fan_out, ["write_one", "assemble"])
        graph.add_edge("write_one", "assemble")
    else:
        graph.add_node("write", write)
        graph.add_edge("plan", "write")
        graph.add_conditional_edges("write", after_write, ["write", "assemble"])
    graph.add_edge("assemble", END)
    return graph


NODES = ("plan", "write", "write_one", "assemble")
#: What a parallel section writer gets from the state (besides its index).
_SECTION_INPUT = ("instruction", "language", "tokens_per_word", "plan")


async def result_from_state(
    state: dict[str, Any], ctx: WorkflowContext, thread_id: str, config: AgentWriteConfig
) -> AgentWriteResult:
    plan = Plan.model_validate(state["plan"])
    document = await ctx.store.aget(ctx.ns("runs", thread_id, "document"), "markdown")
    markdown = str(document.value["text"]) if document is not None else ""
    sections = [
        SectionResult(
            **record,
            title=plan.sections[record["index"]].title,
            point=plan.sections[record["index"]].point,
            text=await _load(ctx, "sections", record["index"]),
        )
        for record in state.get("sections", [])
    ]
    words = w.count_words(markdown)
    return AgentWriteResult(
        thread_id=thread_id,
        instruction=state["instruction"],
        target_words=state["target_words"],
        target_source=state["target_source"],
        model=config.model,
        language=state["language"],
        mode=config.mode,
        plan_source=state["plan_source"],
        plan=plan.sections,
        sections=sections,
        markdown=markdown,
        words=words,
        length_score=w.length_score(state["target_words"], words),
        tokens_per_word=state["tokens_per_word"],
        prompts=await runtime.recorded_prompts(ctx),
        usage=Usage.from_dict(state.get("usage")).to_dict(),
        warnings=list(state.get("warnings", [])),
    )


# --- entry points ------------------------------------------------------------------------------


async def _stream(
    session: runtime.Session,
    graph_input: WriteState | None,
    config: AgentWriteConfig,
    on_event: EventHandler | None,
) -> AgentWriteResult:
    """Run (or resume, with `graph_input=None`) the graph on the session's thread."""
    graph = build_graph(config)
    if graph_input is None:
        await session.saved(graph)  # a clear error when the thread has no checkpoint
    try:
        state = await session.run(graph, graph_input, on_event=on_event, node_names=NODES)
    except (ModelCallError, EndpointUnreachableError) as exc:
        # Failures a later try may cure; settings errors keep their own type and exit code.
        raise RunFailedError(
            f"AgentWrite stopped: {exc}; the sections written are kept, and a resume continues "
            "from there",
            session.thread_id,
        ) from exc
    return await result_from_state(state, session.ctx, session.thread_id, config)


async def arun(
    instruction: str,
    target_words: int | None = None,
    *,
    config: AgentWriteConfig | None = None,
    gateway: Gateway | None = None,
    store: BaseStore | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    namespace: tuple[str, ...] = DEFAULT_NAMESPACE,
    thread_id: str | None = None,
    on_event: EventHandler | None = None,
    stream_text: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
) -> AgentWriteResult:
    """Write what `instruction` asks for, `target_words` long (default: the length the
    instruction names, else one inferred from it and stated in `warnings`).

    Events: a `node` event per step (`plan`, `write` per section, `assemble`), and each finished
    section's text as a `text` event named `section[<index>]`; with `stream_text`, model tokens
    as `text` events named after the call (`write[<index>]`, `extend[<index>]`, ...).
    """
    config = config or AgentWriteConfig()
    target = resolve_target(instruction, target_words, config)
    language = w.language_of(instruction)
    async with runtime.session(
        thread_id=thread_id or runtime.new_thread_id(), gateway=gateway, store=store,
        checkpointer=checkpointer, namespace=namespace, data_dir=data_dir,
        stream_text=stream_text,
    ) as session:  # fmt: skip
        initial: WriteState = {
            "instruction": instruction,
            "target_words": target.words,
            "target_source": target.source,
            "language": language,
            "tokens_per_word": tokens_per_word(session.gateway, config.model, language),
            "warnings": [target.note] if target.note else [],
        }
        return await _stream(session, initial, config, on_event)


async def aresume(
    thread_id: str,
    *,
    config: AgentWriteConfig | None = None,
    gateway: Gateway | None = None,
    store: BaseStore | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    namespace: tuple[str, ...] = DEFAULT_NAMESPACE,
    on_event: EventHandler | None = None,
    stream_text: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
) -> AgentWriteResult:
    """Continue a failed or killed run from its last checkpoint (same store and checkpointer);
    sections already written are neither re-sent nor rewritten."""
    async with runtime.session(
        thread_id=thread_id, gateway=gateway, store=store, checkpointer=checkpointer,
        namespace=namespace, data_dir=data_dir, stream_text=stream_text,
    ) as session:  # fmt: skip
        return await _stream(session, None, config or AgentWriteConfig(), on_event)


def run(instruction: str, target_words: int | None = None, **options: Any) -> AgentWriteResult:
    """Sync twin of `arun`."""
    return runtime.run_sync(arun(instruction, target_words, **options))


def resume(thread_id: str, **options: Any) -> AgentWriteResult:
    """Sync twin of `aresume`."""
    return runtime.run_sync(aresume(thread_id, **options))


# --- the reference approach, counted ------------------------------------------------------------


def all_previous_text_tokens(gateway: Gateway, result: AgentWriteResult) -> list[int]:
    """Prompt tokens the reference approach (instruction, plan and all text so far in every
    call) would send for each section of `result`, counted with the model's tokenizer; never
    sent. Compare their sum with `result.usage['prompt_tokens']`."""
    plan_text = prompts.render_plan(result.plan, result.language)
    texts = [section.text for section in result.sections]
    counts: list[int] = []
    for index, section in enumerate(result.plan):
        task = prompts.SectionTask(
            instruction=result.instruction, language=result.language, index=index,
            count=len(result.plan), point=section.point, words=section.words, headings=False,
        )  # fmt: skip
        messages = prompts.all_previous_text(task, plan_text, texts[:index])
        counts.append(gateway.count_tokens(result.model, messages))
    return counts


__all__ = [
    "AgentWriteConfig",
    "AgentWriteResult",
    "EmptySectionError",
    "PlanError",
    "SectionResult",
    "all_previous_text_tokens",
    "aresume",
    "arun",
    "resume",
    "run",
]
