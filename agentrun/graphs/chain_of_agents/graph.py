"""Chain of Agents: workers read a long document in order, each passing a communication unit
(CU) to the next; a manager answers from the last CU alone (Zhang et al., 2024).

Small models lose facts when they paraphrase, so the default CU format is `evidence`: sentences
taken verbatim from the chunk, each verified against it. A quote the model altered (fuzzy match,
or a near match that negates differently: `agentrun.text.quotes.locate`) or restated is mapped
back to the source text it restates and counted as `restated_quotes`; one that matches nothing is
dropped and counted as `dropped_quotes`. `free` is the paper's free-form running summary, and
summarization (no query) always uses it.

An evidence unit is held to `cu_tokens` (the worker budget reserves that much for it): when new
quotes push it over, the oldest quotes are evicted first, counted as `evicted_quotes` and
reported once per run in `warnings` with the fix (raise `cu_tokens`). A single quote longer than
the whole budget is never allowed to empty the unit: it is cut at the last sentence end that
fits, else the last word boundary (else the last character), keeping `chunk[start:end] == text`,
and counted as `truncated_quotes` (truncating keeps the prompt budget, which a whole over-long
quote would break).

Several reading orders can run at once (multi-path), judged by a model or a vote. Each worker
step is a graph step with a checkpoint after it, and each model call is a checkpointed task, so a
resumed run continues mid-chain without re-sending calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import operator
import os
import random
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore
from pydantic import BaseModel, ConfigDict, Field

from agentrun.agents import roles
from agentrun.agents.config import LOCAL_MODEL
from agentrun.agents.gateway import Gateway
from agentrun.agents.ledger import Usage
from agentrun.agents.messages import Message
from agentrun.errors import ConfigError, UsageError
from agentrun.graphs import long_doc, runtime
from agentrun.graphs.long_doc import Document, PreparedDocument
from agentrun.graphs.runtime import (
    DEFAULT_NAMESPACE,
    EventHandler,
    WorkflowContext,
    add_usage,
    context,
    usage_of,
    usage_update,
)
from agentrun.logs import get_logger
from agentrun.text.quotes import grapheme_boundaries, locate, match_sentence, word_boundaries

log = get_logger("chain_of_agents")

#: Tokens kept free in every prompt for tokenizer disagreements and chat formatting.
SAFETY_TOKENS = 32
#: Below this many tokens per chunk the chain would be all overhead.
MIN_CHUNK_TOKENS = 64

CuFormat = Literal["evidence", "free"]
Strategy = Literal["coa", "vanilla", "rag", "merge", "hierarchical"]


class ChainOfAgentsConfig(BaseModel):
    """Settings of a chain-of-agents run (and of its baselines, which share them)."""

    model_config = ConfigDict(extra="forbid")

    strategy: Strategy = Field(
        default="coa", description="coa, or a baseline: vanilla, rag, merge, hierarchical."
    )
    model: str = LOCAL_MODEL
    manager_model: str | None = Field(default=None, description="Defaults to `model`.")
    judge_model: str | None = Field(
        default=None, description="Picks among paths; defaults to `model`."
    )
    chunk_tokens: int | None = Field(
        default=None, gt=0, description="Cap on chunk size; always capped by the worker budget."
    )
    local_chunk_cap: int = Field(
        default=2048, gt=0, description="Default chunk size for local models (they degrade early)."
    )
    cu_format: CuFormat = "evidence"
    cu_tokens: int = Field(default=384, gt=0, description="Budget of one communication unit.")
    worker_max_tokens: int = Field(default=256, gt=0)
    answer_max_tokens: int = Field(default=128, gt=0)
    direction: Literal["forward", "backward"] = "forward"
    paths: int = Field(default=1, ge=1, le=16, description="Reading orders run concurrently.")
    selector: Literal["vote", "judge"] = "vote"
    seed: int = 0
    temperature: float = Field(default=0.0, ge=0)
    index_chunks: bool = Field(default=False, description="Embed chunks for semantic search.")
    rag_top_k: int | None = Field(
        default=None, gt=0, description="RAG baseline: chunks to retrieve."
    )

    @property
    def manager(self) -> str:
        return self.manager_model or self.model

    @property
    def judge(self) -> str:
        return self.judge_model or self.model


class Quote(BaseModel):
    """A verified quote: `chunk_text[start:end] == text` (a prefix of the source sentence when
    `truncated`)."""

    text: str
    chunk: int
    start: int
    end: int
    truncated: bool = False


class CommunicationUnit(BaseModel):
    """What one worker hands to the next."""

    quotes: list[Quote] = Field(default_factory=list)
    note: str = ""

    def render(self) -> str:
        if not self.quotes:
            return self.note.strip()
        lines = [f'- "{quote.text}"' for quote in self.quotes]
        if self.note.strip():
            lines.append(f"Note: {self.note.strip()}")
        return "\n".join(lines)


class PathResult(BaseModel):
    order: list[int]
    answer: str | None
    communication_units: list[str]


class ChainOfAgentsResult(BaseModel):
    strategy: str = "coa"
    answer: str | None
    query: str | None
    thread_id: str
    doc_id: str
    chunk_count: int
    chunk_tokens: int
    document_tokens: int
    chosen_path: int = 0
    communication_units: list[str] = Field(default_factory=list)
    paths: list[PathResult] = Field(default_factory=list)
    prompts: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, Any] = Field(default_factory=dict)
    dropped_quotes: int = Field(default=0, description="Quotes that matched nothing (invented).")
    restated_quotes: int = Field(
        default=0, description="Quotes not written verbatim, kept as the source text they restate."
    )
    evicted_quotes: int = Field(
        default=0, description="Verified quotes evicted (oldest first) to fit cu_tokens."
    )
    truncated_quotes: int = Field(
        default=0, description="Quotes longer than cu_tokens, cut to fit."
    )
    warnings: list[str] = Field(default_factory=list)


# --- prompts -----------------------------------------------------------------------------------


def uses_evidence(config: ChainOfAgentsConfig, query: str | None) -> bool:
    return config.cu_format == "evidence" and query is not None


def worker_messages(
    config: ChainOfAgentsConfig, query: str | None, previous: str, chunk: str, position: str
) -> list[Message]:
    if uses_evidence(config, query):
        assert query is not None
        return roles.evidence_worker(query, previous, chunk, position)
    return roles.summary_worker(query, previous, chunk, position)


def manager_messages(query: str | None, unit: str) -> list[Message]:
    return roles.answerer(query, unit) if query else roles.summarizer(unit)


# --- budgets -----------------------------------------------------------------------------------


def worker_output_tokens(config: ChainOfAgentsConfig, query: str | None) -> int:
    return config.worker_max_tokens if uses_evidence(config, query) else config.cu_tokens


def plan_chunk_tokens(gateway: Gateway, config: ChainOfAgentsConfig, query: str | None) -> int:
    """Chunk size that keeps every worker prompt inside the window, never truncating."""
    window = gateway.context_window(config.model)
    if query is not None:
        query_tokens = gateway.count_text(config.model, query)
        if query_tokens >= window:
            raise UsageError(
                f"the query is {query_tokens} tokens, longer than the {window}-token window of "
                f"{config.model}; shorten it"
            )
    overhead = gateway.count_tokens(
        config.model, worker_messages(config, query, "", "", "part 1 of 1")
    )
    output = worker_output_tokens(config, query)
    budget = window - overhead - config.cu_tokens - output - SAFETY_TOKENS
    if budget < MIN_CHUNK_TOKENS:
        raise ConfigError(
            f"the {window}-token window of {config.model} leaves {budget} tokens per chunk after "
            f"instruction and query ({overhead}), communication unit ({config.cu_tokens}) and "
            f"output ({output}); use a model with a larger window or "
            "lower cu_tokens / worker_max_tokens"
        )
    default = min(budget, config.local_chunk_cap) if gateway.is_local(config.model) else budget
    return min(config.chunk_tokens or default, budget)


def reading_orders(chunk_count: int, config: ChainOfAgentsConfig) -> list[list[int]]:
    forward = list(range(chunk_count))
    first = forward if config.direction == "forward" else forward[::-1]
    orders = [first]
    if config.paths >= 2:
        orders.append(first[::-1])
    for k in range(2, config.paths):
        shuffled = forward[:]
        random.Random(config.seed + k).shuffle(shuffled)
        orders.append(shuffled)
    return orders


# --- graph -------------------------------------------------------------------------------------


class ChainState(TypedDict, total=False):
    query: str | None
    doc: dict[str, Any]
    orders: list[list[int]]
    step: int
    units: list[dict[str, Any]]
    answers: list[str | None]
    chosen: int
    dropped_quotes: Annotated[int, operator.add]
    restated_quotes: Annotated[int, operator.add]
    evicted_quotes: Annotated[int, operator.add]
    truncated_quotes: Annotated[int, operator.add]
    warnings: Annotated[list[str], operator.add]
    usage: Annotated[dict[str, Any], add_usage]


def _cu_key(path: int, step: int) -> str:
    return f"{path:02d}-{step:06d}"


async def _store_unit(
    store: BaseStore, ctx: WorkflowContext, path: int, step: int, text: str
) -> None:
    await store.aput(
        ctx.ns("runs", ctx.run_id, "cus"), _cu_key(path, step), {"text": text}, index=False
    )


@dataclasses.dataclass(frozen=True)
class QuoteCounts:
    """What happened to one worker's quotes (summed over the run)."""

    dropped: int = 0
    restated: int = 0
    evicted: int = 0
    truncated: int = 0

    def update(self) -> dict[str, int]:
        return {
            "dropped_quotes": self.dropped,
            "restated_quotes": self.restated,
            "evicted_quotes": self.evicted,
            "truncated_quotes": self.truncated,
        }


