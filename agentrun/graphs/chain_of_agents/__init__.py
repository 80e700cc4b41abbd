"""Chain of Agents: workers read a long document in order, each handing a communication unit to
the next; a manager answers from the last one (or summarizes, when there is no query).

`ChainOfAgents(config).run(document, query)` runs the strategy `config.strategy` names: `coa`
(`graph`), or one of the baselines it is measured against (`baselines`: vanilla, rag, merge,
hierarchical), all from the same config and returning the same result, so one eval compares them
through this one class. The document is a text or a `StoredDocument` (the id of a document
already in the store); its chunks go to the run's records (to the store when indexed), and the
graph state holds their ids.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from langgraph.graph import StateGraph

from agentrun.agents.gateway import Gateway
from agentrun.errors import UsageError
from agentrun.graphs import long_doc, runtime
from agentrun.graphs.base import BuildContext, Workflow
from agentrun.graphs.chain_of_agents import baselines, graph
from agentrun.graphs.chain_of_agents.budgets import chunk_tokens_of, plan_chunk_tokens
from agentrun.graphs.chain_of_agents.models import (
    ChainOfAgentsConfig,
    ChainOfAgentsInputs,
    ChainOfAgentsResult,
    CommunicationUnit,
    CuFormat,
    PathResult,
    Quote,
    Strategy,
)
from agentrun.graphs.chain_of_agents.prompts import uses_evidence
from agentrun.graphs.runtime import Session
from agentrun.memory.documents import StoredDocument


def build_graph(config: ChainOfAgentsConfig) -> StateGraph[Any, Any, Any, Any]:
    """The graph of the strategy `config.strategy` names (`agentrun graph` draws it)."""
    if config.strategy == "coa":
        return graph.build_graph(config)
    return baselines.build(config)


class ChainOfAgents(Workflow[ChainOfAgentsConfig, ChainOfAgentsInputs, ChainOfAgentsResult]):
    """Answer a query about a long document (or summarize it) with a chain of workers and a
    manager, or with the baseline `config.strategy` names."""

    name = "chain-of-agents"
    description = "Workers read a long document in order; a manager answers (or summarizes)."

    def resolved_config(self, gateway: Gateway) -> ChainOfAgentsConfig:
        """The config with `cu_format: auto` decided for the model the gateway serves."""
        return self.config.resolved(gateway.is_local(self.config.model))

    def build(self, ctx: BuildContext[ChainOfAgentsConfig]) -> StateGraph[Any, Any, Any, Any]:
        return build_graph(self.resolved_config(ctx.gateway))

    async def start(self, inputs: ChainOfAgentsInputs, session: Session) -> Mapping[str, Any]:
        """Split the document into chunks that fit the strategy's prompts, and store them."""
        config, query = self.resolved_config(session.gateway), inputs.query
        if config.strategy == "rag" and not query:
            raise UsageError("the rag strategy needs a query; use coa or hierarchical to summarize")
        if config.strategy == "coa":
            chunk_tokens = plan_chunk_tokens(session.gateway, config, query)
        else:
            chunk_tokens = baselines.chunk_tokens(session.gateway, config, query)
        doc = await long_doc.prepare_document(
            session.gateway, session.store, session.ctx.namespace, inputs.document,
            model=config.model, chunk_tokens=chunk_tokens,
            index=config.index_chunks or config.strategy == "rag",
            records=session.ctx.run_records(),
            numbered=config.strategy == "coa" and uses_evidence(config, query),
        )  # fmt: skip
        if config.strategy == "coa":
            return graph.first_state(config, query, doc)
        return {"query": query, "doc": dataclasses.asdict(doc)}

    async def finish(self, state: Mapping[str, Any], session: Session) -> ChainOfAgentsResult:
        doc = long_doc.PreparedDocument(**state["doc"])
        if self.config.strategy == "coa":
            fields = await graph.outcome(dict(state), session.ctx)
        else:
            fields = baselines.outcome(dict(state), doc)
        return ChainOfAgentsResult(
            strategy=self.config.strategy, query=state.get("query"), doc_id=doc.doc_id,
            chunk_count=doc.chunk_count, chunk_tokens=chunk_tokens_of(doc),
            document_tokens=doc.tokens, prompts=await runtime.recorded_prompts(session.ctx),
            **fields,
        )  # fmt: skip


__all__ = [
    "ChainOfAgents",
    "ChainOfAgentsConfig",
    "ChainOfAgentsInputs",
    "ChainOfAgentsResult",
    "CommunicationUnit",
    "CuFormat",
    "PathResult",
    "Quote",
    "StoredDocument",
    "Strategy",
    "build_graph",
]
