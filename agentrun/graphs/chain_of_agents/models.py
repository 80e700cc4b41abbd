"""What chain-of-agents takes and gives: its config (shared by its baselines), its inputs, the
communication units workers hand on, and its result."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentrun.agents.config import LOCAL_MODEL
from agentrun.graphs.base import WorkflowResult
from agentrun.memory.documents import StoredDocument

CuFormat = Literal["auto", "evidence", "free"]
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
    cu_format: CuFormat = Field(
        default="auto",
        description="What a worker hands on when there is a query: evidence (the chunk's "
        "sentences cited by number, so quotes are the source's own words, and the manager "
        "abstains when none supports an answer) or free (the paper's running summary). auto: "
        "evidence for the embedded model, which paraphrases what it retypes; free for others.",
    )
    focus: bool = Field(
        default=True,
        description="Evidence units: the manager sees only the quotes about what the question "
        "names, and abstains when none mentions them.",
    )
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

    def resolved(self, local: bool) -> ChainOfAgentsConfig:
        """The config with `cu_format: auto` decided for a model (`local`: the embedded one,
        whatever alias names it)."""
        if self.cu_format != "auto":
            return self
        return self.model_copy(update={"cu_format": "evidence" if local else "free"})

    @property
    def manager(self) -> str:
        return self.manager_model or self.model

    @property
    def judge(self) -> str:
        return self.judge_model or self.model


class ChainOfAgentsInputs(BaseModel):
    """A document and, to answer rather than summarize, a question about it."""

    model_config = ConfigDict(extra="forbid")

    document: str | StoredDocument = Field(
        description="The text, or a document already in the store, named by its id."
    )
    query: str | None = Field(default=None, description="The question; none summarizes.")


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


class ChainOfAgentsResult(WorkflowResult):
    """The answer (or summary), what led to it, and what the evidence budget cost."""

    output_field: ClassVar[str | None] = "answer"

    strategy: str = "coa"
    answer: str | None
    reason: str = Field(default="", description="Why this answer, or why none (abstained).")
    query: str | None
    doc_id: str
    chunk_count: int
    chunk_tokens: int
    document_tokens: int
    chosen_path: int = 0
    communication_units: list[str] = Field(default_factory=list)
    paths: list[PathResult] = Field(default_factory=list)
    prompts: list[dict[str, Any]] = Field(default_factory=list)
    dropped_quotes: int = Field(
        default=0, description="Quotes that matched nothing (invented), and invalid ids."
    )
    invalid_ids: int = Field(
        default=0, description="Sentence ids cited that the worker's chunk does not have."
    )
    restated_quotes: int = Field(
        default=0, description="Quotes not written verbatim, kept as the source text they restate."
    )
    evicted_quotes: int = Field(
        default=0,
        description="Verified quotes evicted (least about the question first) to fit cu_tokens.",
    )
    truncated_quotes: int = Field(
        default=0, description="Quotes longer than cu_tokens, cut to fit."
    )
    warnings: list[str] = Field(default_factory=list)
