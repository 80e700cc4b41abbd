"""Chain of Agents: workers read a long document in order, each passing a communication unit
(CU) to the next; a manager answers from the last CU alone (Zhang et al., 2024).

Small models lose facts when they paraphrase, so the default CU format is `evidence`: the
worker sees its chunk with the sentences numbered and cites the ones that help by id (`[3]`),
so what it hands on is the source text itself (`.evidence`); an id the chunk lacks is dropped
and counted (`invalid_ids`, warned about). A sentence it retypes instead is verified against
the chunk: restated quotes are mapped back to the source text and counted as
`restated_quotes`, invented ones dropped and counted as `dropped_quotes`. The manager sees the
last unit's quotes as numbered facts (only those about what the question names, `focus`),
answers citing them, and its answer is kept only if the cited facts hold it
(`long_doc.ground_answer`); otherwise, or when no quote is about the question, it abstains and
`reason` says why. `free` is the paper's free-form running summary, and
summarization (no query) always uses it.

An evidence unit is held to `cu_tokens` (the worker budget reserves that much for it): quotes
evicted or cut to keep it there are counted (`evicted_quotes`, `truncated_quotes`) and reported
once per run in `warnings` with the fix (raise `cu_tokens`); truncating keeps the prompt budget,
which a whole over-long quote would break.

Several reading orders can run at once (multi-path), judged by a model or a vote. Each worker
step is a graph step with a checkpoint after it, and each model call is a checkpointed task, so a
resumed run continues mid-chain without re-sending calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import operator
import random
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph

from agentrun.agents import roles
from agentrun.agents.ledger import Usage
from agentrun.graphs import long_doc, runtime
from agentrun.graphs.chain_of_agents import prompts
from agentrun.graphs.chain_of_agents.budgets import answer_output_tokens
from agentrun.graphs.chain_of_agents.evidence import (
    QuoteCounts,
    cite_sentences,
    trim,
    verify_quotes,
)
from agentrun.graphs.chain_of_agents.models import (
    ChainOfAgentsConfig,
    CommunicationUnit,
    PathResult,
)
from agentrun.graphs.long_doc import PreparedDocument
from agentrun.graphs.runtime import WorkflowContext, add_usage, context, usage_of, usage_update
from agentrun.logs import get_logger

log = get_logger("chain_of_agents")


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


def first_state(
    config: ChainOfAgentsConfig, query: str | None, doc: PreparedDocument
) -> dict[str, Any]:
    """The chain's state before the first worker: every path's reading order, empty units."""
    orders = reading_orders(doc.chunk_count, config)
    return {
        "query": query,
        "doc": dataclasses.asdict(doc),
        "orders": orders,
        "step": 0,
        "units": [CommunicationUnit().model_dump() for _ in orders],
    }


class ChainState(TypedDict, total=False):
    query: str | None
    doc: dict[str, Any]
    orders: list[list[int]]
    step: int
    units: list[dict[str, Any]]
    answers: list[str | None]
    reasons: list[str]
    chosen: int
    invalid_ids: Annotated[int, operator.add]
    dropped_quotes: Annotated[int, operator.add]
    restated_quotes: Annotated[int, operator.add]
    evicted_quotes: Annotated[int, operator.add]
    truncated_quotes: Annotated[int, operator.add]
    warnings: Annotated[list[str], operator.add]
    usage: Annotated[dict[str, Any], add_usage]


def _cu_key(path: int, step: int) -> str:
    return f"{path:02d}-{step:06d}"


def _keep_unit(ctx: WorkflowContext, path: int, step: int, text: str) -> None:
    """A unit handed on, in the run's records (the result lists every one)."""
    ctx.run_records().put("unit", _cu_key(path, step), {"path": path, "text": text})


