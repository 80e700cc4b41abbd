"""The baselines chain-of-agents is measured against, run from the same config and store:

- `vanilla`: the document truncated to what fits the window, one call (truncation is reported);
- `rag`: chunks retrieved by similarity to the query, filling the window, in source order;
- `merge`: every chunk answered on its own, concurrently, then a majority vote;
- `hierarchical`: every chunk summarized on its own, then the manager sees all the units (merged
  level by level while they do not fit).

Each is a small graph whose model calls are checkpointed tasks, like chain-of-agents itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore

from agentrun.agents import roles
from agentrun.agents.gateway import Gateway
from agentrun.agents.ledger import Usage
from agentrun.errors import ConfigError, UsageError
from agentrun.graphs import long_doc, runtime
from agentrun.graphs.chain_of_agents.graph import (
    MIN_CHUNK_TOKENS,
    SAFETY_TOKENS,
    ChainOfAgentsConfig,
    ChainOfAgentsResult,
    PathResult,
    manager_messages,
    plan_chunk_tokens,
)
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
from agentrun.memory.namespaces import chunks_ns

#: Chunk size for retrieval: small chunks retrieve precisely.
RAG_CHUNK_TOKENS = 256


class BaselineState(TypedDict, total=False):
    query: str | None
    doc: dict[str, Any]
    answer: str | None
    units: list[str]
    candidates: list[str | None]
    truncated_tokens: int
    usage: Annotated[dict[str, Any], add_usage]


def _context_budget(gateway: Gateway, config: ChainOfAgentsConfig, query: str | None) -> int:
    """Tokens of document text that fit one answering prompt."""
    window = gateway.context_window(config.manager)
    overhead = gateway.count_tokens(config.manager, manager_messages(query, ""))
    budget = window - overhead - config.answer_max_tokens * (1 if query else 4) - SAFETY_TOKENS
    if budget < MIN_CHUNK_TOKENS:
        raise ConfigError(
            f"the {window}-token window of {config.manager} leaves {budget} tokens for the "
            "document; use a model with a larger window"
        )
    return budget


async def _answer(
    config: ChainOfAgentsConfig, query: str | None, text: str, node: str
) -> tuple[str | None, Usage]:
    completion = await runtime.complete(
        config.manager, manager_messages(query, text), node=node,
        max_tokens=config.answer_max_tokens * (1 if query else 4), temperature=config.temperature,
    )  # fmt: skip
    answer = roles.parse_answer(completion.text) if query else completion.text.strip()
    return answer, usage_of(completion)


async def _chunks(state: BaselineState) -> list[str]:
    ctx = context()
    count = int(state["doc"]["chunk_count"])
    loaded = [
        await long_doc.load_chunk(ctx.store, ctx.namespace, state["doc"], i) for i in range(count)
    ]
    return [chunk.text for chunk in loaded]


def _graph(node: Any) -> StateGraph[BaselineState, WorkflowContext, Any, Any]:
    graph: StateGraph[BaselineState, WorkflowContext, Any, Any] = StateGraph(
        BaselineState, context_schema=WorkflowContext
    )
    graph.add_node("answer", node)
    graph.add_edge(START, "answer")
    graph.add_edge("answer", END)
    return graph


def build_vanilla(
    config: ChainOfAgentsConfig,
) -> StateGraph[BaselineState, WorkflowContext, Any, Any]:
    """Answer from the first chunk, which `prepare` sized to fill the window."""

    async def answer(state: BaselineState) -> dict[str, Any]:
        ctx = context()
        first = await long_doc.load_chunk(ctx.store, ctx.namespace, state["doc"], 0)
        result, usage = await _answer(config, state.get("query"), first.text, "vanilla")
        dropped = int(state["doc"]["tokens"]) - first.tokens
        return {
            "answer": result,
            "units": [first.text],
            "truncated_tokens": dropped,
            "usage": usage_update(usage),
        }

    return _graph(answer)


def build_rag(
    config: ChainOfAgentsConfig, budget: int
) -> StateGraph[BaselineState, WorkflowContext, Any, Any]:
    """Retrieve the chunks most similar to the query until the window is full."""

    async def answer(state: BaselineState) -> dict[str, Any]:
        ctx = context()
        query = state.get("query")
        if not query:
            raise UsageError("the rag strategy needs a query; use coa or hierarchical to summarize")
        doc = state["doc"]
        limit = config.rag_top_k or int(doc["chunk_count"])
        hits = await ctx.store.asearch(
            chunks_ns(ctx.namespace), query=query,
            filter={"doc_id": doc["doc_id"], "split": doc["split"]}, limit=limit,
        )  # fmt: skip
        chosen: list[dict[str, Any]] = []
        used = 0
        for hit in hits:
            tokens = int(hit.value["tokens"])
            if used + tokens > budget:
                continue
            chosen.append(hit.value)
            used += tokens
        chosen.sort(key=lambda value: int(value["start"]))
        text = "\n\n".join(value["text"] for value in chosen)
        result, usage = await _answer(config, query, text, "rag")
        return {"answer": result, "units": [text], "usage": usage_update(usage)}

    return _graph(answer)


def build_merge(
    config: ChainOfAgentsConfig,
) -> StateGraph[BaselineState, WorkflowContext, Any, Any]:
    """Every chunk answers alone; the majority answer wins."""

    async def answer(state: BaselineState) -> dict[str, Any]:
        texts = await _chunks(state)
        query = state.get("query")
        results = await asyncio.gather(
            *(_answer(config, query, text, f"merge[{i}]") for i, text in enumerate(texts))
        )
        candidates = [r[0] for r in results]
        winner = candidates[long_doc.vote(candidates)]
        return {
            "answer": winner,
            "candidates": candidates,
            "usage": usage_update(*(r[1] for r in results)),
        }

    return _graph(answer)


def build_hierarchical(
    config: ChainOfAgentsConfig, manager_budget: int
) -> StateGraph[BaselineState, WorkflowContext, Any, Any]:
    """Leaf units per chunk, merged level by level until the manager can see them all."""

    async def leaf(text: str, query: str | None, position: str, node: str) -> tuple[str, Usage]:
        messages = roles.summary_worker(query, "", text, position)
        completion = await runtime.complete(
            config.model, messages, node=node,
            max_tokens=config.cu_tokens, temperature=config.temperature,
        )  # fmt: skip
        return completion.text.strip(), usage_of(completion)

    async def answer(state: BaselineState) -> dict[str, Any]:
        ctx = context()
        query = state.get("query")
        texts = await _chunks(state)
        total = len(texts)
        results = await asyncio.gather(
            *(leaf(t, query, f"part {i + 1} of {total}", f"leaf[{i}]") for i, t in enumerate(texts))
        )
        units = [r[0] for r in results]
        spans = [(i, i) for i in range(total)]  # the parts each unit summarizes
        usages = [r[1] for r in results]
        count = ctx.gateway.text_counter(config.manager)
        level = 0
        while count("\n\n".join(units)) > manager_budget and len(units) > 1:
            groups: list[list[int]] = [[]]
            for i, unit in enumerate(units):
                joined = "\n\n".join([*(units[j] for j in groups[-1]), unit])
                if groups[-1] and count(joined) > manager_budget // 2:
                    groups.append([])
                groups[-1].append(i)
            if len(groups) == len(units):  # no two units fit together: merge pairs
                groups = [list(range(i, min(i + 2, len(units)))) for i in range(0, len(units), 2)]
            level += 1
            spans = [(spans[g[0]][0], spans[g[-1]][1]) for g in groups]
            jobs = [
                ("\n\n".join(units[j] for j in group), f"summaries of parts {a + 1}-{b + 1} of "
                 f"{total}", f"merge[{level}][{i}]")
                for i, (group, (a, b)) in enumerate(zip(groups, spans, strict=True))
            ]  # fmt: skip
            merged = await asyncio.gather(
                *(leaf(text, query, pos, node) for text, pos, node in jobs)
            )
            units = [m[0] for m in merged]
            usages.extend(m[1] for m in merged)
        result, usage = await _answer(config, query, "\n\n".join(units), "manager")
        return {"answer": result, "units": units, "usage": usage_update(*usages, usage)}

    return _graph(answer)


async def arun(
    document: Document,
    query: str | None = None,
    *,
    config: ChainOfAgentsConfig,
    gateway: Gateway | None = None,
    store: BaseStore | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    namespace: tuple[str, ...] = DEFAULT_NAMESPACE,
    thread_id: str | None = None,
    on_event: EventHandler | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> ChainOfAgentsResult:
    """Run the baseline named by `config.strategy` (`chain_of_agents.arun` routes here)."""
    thread_id = thread_id or runtime.new_thread_id()
    async with runtime.session(
        thread_id=thread_id, gateway=gateway, store=store, checkpointer=checkpointer,
        namespace=namespace, data_dir=data_dir,
    ) as run:  # fmt: skip
        chunk_tokens, graph = _plan(run.gateway, config, query)
        doc = await long_doc.prepare_document(
            run.gateway, run.store, namespace, document, model=config.model,
            chunk_tokens=chunk_tokens, index=config.strategy == "rag" or config.index_chunks,
        )  # fmt: skip
        initial: BaselineState = {"query": query, "doc": dataclasses.asdict(doc)}
        state = await run.run(graph, initial, on_event=on_event, node_names=("answer",))
        return await _result(state, run.ctx, doc, chunk_tokens, thread_id, config.strategy)


async def aresume(
    thread_id: str,
    *,
    config: ChainOfAgentsConfig,
    gateway: Gateway | None = None,
    store: BaseStore | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    namespace: tuple[str, ...] = DEFAULT_NAMESPACE,
    on_event: EventHandler | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> ChainOfAgentsResult:
    """Continue a baseline run from its last checkpoint."""
    async with runtime.session(
        thread_id=thread_id, gateway=gateway, store=store, checkpointer=checkpointer,
        namespace=namespace, data_dir=data_dir,
    ) as run:  # fmt: skip
        saved = await run.saved(build_vanilla(config))  # every baseline has the same state
        chunk_tokens, graph = _plan(run.gateway, config, saved.get("query"))
        doc = PreparedDocument(**saved["doc"])
        state = await run.run(graph, None, on_event=on_event, node_names=("answer",))
        return await _result(state, run.ctx, doc, chunk_tokens, thread_id, config.strategy)


def _plan(
    gateway: Gateway, config: ChainOfAgentsConfig, query: str | None
) -> tuple[int, StateGraph[BaselineState, WorkflowContext, Any, Any]]:
    """Chunk size and graph of the configured baseline."""
    budget = _context_budget(gateway, config, query)
    if config.strategy == "vanilla":
        return budget, build_vanilla(config)
    if config.strategy == "rag":
        return min(RAG_CHUNK_TOKENS, budget), build_rag(config, budget)
    if config.strategy == "merge":
        return budget, build_merge(config)
    return plan_chunk_tokens(gateway, config, query), build_hierarchical(config, budget)


async def _result(
    state: dict[str, Any], ctx: WorkflowContext, doc: PreparedDocument, chunk_tokens: int,
    thread_id: str, strategy: str,
) -> ChainOfAgentsResult:  # fmt: skip
    units = list(state.get("units") or [])
    candidates = state.get("candidates") or []
    warnings = []
    if state.get("truncated_tokens"):
        warnings.append(
            f"vanilla read {doc.tokens - state['truncated_tokens']} of {doc.tokens} tokens"
        )
    return ChainOfAgentsResult(
        strategy=strategy,
        answer=state.get("answer"),
        query=state.get("query"),
        thread_id=thread_id,
        doc_id=doc.doc_id,
        chunk_count=doc.chunk_count,
        chunk_tokens=chunk_tokens,
        document_tokens=doc.tokens,
        communication_units=units,
        paths=[PathResult(order=[], answer=c, communication_units=[]) for c in candidates],
        prompts=await runtime.recorded_prompts(ctx),
        usage=Usage.from_dict(state.get("usage")).to_dict(),
        warnings=warnings,
    )