_SENTENCE_END = re.compile(r"[.!?。！？][\"'”’)\]]*(?=\s|$)|[。！？]")


def _cut_points(text: str) -> list[list[int]]:
    """Where a quote may be cut, best kind first: after a sentence end, at a word boundary
    (between any two characters where words are not spaced), at any grapheme boundary."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text) if m.end() < len(text)]
    return [ends, word_boundaries(text)[1:-1], grapheme_boundaries(text)[1:-1]]


def _truncate(quote: Quote, fits: Callable[[Quote], bool]) -> Quote | None:
    """The longest prefix of `quote` that `fits`, cut at the best kind of point that allows one."""
    for points in _cut_points(quote.text):
        best: Quote | None = None
        low, high = 0, len(points) - 1
        while low <= high:  # prefixes grow with the cut point: binary search the last that fits
            middle = (low + high) // 2
            text = quote.text[: points[middle]].rstrip()
            cut = quote.model_copy(
                update={"text": text, "end": quote.start + len(text), "truncated": True}
            )
            if text and fits(cut):
                best, low = cut, middle + 1
            else:
                high = middle - 1
        if best is not None:
            return best
    return None


def _trim(
    unit: CommunicationUnit, budget: int, count: Callable[[str], int]
) -> tuple[CommunicationUnit, int, int]:
    """Evict the oldest quotes until the rendered unit fits its budget; a last quote that is
    alone over budget is truncated rather than evicted. Returns the unit, how many quotes were
    evicted and how many truncated."""

    def fits(quotes: list[Quote]) -> bool:
        return count(unit.model_copy(update={"quotes": quotes}).render()) <= budget

    quotes = unit.quotes
    evicted = 0
    while len(quotes) > 1 and not fits(quotes):
        quotes, evicted = quotes[1:], evicted + 1
    truncated = 0
    if quotes and not fits(quotes):
        cut = _truncate(quotes[0], lambda quote: fits([quote]))
        quotes, truncated = ([cut], 1) if cut is not None else ([], 0)
        evicted += cut is None
    return unit.model_copy(update={"quotes": quotes}), evicted, truncated


def verify_quotes(
    candidates: list[str], chunk_index: int, text: str, previous: CommunicationUnit
) -> tuple[list[Quote], int, int]:
    """Quotes found in the chunk (verbatim, with offsets), new ones appended; how many of the
    candidates matched nothing and were dropped; and how many were not written verbatim
    (a fuzzy match or a restatement, kept as the source text they restate)."""
    known = {quote.text for quote in previous.quotes}
    quotes = list(previous.quotes)
    dropped = restated = 0
    for candidate in candidates:
        span = locate(text, candidate) or match_sentence(text, candidate)
        if span is None:
            dropped += 1
            continue
        restated += span.match in ("fuzzy", "paraphrase")
        if span.text not in known:
            known.add(span.text)
            quotes.append(Quote(text=span.text, chunk=chunk_index, start=span.start, end=span.end))
    return quotes, dropped, restated


async def _evidence_step(
    config: ChainOfAgentsConfig, query: str, previous: CommunicationUnit,
    chunk_index: int, text: str, position: str, node: str,
) -> tuple[CommunicationUnit, QuoteCounts, Usage]:  # fmt: skip
    ctx = context()
    messages = roles.evidence_worker(query, previous.render(), text, position)
    completion = await runtime.complete(
        config.model, messages, node=node,
        max_tokens=config.worker_max_tokens, temperature=config.temperature,
    )  # fmt: skip
    candidates = roles.parse_quotes(completion.text)
    quotes, dropped, restated = verify_quotes(candidates, chunk_index, text, previous)
    unit, evicted, truncated = _trim(
        CommunicationUnit(quotes=quotes), config.cu_tokens, ctx.gateway.text_counter(config.model)
    )
    return unit, QuoteCounts(dropped, restated, evicted, truncated), usage_of(completion)


def evidence_warnings(config: ChainOfAgentsConfig, state: ChainState) -> list[str]:
    """The run's one warning about evidence the unit budget cost (logged as well)."""
    evicted, truncated = state.get("evicted_quotes", 0), state.get("truncated_quotes", 0)
    if not evicted and not truncated:
        return []
    paths = len(state["orders"])
    lost = [f"{evicted} verified quotes were evicted (oldest first)"] if evicted else []
    lost += [f"{truncated} quotes longer than the unit were cut"] if truncated else []
    message = (
        f"{' and '.join(lost)} to keep the communication unit within cu_tokens="
        f"{config.cu_tokens}" + (f" (over {paths} paths)" if paths > 1 else "")
        + "; raise cu_tokens to keep more evidence"
    )  # fmt: skip
    log.warning(
        "evidence_evicted", evicted=evicted, truncated=truncated, cu_tokens=config.cu_tokens
    )
    return [message]