async def _evidence_step(
    config: ChainOfAgentsConfig, query: str, previous: CommunicationUnit,
    chunk_index: int, text: str, position: str, node: str,
) -> tuple[CommunicationUnit, QuoteCounts, Usage]:  # fmt: skip
    ctx = context()
    messages = prompts.evidence_worker(query, previous.render(), text, position)
    completion = await runtime.complete(
        config.model, messages, node=node,
        max_tokens=config.worker_max_tokens, temperature=config.temperature,
    )  # fmt: skip
    reply = roles.parse_references(completion.text)
    quotes, dropped, restated = verify_quotes(reply.quotes, chunk_index, text, previous)
    quotes, invalid = cite_sentences(reply.ids, chunk_index, text, quotes)
    if invalid:
        log.warning("invalid_sentence_ids", chunk=chunk_index, ids=invalid)
    unit, evicted, truncated = trim(
        CommunicationUnit(quotes=quotes), config.cu_tokens,
        ctx.gateway.text_counter(config.model), query,
    )  # fmt: skip
    counts = QuoteCounts(dropped + len(invalid), restated, evicted, truncated, len(invalid))
    return unit, counts, usage_of(completion)


def evidence_warnings(config: ChainOfAgentsConfig, state: ChainState) -> list[str]:
    """The run's warnings about evidence lost: sentence ids that did not exist, and what the
    unit budget cost (logged as well)."""
    invalid = state.get("invalid_ids", 0)
    warnings = (
        [f"{invalid} sentence ids the workers cited do not exist in their chunks; dropped"]
        if invalid
        else []
    )
    return warnings + budget_warnings(config, state)


def budget_warnings(config: ChainOfAgentsConfig, state: ChainState) -> list[str]:
    """The run's one warning about evidence the unit budget cost (logged as well)."""
    evicted, truncated = state.get("evicted_quotes", 0), state.get("truncated_quotes", 0)
    if not evicted and not truncated:
        return []
    paths = len(state["orders"])
    lost = (
        [f"{evicted} verified quotes were evicted (those least about the question first)"]
        if evicted
        else []
    )
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


async def answer_from_evidence(
    config: ChainOfAgentsConfig, query: str, unit: CommunicationUnit
) -> tuple[str | None, str, Usage]:
    """The manager's answer from an evidence unit, and why: the quotes are numbered facts, only
    those about what the question names are shown (`long_doc.focus`, when on), and the answer
    is kept only if the facts it cites hold it (`long_doc.ground_answer`); else it abstains."""
    facts = [long_doc.Evidence(i, quote.text) for i, quote in enumerate(unit.quotes, 1)]
    if not facts:
        return None, "no worker found evidence for the question", Usage()
    if config.focus:
        about = long_doc.focus(query, [fact.text for fact in facts])
        if not about.kept:
            asked = ", ".join(sorted(about.names))
            return None, f"no evidence mentions what the question names ({asked})", Usage()
        facts = [facts[i] for i in about.kept]
    completion = await runtime.complete(
        config.manager,
        prompts.manager_messages(query, long_doc.render_facts(facts), citing=True),
        node="manager", max_tokens=answer_output_tokens(config, query),
        temperature=config.temperature,
    )  # fmt: skip
    said = roles.parse_cited_answer(completion.text)
    if said.answer is None:
        return None, said.reason, usage_of(completion)
    grounded = long_doc.ground_answer(said.answer, said.cited, facts, "answered from the evidence")
    return grounded.answer, grounded.reason, usage_of(completion)


async def answer_from(
    config: ChainOfAgentsConfig, query: str | None, text: str, node: str
) -> tuple[str | None, Usage]:
    """The manager's answer to `query` from `text` (a summary of it when there is no query)."""
    completion = await runtime.complete(
        config.manager, prompts.manager_messages(query, text), node=node,
        max_tokens=answer_output_tokens(config, query), temperature=config.temperature,
    )  # fmt: skip
    answer = roles.parse_answer(completion.text) if query else completion.text.strip()
    return answer, usage_of(completion)


