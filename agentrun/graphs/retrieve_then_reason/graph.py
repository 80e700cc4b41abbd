"""The retrieve-then-reason graph and its token budgets (see the package doc)."""

from __future__ import annotations

import asyncio
import dataclasses
import operator
from collections.abc import Awaitable, Iterable
from typing import Annotated, Any, TypedDict, TypeVar

from langgraph.graph import END, START, StateGraph

from agentrun.agents import roles, structured
from agentrun.agents.gateway import Gateway
from agentrun.agents.ledger import Usage
from agentrun.agents.messages import Message
from agentrun.errors import ConfigError, UsageError
from agentrun.graphs import long_doc, runtime
from agentrun.graphs.long_doc import StoredDocument, ground_answer, normalize_answer, render_facts
from agentrun.graphs.retrieve_then_reason.evidence import (
    cited_sentences,
    locate_answer_sentence,
    locate_quote,
    map_paraphrases,
    replaced,
)
from agentrun.graphs.retrieve_then_reason.models import (
    Extraction,
    Fact,
    Proposal,
    ReasonedAnswer,
    RetrieveThenReasonConfig,
    Stage,
)
from agentrun.graphs.retrieve_then_reason.prompts import (
    extraction_messages,
    reask_message,
    reasoning_messages,
)
from agentrun.graphs.runtime import (
    WorkflowContext,
    add_usage,
    context,
    usage_of,
    usage_update,
)
from agentrun.memory.namespaces import chunks_ns
from agentrun.memory.records import DocumentChunk
from agentrun.text.quotes import QuoteSpan, number_sentences

SAFETY_TOKENS = 32
MIN_CHUNK_TOKENS = 64
#: Room for the re-ask instruction that names the quotes not found.
REASK_TOKENS = 160

T = TypeVar("T")