def build_graph(config: ChainOfAgentsConfig) -> StateGraph[ChainState, WorkflowContext, Any, Any]:
    """worker (one chunk per path per step, looping) -> manager -> select."""

    async def worker(state: ChainState) -> dict[str, Any]:
        ctx = context()
        step = state["step"]
        total = len(state["orders"][0])

        async def advance(path: int, order: list[int]) -> tuple[dict[str, Any], QuoteCounts, Usage]:
            chunk_index = order[step]
            chunk = await long_doc.load_chunk(ctx.store, ctx.namespace, state["doc"], chunk_index)
            position = f"part {step + 1} of {total}"
            node = f"worker[{path}]"
            query = state.get("query")
            previous = CommunicationUnit.model_validate(state["units"][path])
            if query is not None and uses_evidence(config, query):
                unit, counts, usage = await _evidence_step(
                    config, query, previous, chunk_index, chunk.text, position, node
                )
            else:
                messages = roles.summary_worker(query, previous.note, chunk.text, position)
                completion = await runtime.complete(
                    config.model, messages, node=node,
                    max_tokens=config.cu_tokens, temperature=config.temperature,
                )  # fmt: skip
                unit = CommunicationUnit(note=completion.text.strip())
                counts, usage = QuoteCounts(), usage_of(completion)
            await _store_unit(ctx.store, ctx, path, step, unit.render())
            return unit.model_dump(), counts, usage

        results = await asyncio.gather(*(advance(p, o) for p, o in enumerate(state["orders"])))
        counts = [r[1].update() for r in results]
        return {
            "step": step + 1,
            "units": [r[0] for r in results],
            **{key: sum(c[key] for c in counts) for key in counts[0]},
            "usage": usage_update(*(r[2] for r in results)),
        }

    def after_worker(state: ChainState) -> str:
        return "worker" if state["step"] < len(state["orders"][0]) else "manager"

    async def manager(state: ChainState) -> dict[str, Any]:
        query = state.get("query")

        async def answer(unit: dict[str, Any]) -> tuple[str | None, Usage]:
            rendered = CommunicationUnit.model_validate(unit).render()
            if query and not rendered:
                return None, Usage()  # no evidence survived: abstain without asking
            completion = await runtime.complete(
                config.manager, manager_messages(query, rendered), node="manager",
                max_tokens=config.answer_max_tokens * (1 if query else 4),
                temperature=config.temperature,
            )  # fmt: skip
            text = roles.parse_answer(completion.text) if query else completion.text.strip()
            return text, usage_of(completion)

        results = await asyncio.gather(*(answer(unit) for unit in state["units"]))
        return {
            "answers": [r[0] for r in results],
            "usage": usage_update(*(r[1] for r in results)),
            "warnings": evidence_warnings(config, state),
        }

    async def select(state: ChainState) -> dict[str, Any]:
        answers = state["answers"]
        query = state.get("query")
        if len(answers) == 1:
            return {"chosen": 0}
        if config.selector == "judge" and query:
            completion = await runtime.complete(
                config.judge, roles.judge(query, answers), node="judge",
                max_tokens=8, temperature=0.0,
            )  # fmt: skip
            choice = roles.parse_choice(completion.text, len(answers))
            update: dict[str, Any] = {"usage": usage_update(usage_of(completion))}
            if choice is None:
                choice = long_doc.vote(answers)
                reply = completion.text.strip()[:60]
                update["warnings"] = [f"judge reply {reply!r} was not a candidate number; voted"]
            return {**update, "chosen": choice}
        return {"chosen": long_doc.vote(answers)}

    graph: StateGraph[ChainState, WorkflowContext, Any, Any] = StateGraph(
        ChainState, context_schema=WorkflowContext
    )
    graph.add_node("worker", worker)
    graph.add_node("manager", manager)
    graph.add_node("select", select)
    graph.add_edge(START, "worker")
    graph.add_conditional_edges("worker", after_worker, ["worker", "manager"])
    graph.add_edge("manager", "select")
    graph.add_edge("select", END)
    return graph