def build_graph(config: ChainOfAgentsConfig) -> StateGraph[ChainState, WorkflowContext, Any, Any]:
    """worker (one chunk per path per step, looping) -> manager -> select."""

    async def worker(state: ChainState) -> dict[str, Any]:
        ctx = context()
        step = state["step"]
        total = len(state["orders"][0])

        async def advance(path: int, order: list[int]) -> tuple[dict[str, Any], QuoteCounts, Usage]:
            chunk_index = order[step]
            chunk = await long_doc.load_chunk(
                ctx.store, ctx.namespace, state["doc"], chunk_index, ctx.run_records()
            )
            position = f"part {step + 1} of {total}"
            node = f"worker[{path}]"
            query = state.get("query")
            previous = CommunicationUnit.model_validate(state["units"][path])
            if query is not None and prompts.uses_evidence(config, query):
                unit, counts, usage = await _evidence_step(
                    config, query, previous, chunk_index, chunk.text, position, node
                )
            else:
                messages = prompts.summary_worker(query, previous.note, chunk.text, position)
                completion = await runtime.complete(
                    config.model, messages, node=node,
                    max_tokens=config.cu_tokens, temperature=config.temperature,
                )  # fmt: skip
                unit = CommunicationUnit(note=completion.text.strip())
                counts, usage = QuoteCounts(), usage_of(completion)
            _keep_unit(ctx, path, step, unit.render())
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

        async def answer(unit: dict[str, Any]) -> tuple[str | None, str, Usage]:
            evidence = CommunicationUnit.model_validate(unit)
            if query is not None and prompts.uses_evidence(config, query):
                return await answer_from_evidence(config, query, evidence)
            rendered = evidence.render()
            if query and not rendered:
                return None, "no worker kept a note for the question", Usage()
            said, usage = await answer_from(config, query, rendered, "manager")
            return said, "answered from the last unit" if said else "the unit does not say", usage

        results = await asyncio.gather(*(answer(unit) for unit in state["units"]))
        return {
            "answers": [r[0] for r in results],
            "reasons": [r[1] for r in results],
            "usage": usage_update(*(r[2] for r in results)),
            "warnings": evidence_warnings(config, state),
        }

    async def select(state: ChainState) -> dict[str, Any]:
        answers = state["answers"]
        query = state.get("query")
        if len(answers) == 1:
            return {"chosen": 0}
        if config.selector == "judge" and query:
            completion = await runtime.complete(
                config.judge, prompts.judge(query, answers), node="judge",
                max_tokens=8, temperature=0.0,
            )  # fmt: skip
            choice = prompts.parse_choice(completion.text, len(answers))
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


def _units_by_path(ctx: WorkflowContext, paths: int) -> list[list[str]]:
    """Every path's units, in step order."""
    units: list[list[str]] = [[] for _ in range(paths)]
    for value in ctx.run_records().values("unit"):
        units[int(value["path"])].append(value["text"])
    return units


async def outcome(state: dict[str, Any], ctx: WorkflowContext) -> dict[str, Any]:
    """Result fields of a chain: the chosen path's answer and units, every path, and what
    happened to the quotes."""
    answers: list[str | None] = state.get("answers") or [None]
    chosen = int(state.get("chosen", 0))
    units = _units_by_path(ctx, len(state["orders"]))
    paths = [
        PathResult(order=order, answer=answers[i], communication_units=units[i])
        for i, order in enumerate(state["orders"])
    ]
    reasons: list[str] = state.get("reasons") or [""]
    return {
        "answer": answers[chosen],
        "reason": reasons[chosen],
        "invalid_ids": int(state.get("invalid_ids", 0)),
        "chosen_path": chosen,
        "communication_units": paths[chosen].communication_units,
        "paths": paths,
        "dropped_quotes": int(state.get("dropped_quotes", 0)),
        "restated_quotes": int(state.get("restated_quotes", 0)),
        "evicted_quotes": int(state.get("evicted_quotes", 0)),
        "truncated_quotes": int(state.get("truncated_quotes", 0)),
        "warnings": list(state.get("warnings", [])),
    }
