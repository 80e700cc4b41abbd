"""A validated pipeline spec compiled into a LangGraph graph.

Each spec node becomes one graph node that renders its templates against `inputs` and the
results so far (`state.<node id>`), then runs its action: a model call (checkpointed task), or
with `tools` the agent loop (`agentrun.graphs.agent_loop`); a registered tool (a checkpointed
task too, sending a `ToolCalled` event); a registered workflow (which runs its own resumable
graph; its events are passed on, its questions relayed), or a question to a person (`human`).
`approve: true` has a person approve, edit or reject a step's result. `for_each` fans a node
out over a list with a concurrency limit and joins the results into a list. Edges are
sequential or conditional (`switch`), and `max_visits` bounds loops.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, TypedDict

from jsonschema import Draft202012Validator
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, RootModel, ValidationError, model_validator

from agentrun.agents.ledger import Usage
from agentrun.agents.messages import Message
from agentrun.errors import RunFailedError, UsageError
from agentrun.graphs import human, registry, runtime
from agentrun.graphs.agent_loop import agent_loop, run_tool, tool_context
from agentrun.graphs.base import NO_ANSWER, Workflow, WorkflowResult, pass_on
from agentrun.graphs.runtime import WorkflowContext, add_usage, context, usage_of, usage_update
from agentrun.graphs.workflow_tool import nested_thread, select_tools
from agentrun.pipeline import media, templates
from agentrun.pipeline.blobs import BlobStore
from agentrun.pipeline.checks import graph_nodes, start_node
from agentrun.pipeline.load import describe
from agentrun.pipeline.spec import AgentSpec, NodeSpec, PipelineSpec
from agentrun.tools.context import ToolContext
from agentrun.tools.function import Tool
from agentrun.tools.sandbox import FileRoots

#: Keys of a workflow's result that stay in the store rather than in graph state.
HEAVY_RESULT_KEYS = ("prompts",)


def merge_results(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    return {**(left or {}), **(right or {})}


def count_visits(left: dict[str, int] | None, right: dict[str, int] | None) -> dict[str, int]:
    total = dict(left or {})
    for name, count in (right or {}).items():
        total[name] = total.get(name, 0) + count
    return total


class PipelineState(TypedDict, total=False):
    inputs: dict[str, Any]
    results: Annotated[dict[str, Any], merge_results]
    visits: Annotated[dict[str, int], count_visits]
    usage: Annotated[dict[str, Any], add_usage]


def output_model(schema: dict[str, Any], name: str) -> type[BaseModel]:
    """A pydantic model that validates replies against a spec's JSON Schema (and sends it)."""
    validator = Draft202012Validator(schema)

    class Output(RootModel[Any]):
        @model_validator(mode="after")
        def _matches_schema(self) -> Output:
            errors = sorted(validator.iter_errors(self.root), key=lambda e: list(e.path))
            if errors:
                first = errors[0]
                where = "/".join(str(p) for p in first.path) or "(root)"
                raise ValueError(f"{where}: {first.message}")
            return self

        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return schema

    Output.__name__ = Output.__qualname__ = name
    return Output


