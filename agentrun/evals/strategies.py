"""The strategies an eval can compare, each run through its workflow's public API.

Chain-of-agents and its baselines go through the `ChainOfAgents` workflow (its config picks the
strategy); retrieve-then-reason, its unverified two-stage baseline and direct answering go
through the `RetrieveThenReason` workflow (its config's `method` picks which). Every strategy
returns the same `Outcome`, so one report compares them; retrieve-then-reason runs also return
their extraction figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore

from agentrun.agents.gateway import Gateway
from agentrun.evals.datasets import QAItem
from agentrun.evals.metrics import covers, gold_along_chain, overlaps

if TYPE_CHECKING:
    from agentrun.graphs.retrieve_then_reason import RetrieveThenReasonResult

#: name -> what it is (the order is the order of report tables).
STRATEGIES: dict[str, str] = {
    "coa": "chain of agents, evidence communication units (quotes verified per chunk)",
    "coa-free": "chain of agents, free-form communication units (the paper's)",
    "vanilla": "one call over the document truncated to the window",
    "rag": "one call over the chunks most similar to the question (needs a search index)",
    "merge": "every chunk answered alone, then a majority vote",
    "hierarchical": "chunk summaries merged in a tree; the manager sees them all",
    "rtr": "retrieve-then-reason: facts quoted, verified against the source, then reasoned on",
    "rtr-unverified": "two-stage prompting: quoted facts reasoned on without verification",
    "direct": "one answering call over the text (retrieve-then-reason's prompt, no facts)",
}
COA_STRATEGIES = ("coa", "coa-free", "vanilla", "rag", "merge", "hierarchical")
RTR_METHODS = {"rtr": "verified", "rtr-unverified": "unverified", "direct": "direct"}


@dataclass
class Outcome:
    answer: str | None
    usage: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] | None = None


@dataclass
class Resources:
    gateway: Gateway
    store: BaseStore
    checkpointer: BaseCheckpointSaver[Any]
    namespace: tuple[str, ...]


async def run_strategy(
    strategy: str, item: QAItem, model: str, res: Resources, thread_id: str
) -> Outcome:
    """Answer one item with one strategy."""
    if strategy in COA_STRATEGIES:
        return await _chain_of_agents(strategy, item, model, res, thread_id)
    if strategy in RTR_METHODS:
        return await _retrieve_then_reason(strategy, item, model, res, thread_id)
    raise KeyError(strategy)


async def _chain_of_agents(
    strategy: str, item: QAItem, model: str, res: Resources, thread_id: str
) -> Outcome:
    from agentrun.graphs.chain_of_agents import ChainOfAgents, ChainOfAgentsConfig

    config = ChainOfAgentsConfig(
        model=model,
        strategy="coa" if strategy.startswith("coa") else strategy,
        cu_format="free" if strategy == "coa-free" else "evidence",
    )
    workflow = ChainOfAgents(
        config, gateway=res.gateway, store=res.store, checkpointer=res.checkpointer,
        namespace=res.namespace,
    )  # fmt: skip
    result = await workflow.arun(item.context, item.question, thread_id=thread_id)
    details: dict[str, Any] = {
        "chunks": result.chunk_count,
        "chunk_tokens": result.chunk_tokens,
        "document_tokens": result.document_tokens,
        "dropped_quotes": result.dropped_quotes,
        "restated_quotes": result.restated_quotes,
        "evicted_quotes": result.evicted_quotes,
        "truncated_quotes": result.truncated_quotes,
        "invalid_ids": result.invalid_ids,
        "reason": result.reason,
    }
    if config.strategy == "coa" and result.communication_units:
        details["manager_input"] = result.communication_units[-1]
        if config.cu_format == "evidence" and item.evidence:  # quotes are verbatim: traceable
            units = result.communication_units
            details["gold_chain"] = gold_along_chain(units, [e.text for e in item.evidence])
    return Outcome(result.answer, result.usage, result.warnings, details)


async def _retrieve_then_reason(
    strategy: str, item: QAItem, model: str, res: Resources, thread_id: str
) -> Outcome:
    from agentrun.graphs.retrieve_then_reason import RetrieveThenReason, RetrieveThenReasonConfig

    config = RetrieveThenReasonConfig(model=model, method=RTR_METHODS[strategy])
    workflow = RetrieveThenReason(
        config, gateway=res.gateway, store=res.store, checkpointer=res.checkpointer,
        namespace=res.namespace,
    )  # fmt: skip
    result = await workflow.arun(item.context, item.question, thread_id=thread_id)
    details = {
        "chunks": result.chunk_count,
        "chunk_tokens": result.chunk_tokens,
        "document_tokens": result.document_tokens,
        "retrieval": result.retrieval,
        "chunks_read": len(result.chunks_read),
        "reason": result.reason,
        "facts": [fact.text for fact in result.facts],
        "cited": result.cited,
        "proposals": [
            {"chunk": p.chunk, "text": p.text, "found": p.found, "stage": p.stage}
            for p in result.proposals
        ],
    }
    evidence = None if strategy == "direct" else evidence_scores(item, result)
    return Outcome(result.answer, result.usage, result.warnings, details, evidence)


def evidence_scores(item: QAItem, result: RetrieveThenReasonResult) -> dict[str, Any]:
    """Extraction figures of one retrieve-then-reason run, with gold recall when gold is known,
    and how many facts the reasoner was given that are not text of the context (hallucinated
    facts after verification: none for `rtr`, whose facts are source spans).

    Recall before verification: gold sentences that some raw first-pass proposal recalls (as
    text, `metrics.covers`). After verification: gold sentences that a proposal located in the
    source overlaps by at least half (offsets, `metrics.overlaps`), re-asks and paraphrase
    mapping included.
    """
    first = [p for p in result.proposals if p.stage == "extract"]
    located = [
        (p.start, p.end)
        for p in result.proposals
        if p.found and p.start is not None and p.end is not None
    ]
    stats = result.stats
    return {
        "proposed": stats.proposed,
        "not_found": stats.not_found,
        "recovered": stats.recovered,
        "paraphrased": stats.paraphrased,
        "dropped": stats.dropped,
        "kept": stats.kept,
        "facts_not_in_source": sum(fact.text not in item.context for fact in result.facts),
        "gold": len(item.evidence),
        "gold_recalled_raw": sum(
            any(covers(p.text, gold.text) for p in first) for gold in item.evidence
        ),
        "gold_recalled_verified": sum(
            any(overlaps(start, end, gold.start, gold.end) for start, end in located)
            for gold in item.evidence
        ),
    }
