"""What the HTTP API takes and returns, as pydantic models: the OpenAPI page is made from these,
and `agentrun.Client` reads its answers with them (this module needs only pydantic)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentrun.graphs.events import PendingQuestion

RunStatus = Literal["created", "running", "waiting", "done", "failed", "interrupted"]
#: Statuses a run stays in until someone resumes it (or for good, for `done`).
SETTLED: tuple[str, ...] = ("waiting", "done", "failed", "interrupted")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunRequest(_Body):
    """Start a run of one served pipeline, or of one registered workflow."""

    pipeline: str | None = Field(
        default=None, description="A pipeline's `name` (see GET /pipelines).", examples=["brief"]
    )
    workflow: str | None = Field(
        default=None,
        description="A registered workflow's name (see GET /workflows), instead of a pipeline.",
        examples=["chain-of-agents"],
    )
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description="The pipeline's (or workflow's) inputs by name; long texts inline.",
        examples=[{"topic": "lighthouses"}],
    )
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="A workflow's config values (its Config schema, GET /workflows); workflows "
        "only.",
        examples=[{"paths": 2}],
    )
    stream_text: bool = Field(
        default=False, description="Send model text as `token` events while it streams."
    )
    cache: bool | None = Field(
        default=None, description="Reuse cached replies of identical calls (default: yes)."
    )
    max_cost_usd: float | None = Field(
        default=None, ge=0, description="Stop, resumably, once the run has cost this much."
    )
    max_input_tokens: int | None = Field(
        default=None, gt=0, description="Refuse inputs estimated over this many tokens."
    )

    @model_validator(mode="after")
    def _one_target(self) -> RunRequest:
        if (self.pipeline is None) == (self.workflow is None):
            raise ValueError("name a `pipeline` or a `workflow` (one of them)")
        if self.config and self.workflow is None:
            raise ValueError("`config` is for workflows; a pipeline's settings are in its file")
        return self


class ResumeRequest(_Body):
    """Continue a run; `answer` answers the question it waits on (text, or any JSON value)."""

    answer: Any = Field(
        default=None,
        description="The answer to the pending question (omit it for a failed or stopped "
        "run). For a review: `approve`, `reject: <reason>`, or the edited value.",
        examples=["approve"],
    )


class RunState(BaseModel):
    """A run as the server knows it: status, the question it waits on, its outputs."""

    id: str
    kind: Literal["pipeline", "workflow"]
    name: str
    status: RunStatus
    created: float
    started: float | None = None
    finished: float | None = None
    error: str | None = None
    question: PendingQuestion | None = Field(
        default=None, description="Set while the run waits: answer it with POST .../resume."
    )
    outputs: dict[str, Any] | None = Field(
        default=None, description="The run's outputs once it is done."
    )
    usage: dict[str, Any] = Field(default_factory=dict)
    cost_usd: float = 0.0
    active: bool = Field(default=False, description="The run is executing on the server now.")
    events_after: int = Field(
        default=0,
        description="Where this step of the run starts in its event stream: pass it as "
        "`after` to GET .../events to see only what follows.",
    )

    @property
    def settled(self) -> bool:
        """The run stopped: done, waiting for an answer, failed or interrupted."""
        return self.status in SETTLED and not self.active


class InputInfo(BaseModel):
    type: str
    required: bool
    default: Any = None
    description: str = ""


class PipelineInfo(BaseModel):
    name: str
    description: str = ""
    inputs: dict[str, InputInfo]


class WorkflowInfo(BaseModel):
    name: str
    description: str = ""
    source: str
    inputs: dict[str, Any] = Field(description="JSON Schema of the workflow's inputs.")
    config: dict[str, Any] = Field(description="JSON Schema of the workflow's config.")


class SearchHitInfo(BaseModel):
    score: float
    text: str
    source: str
    doc_id: str


class DocumentInfoOut(BaseModel):
    doc_id: str
    name: str
    chunks: int
    tokens: int


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    active_runs: int
    max_runs: int


__all__ = [
    "SETTLED",
    "DocumentInfoOut",
    "Health",
    "InputInfo",
    "PipelineInfo",
    "ResumeRequest",
    "RunRequest",
    "RunState",
    "RunStatus",
    "SearchHitInfo",
    "WorkflowInfo",
]