def _render_value(value: Any, variables: Mapping[str, Any], name: str) -> Any:
    if isinstance(value, str):
        return templates.render(value, variables, name=name)
    if isinstance(value, dict):
        return {k: _render_value(v, variables, f"{name}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_render_value(v, variables, f"{name}[{i}]") for i, v in enumerate(value)]
    return value


class OpaqueStep:
    """A node's step as a callable object: LangGraph looks for subgraphs in a plain function's
    closure by reading its bytecode, at every compile (a batch compiles once per item), and a
    pipeline step holds none (a workflow step runs its graph on a thread of its own)."""

    def __init__(self, step: Callable[[PipelineState], Awaitable[dict[str, Any]]]) -> None:
        self._step = step

    async def __call__(self, state: PipelineState) -> dict[str, Any]:
        return await self._step(state)


class PipelineGraph:
    """Builds the graph of a spec; file tools read only inside `files`, and `blobs` holds the
    long inputs that state keeps by reference."""

    def __init__(
        self, spec: PipelineSpec, files: FileRoots, thread_id: str, blobs: BlobStore | None = None
    ) -> None:
        self.spec = spec
        self.files = files
        self.thread_id = thread_id
        self.blobs = blobs
        #: The tools of the run's MCP servers, once they are started (`bind_tools`).
        self.mcp_tools: list[Tool] = []
        self._agent_tools: dict[str, list[Tool]] = {}

    def bind_tools(self, mcp_tools: list[Tool]) -> None:
        """Resolve every agent's tools, with the tools the MCP servers listed at run start; a
        name no server has is a `UsageError` naming the step."""
        self.mcp_tools = list(mcp_tools)
        for node in graph_nodes(self.spec):
            if node.agent is not None and node.agent.tools:
                self._agent_tools[node.id] = self._select(node, node.agent.tools)
            if node.tool is not None:
                self._select(node, [node.tool.name])

    def _select(self, node: NodeSpec, names: list[str]) -> list[Tool]:
        try:
            return select_tools(names, self.mcp_tools)
        except UsageError as exc:
            raise exc.at(f"node {node.id}") from None

    def tool_context(self, label: str, model: str | None = None) -> ToolContext:
        """What this run's tools may use: its store and namespace (and those `memory.read`
        lists), its allowed folders, its gateway and checkpointer."""
        readable = [tuple(labels) for labels in self.spec.memory.read]
        return tool_context(context(), node=label, files=self.files, readable=readable,
                            model=model)  # fmt: skip

    def variables(
        self, state: Mapping[str, Any], item: Any = None, has_item: bool = False
    ) -> dict[str, Any]:
        results = state.get("results") or {}
        inputs = state.get("inputs") or {}
        variables: dict[str, Any] = {
            "inputs": self.blobs.resolve(inputs) if self.blobs is not None else inputs,
            "state": results,
            "visits": {node.id: 0 for node in graph_nodes(self.spec)} | (state.get("visits") or {}),
        }
        if has_item:
            variables["item"] = item
        return variables

    # --- actions -----------------------------------------------------------------------------

    def _model_options(self, agent: AgentSpec) -> dict[str, Any]:
        model = self.spec.models.get(agent.model)
        temperature = agent.temperature if agent.temperature is not None else (
            model.temperature if model else 0.0
        )  # fmt: skip
        options: dict[str, Any] = {"temperature": temperature}
        if agent.max_tokens:
            options["max_tokens"] = agent.max_tokens
        return options

    async def _agent(
        self, node: NodeSpec, variables: dict[str, Any], label: str
    ) -> tuple[Any, Usage]:
        agent = node.agent
        assert agent is not None
        messages: list[Message] = []
        if agent.system:
            system = templates.render(agent.system, variables, name=f"{node.id}.agent.system")
            messages.append({"role": "system", "content": system})
        prompt = templates.render(agent.prompt, variables, name=f"{node.id}.agent.prompt")
        messages.append({"role": "user", "content": prompt})
        options = self._model_options(agent)
        if agent.tools:
            tools = self._agent_tools.get(node.id) or self._select(node, agent.tools)
            answer = await agent_loop(
                agent.model, messages, tools, node=label,
                context=self.tool_context(label, agent.model), max_steps=agent.max_steps,
                tool_timeout_s=agent.tool_timeout_s, **options,
            )  # fmt: skip
            return answer.text, answer.usage
        if agent.output is None:
            completion = await runtime.complete(agent.model, messages, node=label, **options)
            return completion.text, usage_of(completion)
        output = output_model(agent.output, f"{node.id}_output")
        reply = await runtime.structured(agent.model, messages, output, node=label, **options)
        if reply.value is None:
            raise RunFailedError(f"node {node.id}: {reply.error}")
        return reply.value.root, reply.usage  # type: ignore[attr-defined]

    async def _tool(
        self, node: NodeSpec, variables: dict[str, Any], label: str
    ) -> tuple[Any, Usage]:
        spec = node.tool
        assert spec is not None
        [tool] = self._select(node, [spec.name])
        rendered = _render_value(spec.args, variables, f"{node.id}.tool.args")
        where = f"node {node.id}: {spec.name}"
        model = tool.arguments_model
        if model is not None:  # the spec's own words for a bad argument, before the call
            try:
                model.model_validate(rendered)
            except ValidationError as exc:
                problems = "; ".join(describe(error, model) for error in exc.errors())
                raise UsageError(f"{where} argument {problems}") from None
        try:
            outcome = await run_tool(tool, rendered, self.tool_context(label), key=label)
        except UsageError as exc:  # a refused path or namespace: say which step asked
            raise exc.at(where) from None
        return outcome.value, outcome.usage

    async def _workflow(
        self, node: NodeSpec, variables: dict[str, Any], label: str
    ) -> tuple[Any, Usage]:
        step = node.workflow
        assert step is not None
        workflow_class = registry.get_workflow(step.type)
        inputs = {
            name: templates.render(value, variables, name=f"{node.id}.workflow.inputs.{name}")
            for name, value in step.inputs.items()
        }
        config = dict(step.config)
        if "model" in workflow_class.Config.model_fields and "default" in self.spec.models:
            config.setdefault("model", "default")  # the pipeline's default model alias
        ctx = context()
        workflow = workflow_class(
            config, gateway=ctx.gateway, store=ctx.store, checkpointer=ctx.checkpointer,
            namespace=ctx.namespace, stream_text=ctx.stream_text, data_dir=ctx.data_dir,
        )  # fmt: skip
        thread_id = nested_thread(self.thread_id, label)
        try:
            trusted = media.caller_paths(self.spec.inputs, variables["inputs"])
            inputs = media.checked_media_inputs(workflow.Inputs, inputs, trusted, self.files)
            result = await self._run_workflow(workflow, inputs, thread_id, label)
        except UsageError as exc:  # its inputs, in the workflow's words: say which step
            raise UsageError(self._named(node, workflow.name, str(exc))) from exc
        data = result.model_dump(mode="json", exclude={"interrupt", "usage_by_node"})
        usage = Usage.from_dict({**result.usage, "by_node": result.usage_by_node}).under(label)
        return {k: v for k, v in data.items() if k not in HEAVY_RESULT_KEYS}, usage

    async def _run_workflow(
        self, workflow: Workflow[Any, Any, Any], inputs: dict[str, str], thread_id: str, label: str
    ) -> WorkflowResult:
        """Run (or continue) a workflow on its own thread, its events passed on under `label`;
        when it asks a person, the question is relayed and the pipeline waits too."""
        saver = context().checkpointer
        started = saver is not None and await runtime.has_checkpoint(saver, thread_id)
        while True:
            if not started:
                given = registry.given_inputs(type(workflow), inputs)
                events = workflow.astream(thread_id=thread_id, **given)
                started = True
            else:
                pending = await workflow.apending(thread_id)
                answer = NO_ANSWER
                if pending is not None:
                    answer = human.relay(pending, label)
                    if answer is human.NOT_FOR_IT:
                        continue  # that reply went to an earlier question; ask on
                events = workflow.astream_resume(thread_id, answer=answer)
            result = await pass_on(events, label)
            if result.interrupt is None:
                return result

    def _named(self, node: NodeSpec, workflow: str, message: str) -> str:
        """`message` prefixed with the node (custom graphs) and the workflow it came from."""
        if not message.startswith(f"workflow {workflow}:"):
            message = f"workflow {workflow}: {message}"
        return f"node {node.id}: {message}" if self.spec.nodes is not None else message

    async def _act(
        self, node: NodeSpec, variables: dict[str, Any], label: str
    ) -> tuple[Any, Usage]:
        if node.agent is not None:
            return await self._agent(node, variables, label)
        if node.tool is not None:
            return await self._tool(node, variables, label)
        if node.human is not None:
            question = templates.render(node.human.question, variables, name=f"{node.id}.human")
            return human.ask(question, schema=node.human.answer_schema), Usage()
        return await self._workflow(node, variables, label)

    async def _approved(
        self, node: NodeSpec, variables: dict[str, Any], value: Any, usage: Usage
    ) -> tuple[Any, Usage]:
        """`value` once a person approves it (or their edit of it); each rejection runs the
        step again with `review.feedback`, up to `max_reviews` times."""
        for _ in range(node.max_reviews):
            outcome = human.review(f"Approve the result of {node.id}?", value,
                                   schema=self._edit_schema(node))  # fmt: skip
            if outcome.action == "approve":
                return value, usage
            if outcome.action == "edit":
                return outcome.value, usage
            review = {"feedback": outcome.reason, "rejected": value}
            value, more = await self._act(node, {**variables, "review": review}, node.id)
            usage = usage + more
        raise RunFailedError(
            f"node {node.id}: its result was rejected {node.max_reviews} times (max_reviews)"
        )

    @staticmethod
    def _edit_schema(node: NodeSpec) -> dict[str, Any] | None:
        """What an edit of a step's result must be: its output schema, or text for a model."""
        if node.agent is not None:
            return node.agent.output or {"type": "string"}
        return None

    # --- graph -------------------------------------------------------------------------------

    def _node_function(self, node: NodeSpec) -> Any:
        async def run(state: PipelineState) -> dict[str, Any]:
            visits = (state.get("visits") or {}).get(node.id, 0)
            if visits >= node.max_visits:
                raise RunFailedError(
                    f"node {node.id} ran {visits} times (max_visits); the loop did not end"
                )
            if node.for_each is None:
                variables = self.variables(state)
                if node.approve:
                    variables["review"] = {"feedback": "", "rejected": None}
                value, usage = await self._act(node, variables, node.id)
                if node.approve:
                    value, usage = await self._approved(node, variables, value, usage)
                return {
                    "results": {node.id: value},
                    "visits": {node.id: 1},
                    "usage": usage_update(usage),
                }
            items = templates.evaluate(
                node.for_each, self.variables(state), name=f"{node.id}.for_each"
            )
            if not isinstance(items, list | tuple):
                raise RunFailedError(
                    f"node {node.id}: for_each gave {type(items).__name__}, expected a list"
                )
            gate = asyncio.Semaphore(node.concurrency)
            failed = False

            async def one(index: int, item: Any) -> tuple[Any, Usage]:
                nonlocal failed
                async with gate:
                    if failed:  # the node fails with a sibling: send no call that resuming repeats
                        raise asyncio.CancelledError
                    variables = self.variables(state, item, has_item=True)
                    try:
                        return await self._act(node, variables, f"{node.id}[{index}]")
                    except Exception:
                        failed = True
                        raise

            done = await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
            return {
                "results": {node.id: [value for value, _ in done]},
                "visits": {node.id: 1},
                "usage": usage_update(*(usage for _, usage in done)),
            }

        return run

    def _router(self, node_id: str) -> Any:
        edge = next(e for e in self.spec.edges if e.from_ == node_id)
        branches = edge.switch or []

        def route(state: PipelineState) -> str:
            variables = self.variables(state)
            for index, branch in enumerate(branches):
                if branch.when is None or templates.evaluate(
                    branch.when, variables, name=f"edge {node_id} branch {index}"
                ):
                    return branch.to
            return END

        return route

    def build(self) -> StateGraph[PipelineState, WorkflowContext, Any, Any]:
        graph: StateGraph[PipelineState, WorkflowContext, Any, Any] = StateGraph(
            PipelineState, context_schema=WorkflowContext
        )
        for node in graph_nodes(self.spec):
            graph.add_node(node.id, OpaqueStep(self._node_function(node)))
        graph.add_edge(START, start_node(self.spec))
        with_edges = set()
        for edge in self.spec.edges:
            with_edges.add(edge.from_)
            if edge.to is not None:
                graph.add_edge(edge.from_, edge.to)
            else:
                targets = [b.to for b in edge.switch or []]
                graph.add_conditional_edges(edge.from_, self._router(edge.from_), [*targets, END])
        for node in graph_nodes(self.spec):
            if node.id not in with_edges:
                graph.add_edge(node.id, END)
        return graph

    def outputs(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Outputs see what every template sees, and `result` in a workflow pipeline."""
        results = state.get("results") or {}
        variables = self.variables(state)
        if self.spec.workflow is not None:
            variables["result"] = results.get("result")
        if not self.spec.outputs:
            return dict(results)
        return {
            name: templates.render(source, variables, name=f"outputs.{name}")
            for name, source in self.spec.outputs.items()
        }


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)
