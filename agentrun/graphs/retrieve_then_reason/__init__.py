"""Retrieve-then-reason with verified evidence (after ALR², Li et al., 2024).

`RetrieveThenReason(config).run(context, query)` answers `query` from `context`: a text, a
`Path` to a text file, or a `StoredDocument` (a document in the store, by id).

Stage 1 asks the model for the facts that support an answer, as quotes with their source id;
every quote is located in its source (`agentrun.text.quotes.locate`: exact, then Unicode NFKC /
case / whitespace normalized, then fuzzy above `fuzzy_threshold`, always mapped back to the
original text), so a kept fact is `document[start:end]`, verbatim. A quote that cannot be found
is re-asked once, naming it; it counts as `recovered` only when a new quote of the re-ask, found
in the source, restates it (shares at least half of its content words, misspellings allowed):
another new sentence is kept as a fact but recovers nothing. A quote still not found is dropped
and counted. A near match whose negation differs from the source ("was not" for "was") is not
found either: it is re-asked like one, and if the re-ask does not replace it, the source text it
matched is kept as a fact, counted as `paraphrased`. Stage 2 answers from the verified facts only
(`reason_over="facts+context"` adds the text read) and cites them by id. When no fact could be
verified the run abstains (`answer=None`) without a second call and says why (how many quotes
the first extraction proposed, and that the re-ask found none either).

- The answer is checked too (`agentrun.graphs.long_doc.ground_answer`): every word of it but
  function words (articles, prepositions, pronouns...; never a negation) must occur as a whole
  word in the verified facts it cites, compared as `agentrun.text.quotes.words` reads them (NFKC,
  case folded, punctuation dropped, "n't" as "not", "1,890" as 1890); a bare yes or no needs
  citations only. An answer citing no fact or a fact id that does not exist, or holding a word
  its facts do not, is not kept: `answer=None` and `reason` names the words or ids. With
  `facts+context` the text read helps the reasoning but cannot support the answer. With
  plain-text prompting (no ids) it is checked against all verified facts. The `unverified` and
  `direct` baselines are not checked.

- Where quotes are checked: against their chunk first, then against the whole document. A
  quote that runs across a chunk boundary (or that the model recalled from another part of the
  document) is therefore kept with its true document offsets, flagged `spans_chunks`.
- Long contexts: the document is split into chunks in the shared store. When it is longer than
  the model's window, the `top_k` chunks most similar to the question are read if the store has
  a search index; a store without one cannot rank, so every chunk is read in source order (the
  result's `retrieval` says which happened). Extraction runs per chunk, concurrently up to
  `concurrency`, then one reasoning step.
- Prompting: `structured` (JSON schema output; the default for hosted models), `references`
  (the passage is shown with its sentences numbered and the model replies with ids such as
  `[3]`: a cited sentence is the source text itself, so a paraphrase cannot lose it; an id the
  passage lacks is dropped, counted as `invalid_ids`, warned about and re-asked; a line written
  out instead of cited is verified as a quote; the default for the embedded SmolLM2, which
  cannot copy and degrades under a JSON grammar), `quotes` (plain text, one quote per line), or
  `answer-span` (the model names the answer words in each chunk and the supporting
  sentence is located around them; words not in the chunk count as a quote not found). With
  `quotes` or `answer-span` prompting the reasoner is not asked for ids: the facts that hold its
  answer's words are cited, and `citations_inferred` says so. With `references` it is asked to
  cite fact ids (`[2]`) after its answer, or to reply NONE with why; an answer citing none is
  checked against all it saw, its citations inferred.
- Focus (`focus`, on by default): the reasoner sees only the verified facts about what the
  question names (`agentrun.graphs.long_doc.focus`: its capitalized words, and the names those
  facts link to, for the second hop), under their own ids (`shown`); when no verified fact
  mentions a name of the question the run abstains without asking, naming the names, so facts
  about look-alike people and places cannot answer for the one asked about.
- Models that cannot copy (`map_paraphrases`, on by default for local/smollm2 only): a quote
  still not found after its re-ask is mapped to the sentence of its chunk it restates
  (`agentrun.text.quotes.match_sentence`, by shared rare words) and that sentence, verbatim
  from the source, is kept instead; such quotes still count as not found in the hallucination
  rate and are counted apart as `paraphrased`.
- `method="unverified"` is the two-stage prompting baseline (raw quotes go to the reasoner; they
  are still located, only to measure them) and `method="direct"` answers from the text in one
  call; both exist so that one eval compares them on the same prompts.
- Bad input: an empty context or question is a `UsageError`; a question the context does not
  answer gives `answer=None` with the reason; a file is read as UTF-8, else in the encoding
  passed or declared in it (byte-order mark, `coding:`/`charset=`/`encoding=`), else an
  `InputFileError` naming the file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langgraph.graph import StateGraph
from langgraph.store.base import BaseStore

from agentrun.agents.gateway import Gateway
from agentrun.errors import InputFileError, UsageError
from agentrun.graphs import long_doc, runtime
from agentrun.graphs.base import BuildContext, Workflow
from agentrun.graphs.long_doc import PreparedDocument, StoredDocument
from agentrun.graphs.retrieve_then_reason.graph import (
    RtrState,
    build_graph,
    plan_chunk_tokens,
    reasoning_budget,
)
from agentrun.graphs.retrieve_then_reason.models import (
    Context,
    Extraction,
    ExtractionStats,
    Fact,
    Method,
    Prompting,
    Proposal,
    ReasonedAnswer,
    RetrieveThenReasonConfig,
    RetrieveThenReasonInputs,
    RetrieveThenReasonResult,
)
from agentrun.graphs.runtime import Session
from agentrun.text.files import read_text_file as read_source


class RetrieveThenReason(
    Workflow[RetrieveThenReasonConfig, RetrieveThenReasonInputs, RetrieveThenReasonResult]
):
    """Answer `query` from `context` with facts verified against it (see the package doc);
    `config.method` picks the verified workflow or one of its baselines."""

    name = "retrieve-then-reason"
    description = (
        "Extract supporting quotes, verify each against the source, then answer from the "
        "verified facts only (or abstain)."
    )

    def resolved_config(self, gateway: Gateway) -> RetrieveThenReasonConfig:
        """The config with its `auto` settings decided for the model the gateway serves."""
        return self.config.resolved(gateway.is_local(self.config.model))

    def build(self, ctx: BuildContext[RetrieveThenReasonConfig]) -> StateGraph[Any, Any, Any, Any]:
        return build_graph(self.resolved_config(ctx.gateway))

    async def start(self, inputs: RetrieveThenReasonInputs, session: Session) -> RtrState:
        """Split the context into the store (ids in the state) and size the two stages."""
        config, gateway = self.resolved_config(session.gateway), session.gateway
        namespace, query = session.ctx.namespace, inputs.query
        text = await _text_of(session.store, namespace, inputs.context, inputs.encoding)
        if not text.strip():
            raise UsageError("the context is empty, so no fact can be found; pass a text")
        chunk_tokens = plan_chunk_tokens(gateway, config, query)
        budget = reasoning_budget(gateway, config, query)
        beyond = gateway.count_text(config.model, text) > gateway.context_window(config.model)
        source = str(inputs.context) if isinstance(inputs.context, Path) else "context"
        doc = await long_doc.prepare_document(
            gateway, session.store, namespace, text, model=config.model,
            chunk_tokens=chunk_tokens, source=source, index=beyond,
            numbered=config.resolved_prompting == "references",
        )  # fmt: skip
        return {
            "query": query,
            "doc": dataclasses.asdict(doc),
            "beyond_window": beyond,
            "budget": budget,
        }

    async def finish(self, state: Mapping[str, Any], session: Session) -> RetrieveThenReasonResult:
        config = self.resolved_config(session.gateway)
        doc = PreparedDocument(**state["doc"])
        proposals = [Proposal.model_validate(p) for p in state.get("proposals", [])]
        first = [p for p in proposals if p.stage == "extract"]
        facts = [Fact.model_validate(f) for f in state.get("facts", [])]
        not_found = sum(not p.found for p in first)
        recovered = int(state.get("recovered", 0))
        paraphrased = int(state.get("paraphrased", 0))
        verified = config.method == "verified"
        stats = ExtractionStats(
            proposed=len(first), not_found=not_found,
            reasked=not_found if verified and config.reask else 0,
            recovered=recovered, paraphrased=paraphrased,
            dropped=not_found - recovered - paraphrased if verified else 0, kept=len(facts),
            invalid_ids=sum(p.sentence is not None and not p.found for p in first),
        )  # fmt: skip
        return RetrieveThenReasonResult(
            method=config.method,
            prompting=config.resolved_prompting,
            answer=state.get("answer"),
            reason=str(state.get("reason", "")),
            query=str(state["query"]),
            doc_id=doc.doc_id,
            chunk_count=doc.chunk_count,
            chunk_tokens=int(doc.split.rsplit("-", 1)[1]),
            document_tokens=doc.tokens,
            retrieval=str(state.get("retrieval", "")),
            chunks_read=list(state.get("candidates", [])),
            facts=facts,
            cited=list(state.get("cited", [])),
            shown=list(state.get("shown", [])),
            citations_inferred=bool(state.get("citations_inferred", False)),
            proposals=proposals,
            stats=stats,
            prompts=await runtime.recorded_prompts(session.ctx),
            warnings=list(state.get("warnings", [])),
        )


async def _text_of(
    store: BaseStore, namespace: tuple[str, ...], context: Context, encoding: str | None
) -> str:
    if isinstance(context, Path):
        text = read_source(context, encoding=encoding)
        if not text.strip():
            raise InputFileError(str(context), "is empty; pass a file with text")
        return text
    if isinstance(context, StoredDocument):
        return await long_doc.load_text(store, namespace, context)
    return context


__all__ = [
    "Context",
    "Extraction",
    "ExtractionStats",
    "Fact",
    "Method",
    "Prompting",
    "Proposal",
    "ReasonedAnswer",
    "RetrieveThenReason",
    "RetrieveThenReasonConfig",
    "RetrieveThenReasonInputs",
    "RetrieveThenReasonResult",
    "StoredDocument",
    "build_graph",
    "read_source",
]