async def gather_or_cancel(coroutines: Iterable[Awaitable[T]]) -> list[T]:
    """Like `asyncio.gather`, but when one fails the others are cancelled, not left running."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


# --- graph -------------------------------------------------------------------------------------


class RtrState(TypedDict, total=False):
    query: str
    doc: dict[str, Any]
    beyond_window: bool
    budget: int
    candidates: list[int]
    retrieval: str
    replies: dict[str, str]
    proposals: list[dict[str, Any]]
    recovered: int
    paraphrased: int
    answer: str | None
    reason: str
    facts: list[dict[str, Any]]
    cited: list[int]
    shown: list[int]
    citations_inferred: bool
    warnings: Annotated[list[str], operator.add]
    usage: Annotated[dict[str, Any], add_usage]


async def _document(state: RtrState) -> str:
    ctx = context()
    doc = state["doc"]
    return await long_doc.load_text(
        ctx.store, ctx.namespace, StoredDocument(str(doc["doc_id"]), str(doc["split"]))
    )


async def _chunk(state: RtrState, index: int) -> DocumentChunk:
    ctx = context()
    return await long_doc.load_chunk(
        ctx.store, ctx.namespace, state["doc"], index, ctx.run_records()
    )


def _candidates_from_text(reply: str, prompting: str) -> list[str]:
    """The quotes of a reply (with `references` prompting, the lines it retyped)."""
    if prompting == "references":
        return roles.parse_references(reply).quotes
    if prompting == "structured":
        value = Extraction.model_validate_json(reply) if reply else Extraction()
        return [fact.quote for fact in value.facts if fact.quote.strip()]
    if prompting == "answer-span":
        answer = roles.parse_answer(reply)
        return [answer] if answer else []
    return roles.parse_quotes(reply)


def abstention_reason(state: RtrState) -> str:
    """Why nothing could be reasoned on: the first extraction's quotes (re-asks not counted as
    more quotes) were all not found, or none was proposed."""
    proposals = [Proposal.model_validate(p) for p in state.get("proposals", [])]
    proposed = sum(p.stage == "extract" for p in proposals)
    reasked = any(p.stage == "reask" for p in proposals)
    if not proposed:
        return f"no supporting fact was found in the {len(state['candidates'])} chunk(s) read"
    which = "the quoted fact" if proposed == 1 else f"none of the {proposed} quoted facts"
    verb = "was not found" if proposed == 1 else "could be found"
    again = ", nor what the re-ask quoted instead" if reasked else ""
    return f"{which} {verb} in the context{again}"


def invalid_ids_warning(chunk: DocumentChunk, proposals: list[Proposal]) -> str | None:
    """The warning for the sentence ids a reply cited that its passage does not have."""
    invalid = [p.sentence for p in proposals if p.sentence is not None and not p.found]
    if not invalid:
        return None
    count = len(number_sentences(chunk.text).spans)
    listed = ", ".join(str(i) for i in invalid)
    return (
        f"chunk {chunk.index}: sentence ids {listed} do not exist (it has {count} sentences); "
        "dropped"
    )


def build_graph(
    config: RetrieveThenReasonConfig,
) -> StateGraph[RtrState, WorkflowContext, Any, Any]:
    """retrieve -> extract -> reask -> reason (direct: retrieve -> reason)."""
    prompting = config.resolved_prompting

    async def ask(messages: list[Message], node: str) -> tuple[str, Usage, str | None]:
        """One extraction call; returns the reply as text (JSON for structured output)."""
        if prompting == "structured":
            reply = await runtime.structured(
                config.model, messages, Extraction, node=node,
                max_tokens=config.extract_max_tokens, temperature=config.temperature,
            )  # fmt: skip
            text = reply.value.model_dump_json() if reply.value is not None else ""
            return text, reply.usage, reply.error
        completion = await runtime.complete(
            config.model, messages, node=node,
            max_tokens=config.extract_max_tokens, temperature=config.temperature,
        )  # fmt: skip
        return completion.text, usage_of(completion), None

    def proposals_of(
        document: str, chunk: DocumentChunk, reply: str, query: str, stage: Stage
    ) -> list[Proposal]:
        """The reply's proposals: sentences cited by id, then every quote it wrote, verified."""
        cited = (
            cited_sentences(chunk, roles.parse_references(reply).ids, stage)
            if prompting == "references"
            else []
        )
        texts = _candidates_from_text(reply, prompting)
        return cited + verify(document, chunk, texts, query, stage)

    def verify(
        document: str, chunk: DocumentChunk, texts: list[str], query: str, stage: Stage
    ) -> list[Proposal]:
        proposals = []
        for text in texts:
            found: tuple[QuoteSpan, bool] | None
            if prompting == "answer-span":
                span = locate_answer_sentence(chunk, text, query, config.fuzzy_threshold)
                found = (span, False) if span else None
            else:
                found = locate_quote(document, chunk, text, config.fuzzy_threshold)
            proposal = Proposal(chunk=chunk.index, text=text, found=False, stage=stage)
            if found is not None:
                span, spans = found
                located = {"start": span.start, "end": span.end, "match": span.match}
                restated = span.match == "paraphrase"  # it negates what the source says
                update = {**located, "found": not restated, "spans_chunks": spans}
                proposal = proposal.model_copy(update=update)
            proposals.append(proposal)
        return proposals

    async def retrieve(state: RtrState) -> dict[str, Any]:
        ctx = context()
        doc, query = state["doc"], state["query"]
        everything = list(range(int(doc["chunk_count"])))
        order, retrieval, warnings = everything, "all", []
        if state["beyond_window"]:
            hits = await ctx.store.asearch(
                chunks_ns(ctx.namespace), query=query,
                filter={"doc_id": doc["doc_id"], "split": doc["split"]},
                limit=len(everything) if config.method == "direct" else config.top_k,
            )  # fmt: skip
            if hits and all(hit.score is not None for hit in hits):
                order, retrieval = [int(hit.value["index"]) for hit in hits], "semantic"
            else:
                retrieval = "all-chunks-no-index"
                warnings.append(
                    "the store has no search index, so chunks could not be ranked: "
                    f"read all {len(everything)} chunks in source order"
                )
        if config.method != "direct":
            return {"candidates": sorted(order), "retrieval": retrieval, "warnings": warnings}
        chosen, used = [], 0
        for index in order:
            tokens = (await _chunk(state, index)).tokens
            if used + tokens <= state["budget"]:
                chosen.append(index)
                used += tokens
        if len(chosen) < len(everything):
            warnings.append(
                f"direct answering read {len(chosen)} of {len(everything)} chunks "
                f"({used} of {doc['tokens']} tokens) to fit the window"
            )
        return {"candidates": sorted(chosen), "retrieval": retrieval, "warnings": warnings}

    async def extract(state: RtrState) -> dict[str, Any]:
        query = state["query"]
        document = await _document(state)
        limit = asyncio.Semaphore(config.concurrency)
        chunks = [await _chunk(state, index) for index in state["candidates"]]

        async def one(chunk: DocumentChunk) -> tuple[str, list[Proposal], Usage, str | None]:
            messages = extraction_messages(prompting, query, chunk.text, chunk.index)
            # Waiters resume in the order they queued, so calls are made in chunk order (a
            # resumed run matches recorded calls by their order).
            async with limit:
                reply, usage, error = await ask(messages, f"extract[{chunk.index}]")
            return reply, proposals_of(document, chunk, reply, query, "extract"), usage, error

        results = await gather_or_cancel(one(chunk) for chunk in chunks)
        warnings = [
            f"chunk {i}: no valid extraction ({r[3]})"
            for i, r in zip(state["candidates"], results, strict=True)
            if r[3]
        ] + [
            warning
            for chunk, r in zip(chunks, results, strict=True)
            if (warning := invalid_ids_warning(chunk, r[1]))
        ]
        return {
            "replies": {str(i): r[0] for i, r in zip(state["candidates"], results, strict=True)},
            "proposals": [p.model_dump() for r in results for p in r[1]],
            "warnings": warnings,
            "usage": usage_update(*(r[2] for r in results)),
        }

    async def reask(state: RtrState) -> dict[str, Any]:
        """Re-ask once per chunk for its quotes not found; then keep what is still missing as
        the source text it restates: a negation-flipped near match always (its span is known),
        any other restatement if mapping is on. Counts what each step won back."""
        proposals = [Proposal.model_validate(p) for p in state["proposals"]]
        missing: dict[int, list[Proposal]] = {}
        for proposal in proposals:
            if not proposal.found:
                missing.setdefault(proposal.chunk, []).append(proposal)
        if config.method != "verified" or not missing:
            return {"recovered": 0, "paraphrased": 0}
        query = state["query"]
        document = await _document(state)
        known = {(p.start, p.end) for p in proposals if p.found}
        chunks = {index: await _chunk(state, index) for index in sorted(missing)}

        async def one(index: int, lost: list[Proposal]) -> tuple[list[Proposal], Usage]:
            if not config.reask:
                return [], Usage()
            chunk = chunks[index]
            messages = [
                *extraction_messages(prompting, query, chunk.text, index),
                {"role": "assistant", "content": state["replies"][str(index)]},
                reask_message(prompting, [p.text for p in lost], index),
            ]
            reply, usage, _ = await ask(messages, f"reask[{index}]")
            return proposals_of(document, chunk, reply, query, "reask"), usage

        results = await gather_or_cancel(one(i, lost) for i, lost in sorted(missing.items()))
        added: list[Proposal] = []
        recovered = paraphrased = 0
        for (index, lost), (again, _) in zip(sorted(missing.items()), results, strict=True):
            new = {
                (p.start, p.end): document[p.start : p.end]
                for p in again
                if p.found and p.start is not None and p.end is not None
                and (p.start, p.end) not in known
            }  # fmt: skip
            known |= set(new)
            left = list(lost)
            for quote, _ in replaced([p.text for p in lost], list(new.values())):
                left.remove(next(p for p in left if p.text == quote))
            recovered += len(lost) - len(left)
            added += again
            restated = [p for p in left if p.match == "paraphrase"]
            for p in restated:
                known.add((p.start, p.end))
                added.append(p.model_copy(update={"found": True, "stage": "paraphrase"}))
            paraphrased += len(restated)
            unplaced = [p.text for p in left if p.match != "paraphrase"]
            if unplaced and config.paraphrases:
                texts = [*unplaced, *(p.text for p in again if not p.found)]
                mapped = map_paraphrases(chunks[index], texts, known)
                known |= {(p.start, p.end) for p in mapped}
                paraphrased += min(len(unplaced), len(mapped))
                added += mapped
        return {
            "proposals": [*state["proposals"], *(p.model_dump() for p in added)],
            "recovered": recovered,
            "paraphrased": paraphrased,
            "usage": usage_update(*(r[1] for r in results)),
        }

    def facts_of(state: RtrState) -> list[Fact]:
        proposals = [Proposal.model_validate(p) for p in state.get("proposals", [])]
        if config.method == "unverified":
            raw = [p for p in proposals if p.stage == "extract"]
            unique = list({p.text: p for p in raw}.values())
            return [Fact(id=i + 1, source=p.chunk, text=p.text) for i, p in enumerate(unique)]
        spans: dict[tuple[int, int], Proposal] = {}
        for p in proposals:
            if p.found and p.start is not None and p.end is not None:
                spans.setdefault((p.start, p.end), p)
        document_facts = []
        for i, ((start, end), p) in enumerate(sorted(spans.items())):
            fact = Fact(id=i + 1, source=p.chunk, text="", start=start, end=end, match=p.match)
            document_facts.append(
                fact.model_copy(update={"stage": p.stage, "spans_chunks": p.spans_chunks})
            )
        return document_facts

    async def reason(state: RtrState) -> dict[str, Any]:
        ctx = context()
        query = state["query"]
        facts = facts_of(state)
        if facts and facts[0].start is not None:
            document = await _document(state)
            facts = [f.model_copy(update={"text": document[f.start : f.end]}) for f in facts]
        if config.method != "direct" and not facts:
            why = abstention_reason(state)
            return {"answer": None, "reason": why, "facts": [], "cited": []}
        verified_facts = [f.model_dump() for f in facts]
        if config.method == "verified" and config.focus:
            about = long_doc.focus(query, [f.text for f in facts])
            if not about.kept:
                asked = ", ".join(sorted(about.names))
                why = f"no verified fact mentions what the question names ({asked})"
                return {"answer": None, "reason": why, "facts": verified_facts, "cited": []}
            facts = [facts[i] for i in about.kept]
        count = ctx.gateway.text_counter(config.reasoner)
        warnings: list[str] = []
        kept = len(facts)
        while len(facts) > 1 and count(render_facts(facts)) > state["budget"]:
            facts = facts[:-1]
        if len(facts) < kept:
            warnings.append(f"{kept - len(facts)} facts beyond the reasoner's window were left out")
        text = ""
        if config.method == "direct" or config.reason_over == "facts+context":
            room = state["budget"] - (count(render_facts(facts)) if facts else 0)
            pieces, used = [], 0
            for index in state["candidates"]:
                chunk = await _chunk(state, index)
                if used + chunk.tokens <= room:
                    pieces.append(chunk.text)
                    used += chunk.tokens
            text = "\n\n".join(pieces)
        messages = reasoning_messages(prompting, query, render_facts(facts), text)
        update: dict[str, Any] = {
            "facts": verified_facts,
            "shown": [f.id for f in facts],
            "warnings": warnings,
        }
        if prompting == "structured":
            reply = await runtime.structured(
                config.reasoner, messages, ReasonedAnswer, node="reason",
                max_tokens=config.answer_max_tokens, temperature=config.temperature,
            )  # fmt: skip
            update["usage"] = usage_update(reply.usage)
            if reply.value is None:
                return {**update, "answer": None, "reason": f"no valid answer: {reply.error}"}
            said = (reply.value.answer or "").strip()
            if config.method == "verified" and said:
                grounded = ground_answer(said, reply.value.facts, facts, reply.value.reason)
                return {**update, **dataclasses.asdict(grounded)}
            ids = {f.id for f in facts}
            cited = [i for i in reply.value.facts if i in ids]
            if len(cited) < len(reply.value.facts):
                warnings.append("the reasoner cited fact ids that do not exist; they were ignored")
            answer = reply.value.answer.strip() if reply.value.answer else None
            return {**update, "answer": answer or None, "reason": reply.value.reason,
                    "cited": cited}  # fmt: skip
        completion = await runtime.complete(
            config.reasoner, messages, node="reason",
            max_tokens=config.answer_max_tokens, temperature=config.temperature,
        )  # fmt: skip
        update["usage"] = usage_update(usage_of(completion))
        if prompting == "references" and config.method != "direct" and not text:
            return {**update, **cited_answer(completion.text, facts)}
        answer = roles.parse_answer(completion.text)
        if config.method == "verified" and answer is not None:
            grounded = ground_answer(answer, None, facts, "answered from the facts")
            return {**update, **dataclasses.asdict(grounded), "citations_inferred": True}
        said = normalize_answer(answer or "")
        cited = [f.id for f in facts if said and said in normalize_answer(f.text)]
        source = "text" if config.method == "direct" else "facts"
        reason = (
            f"the {source} do not answer the question"
            if answer is None
            else f"answered from the {source}"
        )
        return {**update, "answer": answer, "reason": reason, "cited": cited,
                "citations_inferred": bool(facts)}  # fmt: skip

    def cited_answer(reply: str, facts: list[Fact]) -> dict[str, Any]:
        """A citing reasoner's answer: kept if the facts it cites hold it (verified; citing
        none, it is checked against all it saw), else abstained with the reason."""
        said = roles.parse_cited_answer(reply)
        if said.answer is None:
            return {"answer": None, "reason": said.reason, "cited": []}
        inferred = {"citations_inferred": said.cited is None}
        if config.method == "verified":
            grounded = ground_answer(said.answer, said.cited, facts, "answered from the facts")
            return {**dataclasses.asdict(grounded), **inferred}
        ids = {f.id for f in facts}
        cited = [i for i in said.cited or [] if i in ids]
        return {"answer": said.answer, "reason": "answered from the facts", "cited": cited,
                **inferred}  # fmt: skip

    graph: StateGraph[RtrState, WorkflowContext, Any, Any] = StateGraph(
        RtrState, context_schema=WorkflowContext
    )
    graph.add_node("retrieve", retrieve)
    graph.add_node("reason", reason)
    graph.add_edge(START, "retrieve")
    if config.method == "direct":
        graph.add_edge("retrieve", "reason")
    else:
        graph.add_node("extract", extract)
        graph.add_node("reask", reask)
        graph.add_edge("retrieve", "extract")
        graph.add_edge("extract", "reask")
        graph.add_edge("reask", "reason")
    graph.add_edge("reason", END)
    return graph


