"""The pipeline spec, version `agentrun/v1`: what a YAML pipeline may say, as pydantic models.

Unknown keys are rejected everywhere, so a misspelt setting is an error instead of being silently
ignored. A pipeline runs either one built-in `workflow`, or a custom graph of `nodes` joined by
`edges`. Components are named from registries (workflows, tools) whose errors list the choices;
YAML never names Python import paths. The JSON Schema that editors use comes from these models.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from agentrun.agents.config import ModelConfig
from agentrun.memory.namespaces import Namespace
from agentrun.tools.mcp_config import SERVER_NAME, McpServerSettings

SPEC_VERSION = "agentrun/v1"
NODE_ID = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSpec(ModelConfig):
    """A model alias: a LiteLLM name (or `local/smollm2`, or `fake/<name>` for tests)."""

    temperature: float = Field(default=0.0, ge=0)
    replies: str | None = Field(
        default=None,
        description="For fake/ models only: a YAML file of scripted replies (path relative to "
        "the pipeline file): a list of strings used in order, or rules "
        "`{when: <regex on the prompt>, reply: <text>}` tried in order.",
    )

    @model_validator(mode="after")
    def _replies_only_for_fakes(self) -> ModelSpec:
        if self.replies is not None and not self.model.startswith("fake/"):
            raise ValueError("`replies` is only for fake/ models")
        return self


class MemorySpec(_Spec):
    backend: Literal["chroma", "chroma-server", "memory"] = Field(
        default="chroma",
        description="chroma: the store under the data directory, or with `url` the `chroma run` "
        "server there (shared by every process and machine); chroma-server: the same as chroma "
        "with `url`; memory: in-process, gone when the run ends.",
    )
    namespace: Namespace = Field(
        default_factory=lambda: ["default"],
        description="Where this pipeline's memory lives: one label, or several from the "
        "outside in, e.g. [acme, alice] for a (pipeline, user) scope. Labels cannot contain '.' "
        "nor start with '_'. The pipeline reads and writes only this namespace (not the ones "
        "inside it, such as [acme, alice] from [acme]).",
    )
    read: list[Namespace] = Field(
        default_factory=list,
        description="Other namespaces this pipeline may read (never write), e.g. "
        "[[acme, shared]]; memory.search names one with its `namespace` argument.",
    )
    url: str | None = Field(
        default=None, description="A `chroma run` server: http://host:port (backend chroma)."
    )

    @model_validator(mode="after")
    def _url_for_server(self) -> MemorySpec:
        if self.backend == "chroma-server" and not self.url:
            raise ValueError("backend chroma-server needs `url`")
        if self.backend == "memory" and self.url:
            raise ValueError("`url` names a chroma server: use backend chroma, or drop `url`")
        return self

    @property
    def server_url(self) -> str | None:
        """The chroma server this spec names, if any."""
        return self.url if self.backend != "memory" else None


class FilesSpec(_Spec):
    roots: list[str] = Field(
        default_factory=list,
        description="Folders file tools may read besides the pipeline file's own (relative to "
        "it). Paths given to file tools are relative; they may not lead outside these folders.",
    )


class McpServerSpec(McpServerSettings):
    """An MCP server: `command` (+ `args`, `env`, `cwd`) over stdio, or a streamable HTTP
    `url` (+ `headers`). A value of `env` or `headers` written `${NAME}` is read from the
    environment when the run starts, so secrets stay out of the file."""


class InputSpec(_Spec):
    type: Literal["string", "text", "integer", "number", "boolean", "list", "video", "images"] = (
        Field(
            default="string",
            description="`text` is a long string, usually given as @file; `video` (a file) and "
            "`images` (a folder) are paths, given as @path.",
        )
    )
    description: str = ""
    default: Any = None
    required: bool = True


class AgentSpec(_Spec):
    """One model call: a prompt template, optionally with a structured output; with `tools`,
    a loop of model calls and tool calls until the model answers."""

    model: str = Field(default="default", description="A model alias from `models`.")
    system: str | None = Field(default=None, description="Template of the system message.")
    prompt: str = Field(description="Template of the user message (Jinja, sandboxed).")
    output: dict[str, Any] | None = Field(
        default=None,
        description="JSON Schema of a structured reply (type object); else the reply is text.",
    )
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0)
    tools: list[str] = Field(
        default_factory=list,
        description="Tools the model may call until it answers: registered tools "
        "(memory.search, file.read, ...), registered workflows (chain-of-agents), tools of the "
        "`mcp_servers` (files.read_file), or every tool under a prefix (file.*, files.*).",
    )
    max_steps: int = Field(
        default=8,
        ge=1,
        le=100,
        description="With tools: model calls before the step fails for want of a final answer.",
    )
    tool_timeout_s: float = Field(
        default=300.0, gt=0, description="With tools: seconds a tool call may take."
    )

    @model_validator(mode="after")
    def _tools_answer_in_text(self) -> AgentSpec:
        if self.tools and self.output is not None:
            raise ValueError("an agent with tools answers in text; drop `output`, or give the "
                             "answer a structure in a following agent step")  # fmt: skip
        return self


class ToolSpec(_Spec):
    name: str = Field(
        description="A registered tool (memory.search, file.read, ...), a registered workflow, "
        "or a tool of one of the `mcp_servers` (files.read_file)."
    )
    args: dict[str, Any] = Field(
        default_factory=dict, description="Arguments; string values are templates."
    )


def _as_text(value: Any) -> Any:
    """A plain number or boolean in YAML (`target_words: 500`) stands for its text."""
    return str(value) if isinstance(value, int | float | bool) else value


#: A workflow input: a template, or a plain value taken as its text.
InputTemplate = Annotated[
    str,
    BeforeValidator(_as_text),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}),
]


class WorkflowSpec(_Spec):
    """Run a registered workflow (`agentrun workflows ls`): its name, its config (checked
    against the workflow's own Config) and templates for its inputs."""

    type: str = Field(description="A registered workflow's name, e.g. chain-of-agents.")
    config: dict[str, Any] = Field(
        default_factory=dict, description="The workflow's settings (its Config)."
    )
    inputs: dict[str, InputTemplate] = Field(
        default_factory=dict, description="Templates for the workflow's inputs."
    )


class HumanSpec(_Spec):
    """Ask a person: the run stops here, checkpointed, until it is resumed with an answer
    (`agentrun resume THREAD --answer TEXT|@file`); the answer is this step's result."""

    question: str = Field(description="Template of the question shown to the person.")
    answer_schema: dict[str, Any] | None = Field(
        default=None,
        alias="schema",
        description="JSON Schema the answer must satisfy (an answer that does not is refused "
        "and the run keeps waiting); without it any text is taken.",
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NodeSpec(_Spec):
    """A step of a custom graph: exactly one of `agent`, `tool`, `workflow`, `human`."""

    id: str = Field(pattern=NODE_ID)
    agent: AgentSpec | None = None
    tool: ToolSpec | None = None
    workflow: WorkflowSpec | None = None
    human: HumanSpec | None = None
    approve: bool = Field(
        default=False,
        description="A person approves, edits or rejects this step's result before the run "
        "goes on; a rejection runs the step again with `review.feedback` set.",
    )
    max_reviews: int = Field(
        default=3, ge=1, le=100, description="With approve: rejections before the run fails."
    )
    for_each: str | None = Field(
        default=None,
        description="Fan out: an expression giving a list; the step runs once per item "
        "(available as `item`), results are joined into a list.",
    )
    concurrency: int = Field(default=4, ge=1, le=64, description="Items run at once (for_each).")
    max_visits: int = Field(
        default=10, ge=1, le=1000, description="Bound on how often a loop may re-enter this step."
    )

    @model_validator(mode="after")
    def _exactly_one_action(self) -> NodeSpec:
        kinds = ("agent", "tool", "workflow", "human")
        actions = [name for name in kinds if getattr(self, name) is not None]
        if len(actions) != 1:
            found = ", ".join(actions) or "none"
            raise ValueError(
                f"a node needs exactly one of agent, tool, workflow, human (found: {found})"
            )
        if (self.human is not None or self.approve) and self.for_each is not None:
            raise ValueError("a step that asks a person (human, approve) cannot fan out "
                             "(for_each); ask once, after the fan-out")  # fmt: skip
        if self.human is not None and self.approve:
            raise ValueError("a human step is its own answer: drop `approve`")
        return self


class Branch(_Spec):
    when: str | None = Field(
        default=None, description="A condition on state (expression); omitted = otherwise."
    )
    to: str


class EdgeSpec(_Spec):
    """`from` -> `to`, or `from` -> the first `switch` branch whose condition holds."""

    from_: str = Field(alias="from")
    to: str | None = None
    switch: list[Branch] | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _to_or_switch(self) -> EdgeSpec:
        if (self.to is None) == (self.switch is None):
            raise ValueError("an edge needs exactly one of `to` or `switch`")
        return self


class LimitsSpec(_Spec):
    """What a run may consume; checked on the inputs before any model call, and cost while it
    runs. `agentrun run --max-input-tokens/--max-cost` override these."""

    max_input_tokens: int | None = Field(
        default=None,
        gt=0,
        description="Refuse a run whose inputs are estimated over this many tokens on the "
        "pipeline's model (default 1,000,000).",
    )
    max_cost_usd: float | None = Field(
        default=None,
        ge=0,
        description="Refuse a run whose inputs alone are estimated to cost more (LiteLLM's "
        "prices), and stop a run once it has spent this much, resumably (default 1.0; free "
        "models cost 0).",
    )


class PipelineSpec(_Spec):
    version: Literal["agentrun/v1"] = Field(description="Spec version: agentrun/v1.")
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    models: dict[str, ModelSpec] = Field(
        default_factory=lambda: {"default": ModelSpec(model="local/smollm2")},
        description="Model aliases; `default` is used where no alias is named.",
    )
    memory: MemorySpec = Field(default_factory=MemorySpec)
    checkpoints: str | None = Field(
        default=None,
        pattern=r"^postgres(ql)?://",
        description="Where runs are checkpointed: a postgresql:// URL for a database that "
        "several machines share (without a password: use PGPASSWORD or ~/.pgpass); default "
        "$AGENTRUN_CHECKPOINT_URL, else SQLite under the data directory.",
    )
    limits: LimitsSpec = Field(default_factory=LimitsSpec)
    files: FilesSpec = Field(default_factory=FilesSpec)
    mcp_servers: dict[Annotated[str, StringConstraints(pattern=SERVER_NAME)], McpServerSpec] = (
        Field(
            default_factory=dict,
            description="Model Context Protocol servers whose tools agents may call, named "
            "`<server>.<tool>`; started when the run starts and stopped when it ends.",
        )
    )
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    workflow: WorkflowSpec | None = Field(
        default=None, description="Run one registered workflow (instead of nodes and edges)."
    )
    nodes: list[NodeSpec] | None = None
    edges: list[EdgeSpec] = Field(default_factory=list)
    start: str | None = Field(default=None, description="First node (default: the first listed).")
    outputs: dict[str, str] = Field(
        default_factory=dict, description="Named results: templates over inputs and state."
    )

    schema_: Annotated[str | None, Field(alias="$schema")] = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("checkpoints")
    @classmethod
    def _no_password_in_checkpoints(cls, url: str | None) -> str | None:
        if url and urlsplit(url).password is not None:
            raise ValueError(
                "the URL holds a password, which every run record would keep; give it in "
                "PGPASSWORD or ~/.pgpass instead"
            )
        return url

    @field_validator("nodes")
    @classmethod
    def _some_nodes(cls, nodes: list[NodeSpec] | None) -> list[NodeSpec] | None:
        if nodes is not None and not nodes:
            raise ValueError("the list is empty; a pipeline needs at least one node")
        return nodes

    @model_validator(mode="after")
    def _workflow_or_nodes(self) -> PipelineSpec:
        if (self.workflow is None) == (self.nodes is None):
            raise ValueError("a pipeline needs exactly one of `workflow` or `nodes`")
        if self.workflow is not None and self.edges:
            raise ValueError("`edges` belong to `nodes`; a `workflow` pipeline has none")
        return self


def json_schema(plugins: bool = False) -> dict[str, Any]:
    """The JSON Schema of `agentrun/v1` pipeline files: a workflow step is one of the built-in
    workflows (and, with `plugins`, those of installed plugins and registered ones), each with
    its own config and inputs."""
    from agentrun.graphs import registry

    schema = PipelineSpec.model_json_schema(by_alias=True)
    names = registry.workflow_names() if plugins else sorted(registry.BUILTIN)
    steps = []
    for name in names:
        step = registry.workflow_schema(registry.get_workflow(name))
        steps.append(_hoisted(step, schema["$defs"], prefix=_title(name)))
    schema["$defs"]["WorkflowSpec"] = {"description": WorkflowSpec.__doc__, "oneOf": steps}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://agentrun.dev/schema/agentrun-v1.json"
    schema["title"] = "agentrun pipeline (agentrun/v1)"
    return schema


def _title(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_.]", name))


def _hoisted(schema: Any, defs: dict[str, Any], prefix: str) -> Any:
    """`schema` with the definitions it carries moved into the document's `defs` (named
    `<prefix><Name>`, so two workflows' models never collide) and its references renamed."""

    def rename(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                node = {**node, "$ref": f"#/$defs/{prefix}{ref.removeprefix('#/$defs/')}"}
            return {key: rename(value) for key, value in node.items() if key != "$defs"}
        if isinstance(node, list):
            return [rename(item) for item in node]
        return node

    pending = [schema]
    while pending:  # definitions may sit at any depth (the config's own `$defs`)
        node = pending.pop()
        if isinstance(node, dict):
            for def_name, definition in (node.get("$defs") or {}).items():
                defs[f"{prefix}{def_name}"] = rename(definition)
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return rename(schema)