NODES = ("worker", "manager", "select")


async def _units_of(ctx: WorkflowContext, path: int) -> list[str]:
    items = await ctx.store.asearch(ctx.ns("runs", ctx.run_id, "cus"), limit=1_000_000)
    prefix = f"{path:02d}-"
    return [
        item.value["text"]
        for item in sorted(items, key=lambda i: i.key)
        if item.key.startswith(prefix)
    ]


async def result_from_state(
    state: dict[str, Any],
    ctx: WorkflowContext,
    doc: PreparedDocument,
    chunk_tokens: int,
    thread_id: str,
) -> ChainOfAgentsResult:
    answers: list[str | None] = state.get("answers") or [None]
    chosen = int(state.get("chosen", 0))
    paths = [
        PathResult(order=order, answer=answers[i], communication_units=await _units_of(ctx, i))
        for i, order in enumerate(state["orders"])
    ]
    return ChainOfAgentsResult(
        answer=answers[chosen],
        query=state.get("query"),
        thread_id=thread_id,
        doc_id=doc.doc_id,
        chunk_count=doc.chunk_count,
        chunk_tokens=chunk_tokens,
        document_tokens=doc.tokens,
        chosen_path=chosen,
        communication_units=paths[chosen].communication_units,
        paths=paths,
        prompts=await runtime.recorded_prompts(ctx),
        usage=Usage.from_dict(state.get("usage")).to_dict(),
        dropped_quotes=int(state.get("dropped_quotes", 0)),
        restated_quotes=int(state.get("restated_quotes", 0)),
        evicted_quotes=int(state.get("evicted_quotes", 0)),
        truncated_quotes=int(state.get("truncated_quotes", 0)),
        warnings=list(state.get("warnings", [])),
    )