# --- budgets -----------------------------------------------------------------------------------


def plan_chunk_tokens(gateway: Gateway, config: RetrieveThenReasonConfig, query: str) -> int:
    """Chunk size that leaves room in the extraction prompt for the re-ask conversation."""
    prompting = config.resolved_prompting
    window = gateway.context_window(config.model)
    query_tokens = gateway.count_text(config.model, query)
    if query_tokens >= window:
        raise UsageError(
            f"the question is {query_tokens} tokens, longer than the {window}-token window of "
            f"{config.model}; shorten it"
        )
    overhead = gateway.count_tokens(config.model, extraction_messages(prompting, query, "", 0))
    if prompting == "structured":
        overhead += gateway.count_text(config.model, structured.instruction(Extraction))
    budget = window - overhead - 2 * config.extract_max_tokens - REASK_TOKENS - SAFETY_TOKENS
    if budget < MIN_CHUNK_TOKENS:
        raise ConfigError(
            f"the {window}-token window of {config.model} leaves {budget} tokens per chunk after "
            f"the prompt ({overhead}), the re-ask room and output ({config.extract_max_tokens} "
            "twice); use a model with a larger window or lower extract_max_tokens"
        )
    cap = config.chunk_tokens or (
        config.local_chunk_cap if gateway.is_local(config.model) else config.chunk_cap
    )
    return min(cap, budget)


def reasoning_budget(gateway: Gateway, config: RetrieveThenReasonConfig, query: str) -> int:
    """Tokens of facts and text that fit the reasoning prompt."""
    prompting = config.resolved_prompting
    window = gateway.context_window(config.reasoner)
    overhead = gateway.count_tokens(config.reasoner, reasoning_messages(prompting, query, "x", "x"))
    if prompting == "structured":
        overhead += gateway.count_text(config.reasoner, structured.instruction(ReasonedAnswer))
    budget = window - overhead - config.answer_max_tokens - SAFETY_TOKENS
    if budget < MIN_CHUNK_TOKENS:
        raise ConfigError(
            f"the {window}-token window of {config.reasoner} leaves {budget} tokens for facts; "
            "use a model with a larger window"
        )
    return budget
