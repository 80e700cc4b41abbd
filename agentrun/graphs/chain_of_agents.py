"""Chain of Agents: workers read a long document in order, each passing a communication unit
(CU) to the next; a manager answers from the last CU alone (Zhang et al., 2024).

Small models lose facts when they paraphrase, so the default CU format is `evidence`: sentences
quoted from the chunk, each verified against it, plus a short note. `free` is the paper's
free-form running summary. Several reading orders can run at once (multi-path), judged by a
model or a vote. Each worker step is a graph step with a checkpoint after it, and each model
call is a checkpointed task, so a resumed run continues mid-chain without re-sending calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import operator
import os
import random
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore
from pydantic import BaseModel, ConfigDict, Field

from agentrun.agents.config import LOCAL_MODEL
from agentrun.agents.gateway import Gateway
from agentrun.agents.ledger import Usage
from agentrun.agents.messages import Message
from agentrun.errors import ConfigError, UsageError
from agentrun.graphs import long_doc, runtime
from agentrun.graphs.long_doc import Answer, Document, PreparedDocument
from agentrun.graphs.runtime import (
    DEFAULT_NAMESPACE,
    EventHandler,
    WorkflowContext,
    add_usage,
    context,
    usage_of,
    usage_update,
)
from agentrun.tools.quotes import locate

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
    text: str
    chunk: int
    start: int
    end: int


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


class WorkerEvidence(BaseModel):
    """The evidence a worker reports for its chunk."""

    model_config = ConfigDict(extra="ignore")

    quotes: list[str] = Field(default_factory=list, description="Sentences copied word for word.")
    note: str = Field(default="", description="One short sentence on what was found.")


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
    dropped_quotes: int = 0
    warnings: list[str] = Field(default_factory=list)


# --- prompts -----------------------------------------------------------------------------------


def worker_messages(
    config: ChainOfAgentsConfig, query: str | None, previous: str, chunk: str, position: str
) -> list[Message]:
    if config.cu_format == "free":
        task = (
            f"Question: {query}\n" if query else ""
        ) + (
            "Read the current source text and the summary of the previous source text, and write "
            "one summary that includes both. Later agents will use it"
            + (" to answer the question, so keep every piece of evidence for it." if query
               else " to summarize the whole document, so keep the important events and facts.")
        )  # fmt: skip
        return [
            {"role": "system", "content": "You summarize one part of a long document at a time."},
            {
                "role": "user",
                "content": f"Source text ({position}):\n{chunk}\n\n"
                f"Summary of the previous source text:\n{previous or '(none)'}\n\n{task}",
            },
        ]
    goal = (
        f"Question: {query}\n"
        "Copy, word for word, the sentences of the text that help answer the question."
        if query
        else "Copy, word for word, the sentences of the text that carry its most important facts."
    )
    return [
        {
            "role": "system",
            "content": "You read one part of a long document and collect evidence, "
            "quoting it exactly.",
        },
        {
            "role": "user",
            "content": f"Evidence so far:\n{previous or '(none)'}\n\n"
            f"Text ({position}):\n{chunk}\n\n{goal} "
            "Quote nothing that is not in the text; give an empty list if nothing helps.",
        },
    ]


def manager_messages(query: str | None, unit: str) -> list[Message]:
    if query:
        return [
            {
                "role": "system",
                "content": "You answer questions from evidence gathered by other agents.",
            },
            {
                "role": "user",
                "content": f"Evidence from a long document:\n{unit or '(none)'}\n\n"
                f"Question: {query}\n"
                "Answer from the evidence only, in a few words. If the evidence does not contain "
                "the answer, the answer is null.",
            },
        ]
    return [
        {"role": "system", "content": "You write summaries of long documents from notes."},
        {
            "role": "user",
            "content": f"Notes on a long document:\n{unit}\n\nWrite a summary of the document.",
        },
    ]


def judge_messages(query: str, candidates: list[str | None]) -> list[Message]:
    listed = "\n".join(f"{i}: {a if a else '(no answer)'}" for i, a in enumerate(candidates))
    return [
        {"role": "system", "content": "You pick the best answer among candidates."},
        {
            "role": "user",
            "content": f"Question: {query}\nCandidates:\n{listed}\n\nWhich candidate is right?",
        },
    ]


class JudgeChoice(BaseModel):
    choice: int = Field(ge=0)


# --- budgets -----------------------------------------------------------------------------------


def worker_output_tokens(config: ChainOfAgentsConfig) -> int:
    return config.worker_max_tokens if config.cu_format == "evidence" else config.cu_tokens


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
    budget = window - overhead - config.cu_tokens - worker_output_tokens(config) - SAFETY_TOKENS
    if budget < MIN_CHUNK_TOKENS:
        raise ConfigError(
            f"the {window}-token window of {config.model} leaves {budget} tokens per chunk after "
            f"instruction and query ({overhead}), communication unit ({config.cu_tokens}) and "
            f"output ({worker_output_tokens(config)}); use a model with a larger window or "
            "lower cu_tokens / worker_max_tokens"
        )
    default = min(budget, config.local_chunk_cap) if config.model == LOCAL_MODEL else budget
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


def _trim(unit: CommunicationUnit, budget: int, count: Callable[[str], int]) -> CommunicationUnit:
    """Drop the oldest quotes until the rendered unit fits its budget."""
    while unit.quotes and count(unit.render()) > budget:
        unit = unit.model_copy(update={"quotes": unit.quotes[1:]})
    return unit


async def _evidence_step(
    config: ChainOfAgentsConfig, query: str | None, previous: CommunicationUnit,
    chunk_index: int, text: str, position: str, node: str,
) -> tuple[CommunicationUnit, int, Usage, str | None]:  # fmt: skip
    ctx = context()
    messages = worker_messages(config, query, previous.render(), text, position)
    reply = await runtime.structured(
        config.model, messages, WorkerEvidence, node=node,
        max_tokens=config.worker_max_tokens, temperature=config.temperature,
    )  # fmt: skip
    if reply.value is None:
        return previous, 0, reply.usage, f"{node} on chunk {chunk_index}: {reply.error}"
    known = {q.text for q in previous.quotes}
    quotes = list(previous.quotes)
    dropped = 0
    for candidate in reply.value.quotes:
        span = locate(text, candidate)
        if span is None:
            dropped += 1
            continue
        if span.text not in known:
            known.add(span.text)
            quotes.append(Quote(text=span.text, chunk=chunk_index, start=span.start, end=span.end))
    unit = CommunicationUnit(quotes=quotes, note=reply.value.note)
    unit = _trim(unit, config.cu_tokens, ctx.gateway.text_counter(config.model))
    return unit, dropped, reply.usage, None


def build_graph(config: ChainOfAgentsConfig) -> StateGraph[ChainState, WorkflowContext, Any, Any]:
    """worker (one chunk per path per step, looping) -> manager -> select."""

    async def worker(state: ChainState) -> dict[str, Any]:
        ctx = context()
        step = state["step"]
        total = len(state["orders"][0])

        async def advance(
            path: int, order: list[int]
        ) -> tuple[dict[str, Any], int, Usage, str | None]:
            chunk_index = order[step]
            chunk = await long_doc.load_chunk(ctx.store, ctx.namespace, state["doc"], chunk_index)
            position = f"part {step + 1} of {total}"
            node = f"worker[{path}]"
            if config.cu_format == "evidence":
                previous = CommunicationUnit.model_validate(state["units"][path])
                unit, dropped, usage, warning = await _evidence_step(
                    config, state.get("query"), previous, chunk_index, chunk.text, position, node
                )
                rendered, value = unit.render(), unit.model_dump()
            else:
                previous_text = str(state["units"][path].get("note", ""))
                messages = worker_messages(
                    config, state.get("query"), previous_text, chunk.text, position
                )
                completion = await runtime.complete(
                    config.model, messages, node=node,
                    max_tokens=config.cu_tokens, temperature=config.temperature,
                )  # fmt: skip
                rendered = completion.text.strip()
                value = CommunicationUnit(note=rendered).model_dump()
                dropped, usage, warning = 0, usage_of(completion), None
            await _store_unit(ctx.store, ctx, path, step, rendered)
            return value, dropped, usage, warning

        results = await asyncio.gather(*(advance(p, o) for p, o in enumerate(state["orders"])))
        return {
            "step": step + 1,
            "units": [r[0] for r in results],
            "dropped_quotes": sum(r[1] for r in results),
            "usage": usage_update(*(r[2] for r in results)),
            "warnings": [r[3] for r in results if r[3]],
        }

    def after_worker(state: ChainState) -> str:
        return "worker" if state["step"] < len(state["orders"][0]) else "manager"

    async def manager(state: ChainState) -> dict[str, Any]:
        query = state.get("query")

        async def answer(path: int, unit: dict[str, Any]) -> tuple[str | None, Usage]:
            rendered = CommunicationUnit.model_validate(unit).render()
            messages = manager_messages(query, rendered)
            if query:
                reply = await runtime.structured(
                    config.manager, messages, Answer, node="manager",
                    max_tokens=config.answer_max_tokens, temperature=config.temperature,
                )  # fmt: skip
                return (reply.value.answer if reply.value else None), reply.usage
            completion = await runtime.complete(
                config.manager, messages, node="manager",
                max_tokens=config.answer_max_tokens * 4, temperature=config.temperature,
            )  # fmt: skip
            return completion.text.strip(), usage_of(completion)

        results = await asyncio.gather(*(answer(p, u) for p, u in enumerate(state["units"])))
        return {"answers": [r[0] for r in results], "usage": usage_update(*(r[1] for r in results))}

    async def select(state: ChainState) -> dict[str, Any]:
        answers = state["answers"]
        query = state.get("query")
        if len(answers) == 1:
            return {"chosen": 0}
        if config.selector == "judge" and query:
            reply = await runtime.structured(
                config.judge, judge_messages(query, answers), JudgeChoice, node="judge",
                max_tokens=32, temperature=0.0,
            )  # fmt: skip
            choice = reply.value.choice if reply.value and reply.value.choice < len(answers) else 0
            return {"chosen": choice, "usage": usage_update(reply.usage)}
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
        import agentrun.graphs.long_doc_baselines as baselines

        return await baselines.arun(
            document, query, config=config, gateway=gateway, store=store,
            checkpointer=checkpointer, namespace=namespace, thread_id=thread_id,
            on_event=on_event, data_dir=data_dir,
        )  # fmt: skip
    thread_id = thread_id or runtime.new_thread_id()
    async with runtime.resources(gateway, store, checkpointer, data_dir) as res:
        chunk_tokens = plan_chunk_tokens(res.gateway, config, query)
        ctx = WorkflowContext(res.gateway, res.store, namespace, run_id=thread_id)
        doc = await long_doc.prepare_document(
            res.gateway, res.store, namespace, document,
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
        app = build_graph(config).compile(checkpointer=res.checkpointer, store=res.store)
        state = await runtime.stream_graph(
            app, initial, thread_id=thread_id, ctx=ctx, on_event=on_event, node_names=NODES
        )
        return await result_from_state(state, ctx, doc, chunk_tokens, thread_id)


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
    async with runtime.resources(gateway, store, checkpointer, data_dir) as res:
        ctx = WorkflowContext(res.gateway, res.store, namespace, run_id=thread_id)
        app = build_graph(config).compile(checkpointer=res.checkpointer, store=res.store)
        saved = await runtime.saved_state(app, thread_id)
        doc = PreparedDocument(**saved["doc"])
        state = await runtime.stream_graph(
            app, None, thread_id=thread_id, ctx=ctx, on_event=on_event, node_names=NODES
        )
        chunk_tokens = int(doc.split.rsplit("-", 1)[1])
        return await result_from_state(state, ctx, doc, chunk_tokens, thread_id)


def run(document: Document, query: str | None = None, **options: Any) -> ChainOfAgentsResult:
    """Sync twin of `arun`."""
    return runtime.run_sync(arun(document, query, **options))


def resume(thread_id: str, **options: Any) -> ChainOfAgentsResult:
    """Sync twin of `aresume`."""
    return runtime.run_sync(aresume(thread_id, **options))