# --- entry points ------------------------------------------------------------------------------


async def arun(
    document: Document,
    query: str | None = None,
    *,
    config: ChainOfAgentsConfig | None = None,
    gateway: Gateway | None = None,
    store: BaseStore | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    namespace: tuple[str, ...] = DEFAULT_NAMESPACE,
    thread_id: str | None = None,
    on_event: EventHandler | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> ChainOfAgentsResult:
    """Answer `query` about `document` (or summarize it when `query` is None).

    `document` is a text or a `StoredDocument` id. Any strategy of `config.strategy` runs here, so
    one eval compares chain-of-agents with its baselines on the same settings.
    """
    config = config or ChainOfAgentsConfig()
    if config.strategy != "coa":
        import agentrun.graphs.chain_of_agents.baselines as baselines

        return await baselines.arun(
            document, query, config=config, gateway=gateway, store=store,
            checkpointer=checkpointer, namespace=namespace, thread_id=thread_id,
            on_event=on_event, data_dir=data_dir,
        )  # fmt: skip
    thread_id = thread_id or runtime.new_thread_id()
    async with runtime.session(
        thread_id=thread_id, gateway=gateway, store=store, checkpointer=checkpointer,
        namespace=namespace, data_dir=data_dir,
    ) as run:  # fmt: skip
        chunk_tokens = plan_chunk_tokens(run.gateway, config, query)
        doc = await long_doc.prepare_document(
            run.gateway, run.store, namespace, document,
            model=config.model, chunk_tokens=chunk_tokens, index=config.index_chunks,
        )  # fmt: skip
        orders = reading_orders(doc.chunk_count, config)
        initial: ChainState = {
            "query": query,
            "doc": dataclasses.asdict(doc),
            "orders": orders,
            "step": 0,
            "units": [CommunicationUnit().model_dump() for _ in orders],
        }
        state = await run.run(build_graph(config), initial, on_event=on_event, node_names=NODES)
        return await result_from_state(state, run.ctx, doc, chunk_tokens, thread_id)


async def aresume(
    thread_id: str,
    *,
    config: ChainOfAgentsConfig | None = None,
    gateway: Gateway | None = None,
    store: BaseStore | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    namespace: tuple[str, ...] = DEFAULT_NAMESPACE,
    on_event: EventHandler | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> ChainOfAgentsResult:
    """Continue a failed or killed run from its last checkpoint (same config and store)."""
    config = config or ChainOfAgentsConfig()
    if config.strategy != "coa":
        import agentrun.graphs.chain_of_agents.baselines as baselines

        return await baselines.aresume(
            thread_id, config=config, gateway=gateway, store=store, checkpointer=checkpointer,
            namespace=namespace, on_event=on_event, data_dir=data_dir,
        )  # fmt: skip
    async with runtime.session(
        thread_id=thread_id, gateway=gateway, store=store, checkpointer=checkpointer,
        namespace=namespace, data_dir=data_dir,
    ) as run:  # fmt: skip
        graph = build_graph(config)
        doc = PreparedDocument(**(await run.saved(graph))["doc"])
        state = await run.run(graph, None, on_event=on_event, node_names=NODES)
        chunk_tokens = int(doc.split.rsplit("-", 1)[1])
        return await result_from_state(state, run.ctx, doc, chunk_tokens, thread_id)


def run(document: Document, query: str | None = None, **options: Any) -> ChainOfAgentsResult:
    """Sync twin of `arun`."""
    return runtime.run_sync(arun(document, query, **options))


def resume(thread_id: str, **options: Any) -> ChainOfAgentsResult:
    """Sync twin of `aresume`."""
    return runtime.run_sync(aresume(thread_id, **options))
