"""Settings, inputs, structured outputs and results of retrieve-then-reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentrun.agents.config import LOCAL_MODEL
from agentrun.graphs.base import WorkflowResult
from agentrun.graphs.long_doc import StoredDocument

Method = Literal["verified", "unverified", "direct"]
Prompting = Literal["auto", "structured", "quotes", "references", "answer-span"]
#: Where a proposal came from: the first extraction, the re-ask, or the paraphrase mapping.
Stage = Literal["extract", "reask", "paraphrase"]
#: What is answered from: a text, a text file, or a document already in the store.
Context = str | Path | StoredDocument


class RetrieveThenReasonConfig(BaseModel):
    """Settings of a retrieve-then-reason run."""

    model_config = ConfigDict(extra="forbid")

    model: str = LOCAL_MODEL
    reasoner_model: str | None = Field(default=None, description="Defaults to `model`.")
    method: Method = Field(
        default="verified",
        description="verified; or a baseline: unverified (two-stage prompting), direct.",
    )
    reason_over: Literal["facts", "facts+context"] = "facts"
    prompting: Prompting = Field(
        default="auto", description="auto: references for local/smollm2, else structured."
    )
    focus: bool = Field(
        default=True,
        description="Reason only over the facts about what the question names (its capitalized "
        "words, and the names those facts link to); abstain when no fact mentions them.",
    )
    map_paraphrases: bool | None = Field(
        default=None,
        description="Map a quote still not found after the re-ask to the sentence of its chunk "
        "it restates (kept verbatim from the source, counted apart). None: on for "
        "local/smollm2 only, which cannot copy sentences.",
    )
    chunk_tokens: int | None = Field(default=None, gt=0, description="Cap on chunk size.")
    local_chunk_cap: int = Field(default=512, gt=0, description="Default chunk for local models.")
    chunk_cap: int = Field(default=4096, gt=0, description="Default chunk for other models.")
    top_k: int = Field(default=8, gt=0, description="Chunks retrieved beyond the window.")
    concurrency: int = Field(default=4, gt=0, description="Extraction calls at once.")
    fuzzy_threshold: float = Field(default=90.0, ge=0, le=100)
    reask: bool = Field(default=True, description="Re-ask once for quotes not found.")
    extract_max_tokens: int = Field(default=256, gt=0)
    answer_max_tokens: int = Field(default=128, gt=0)
    temperature: float = Field(default=0.0, ge=0)

    @property
    def reasoner(self) -> str:
        return self.reasoner_model or self.model

    def resolved(self, local: bool) -> RetrieveThenReasonConfig:
        """The settings left to `auto` decided for a model (`local`: the embedded one, whatever
        alias names it)."""
        update: dict[str, object] = {}
        if self.prompting == "auto":
            update["prompting"] = "references" if local else "structured"
        if self.map_paraphrases is None:
            update["map_paraphrases"] = local
        return self.model_copy(update=update) if update else self

    @property
    def resolved_prompting(self) -> Literal["structured", "quotes", "references", "answer-span"]:
        if self.prompting != "auto":
            return self.prompting
        return "references" if self.model == LOCAL_MODEL else "structured"

    @property
    def paraphrases(self) -> bool:
        if self.map_paraphrases is not None:
            return self.map_paraphrases
        return self.model == LOCAL_MODEL


class RetrieveThenReasonInputs(BaseModel):
    """What a run answers (`query`) and from what (`context`)."""

    model_config = ConfigDict(extra="forbid")

    context: Context = Field(
        description="The text; a Path to a text file (read as UTF-8, else in `encoding` or the "
        "one it declares); or a StoredDocument (an ingested document's id)."
    )
    query: str = Field(description="The question to answer.")
    encoding: str | None = Field(
        default=None, description="Encoding of a context file that is not UTF-8."
    )

    @field_validator("query")
    @classmethod
    def _asked(cls, query: str) -> str:
        if not query.strip():
            raise ValueError("the question is empty; pass the question to answer")
        return query


class ExtractedFact(BaseModel):
    source: str = Field(description="The passage id, e.g. c3.")
    quote: str = Field(description="A sentence copied exactly from that passage.")


class Extraction(BaseModel):
    """Stage 1 structured output."""

    facts: list[ExtractedFact] = Field(default_factory=list)


class ReasonedAnswer(BaseModel):
    """Stage 2 structured output."""

    answer: str | None = Field(description="A short answer, or null if the facts do not say.")
    facts: list[int] = Field(default_factory=list, description="Ids of the facts used.")
    reason: str = Field(default="", description="One sentence: why this answer, or why none.")


class Proposal(BaseModel):
    """One raw quote the model proposed, and whether it was found in the source. A near match
    that negates differently is not found but keeps the offsets of the source text it matched
    (`match="paraphrase"`). A sentence cited by id (`sentence`) is its source text, verbatim
    (`match="reference"`), or not found when the passage has no such sentence."""

    chunk: int
    text: str
    found: bool
    stage: Stage = "extract"
    sentence: int | None = None
    start: int | None = None
    end: int | None = None
    match: str | None = None
    spans_chunks: bool = False


class Fact(BaseModel):
    """A fact the reasoner saw. Verified facts have offsets: `document[start:end] == text`."""

    id: int
    source: int
    text: str
    start: int | None = None
    end: int | None = None
    match: str | None = None
    stage: Stage = "extract"
    spans_chunks: bool = False


class ExtractionStats(BaseModel):
    """What happened to the quotes of the first extraction."""

    proposed: int = Field(default=0, description="Quotes the first extraction proposed.")
    not_found: int = Field(
        default=0, description="Of those, not in the source (hallucinated), or negated."
    )
    reasked: int = Field(default=0, description="Quotes named in a re-ask.")
    recovered: int = Field(default=0, description="Replaced by a quote the re-ask got right.")
    paraphrased: int = Field(
        default=0, description="Kept as the source text they restate (or negate)."
    )
    dropped: int = Field(default=0, description="Not found, not recovered, not mapped.")
    invalid_ids: int = Field(
        default=0, description="Sentence ids cited that the passage does not have (not found)."
    )
    kept: int = Field(default=0, description="Facts the reasoner saw.")

    @property
    def hallucinated_rate(self) -> float | None:
        return self.not_found / self.proposed if self.proposed else None


class RetrieveThenReasonResult(WorkflowResult):
    """The answer (None: abstained, `reason` says why), the facts it stands on, and how every
    quote fared."""

    output_field = "answer"

    method: str
    prompting: str
    answer: str | None
    reason: str
    query: str
    doc_id: str
    chunk_count: int
    chunk_tokens: int
    document_tokens: int
    retrieval: str
    chunks_read: list[int]
    facts: list[Fact] = Field(default_factory=list)
    cited: list[int] = Field(default_factory=list)
    shown: list[int] = Field(
        default_factory=list, description="Ids of the facts the reasoner saw (`focus`)."
    )
    citations_inferred: bool = False
    proposals: list[Proposal] = Field(default_factory=list)
    stats: ExtractionStats = Field(default_factory=ExtractionStats)
    prompts: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
