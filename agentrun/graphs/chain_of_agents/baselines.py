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
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph

from agentrun.agents.gateway import Gateway
from agentrun.agents.ledger import Usage
from agentrun.graphs import long_doc, runtime
from agentrun.graphs.chain_of_agents import prompts
from agentrun.graphs.chain_of_agents.budgets import context_budget, plan_chunk_tokens
from agentrun.graphs.chain_of_agents.graph import answer_from
from agentrun.graphs.chain_of_agents.models import ChainOfAgentsConfig, PathResult
from agentrun.graphs.long_doc import PreparedDocument
from agentrun.graphs.runtime import WorkflowContext, add_usage, context, usage_of, usage_update
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


async def _chunks(state: BaselineState) -> list[str]:
    ctx = context()
    count = int(state["doc"]["chunk_count"])
    loaded = [
        await long_doc.load_chunk(ctx.store, ctx.namespace, state["doc"], i, ctx.run_records())
        for i in range(count)
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
        first = await long_doc.load_chunk(
            ctx.store, ctx.namespace, state["doc"], 0, ctx.run_records()
        )
        result, usage = await answer_from(config, state.get("query"), first.text, "vanilla")
        dropped = int(state["doc"]["tokens"]) - first.tokens
        return {
            "answer": result,
            "units": [first.text],
            "truncated_tokens": dropped,
            "usage": usage_update(usage),
        }

    return _graph(answer)


def build_rag(config: ChainOfAgentsConfig) -> StateGraph[BaselineState, WorkflowContext, Any, Any]:
    """Retrieve the chunks most similar to the query until the window is full."""

    async def answer(state: BaselineState) -> dict[str, Any]:
        ctx = context()
        query = state.get("query")
        budget = context_budget(ctx.gateway, config, query)
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
        result, usage = await answer_from(config, query, text, "rag")
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
            *(answer_from(config, query, text, f"merge[{i}]") for i, text in enumerate(texts))
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
    config: ChainOfAgentsConfig,
) -> StateGraph[BaselineState, WorkflowContext, Any, Any]:
    """Leaf units per chunk, merged level by level until the manager can see them all."""

    async def leaf(text: str, query: str | None, position: str, node: str) -> tuple[str, Usage]:
        messages = prompts.summary_worker(query, "", text, position)
        completion = await runtime.complete(
            config.model, messages, node=node,
            max_tokens=config.cu_tokens, temperature=config.temperature,
        )  # fmt: skip
        return completion.text.strip(), usage_of(completion)

    async def answer(state: BaselineState) -> dict[str, Any]:
        ctx = context()
        query = state.get("query")
        manager_budget = context_budget(ctx.gateway, config, query)
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
        result, usage = await answer_from(config, query, "\n\n".join(units), "manager")
        return {"answer": result, "units": units, "usage": usage_update(*usages, usage)}

    return _graph(answer)


def chunk_tokens(gateway: Gateway, config: ChainOfAgentsConfig, query: str | None) -> int:
    """Chunk size of the configured baseline (every one needs the manager's window to fit)."""
    budget = context_budget(gateway, config, query)
    if config.strategy == "rag":
        return min(RAG_CHUNK_TOKENS, budget)
    if config.strategy == "hierarchical":
        return plan_chunk_tokens(gateway, config, query)
    return budget


def build(config: ChainOfAgentsConfig) -> StateGraph[BaselineState, WorkflowContext, Any, Any]:
    """The graph of the baseline `config.strategy` names."""
    builders = {
        "vanilla": build_vanilla, "rag": build_rag,
        "merge": build_merge, "hierarchical": build_hierarchical,
    }  # fmt: skip
    return builders[config.strategy](config)


def outcome(state: dict[str, Any], doc: PreparedDocument) -> dict[str, Any]:
    """Result fields of a baseline: its answer, what its answering call read, each chunk's
    answer (merge), and how much of the document vanilla left unread."""
    candidates = state.get("candidates") or []
    warnings = []
    if state.get("truncated_tokens"):
        warnings.append(
            f"vanilla read {doc.tokens - state['truncated_tokens']} of {doc.tokens} tokens"
        )
    return {
        "answer": state.get("answer"),
        "communication_units": list(state.get("units") or []),
        "paths": [PathResult(order=[], answer=c, communication_units=[]) for c in candidates],
        "warnings": warnings,
    }
