"""Checks a pipeline must pass before it runs, beyond its schema.

References resolve (models, nodes, tools, workflow inputs, `inputs.x` and `state.y` in
templates), every node is reachable from the start, every loop has an exit, and every template
and expression uses only allowed constructs. Each problem names the file, line and column.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jinja2 import nodes as jinja_nodes
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, TypeAdapter, ValidationError

from agentrun.errors import ConfigError, FileOutsideRootsError, SpecError, UsageError
from agentrun.graphs import registry
from agentrun.graphs.workflow_tool import is_pattern, known_names, lookup_tool
from agentrun.memory.namespaces import Namespace, readable_namespace
from agentrun.pipeline import templates
from agentrun.pipeline.fakes import load_script
from agentrun.pipeline.load import PathKey, SourceMap, describe
from agentrun.pipeline.spec import NodeSpec, PipelineSpec
from agentrun.tools.registry import tool_names, unknown_tool
from agentrun.tools.sandbox import FileRoots

MODEL_FIELDS = ("model", "manager_model", "judge_model")
#: jsonschema checks and validates recursively, several stack frames per level of a schema.
MAX_SCHEMA_DEPTH = 64


def workflow_node_id(spec: PipelineSpec) -> str:
    """The single step of a `workflow:` pipeline is called `result`."""
    return "result"


def graph_nodes(spec: PipelineSpec) -> list[NodeSpec]:
    """The steps of the pipeline; a `workflow:` pipeline is one `result` step."""
    if spec.nodes is not None:
        return spec.nodes
    return [NodeSpec(id=workflow_node_id(spec), workflow=spec.workflow)]


def successors(spec: PipelineSpec) -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {node.id: [] for node in graph_nodes(spec)}
    for edge in spec.edges:
        targets = [edge.to] if edge.to else [b.to for b in edge.switch or []]
        graph.setdefault(edge.from_, []).extend(t for t in targets if t)
    return graph


def start_node(spec: PipelineSpec) -> str:
    return spec.start or graph_nodes(spec)[0].id


class _Checker:
    def __init__(self, spec: PipelineSpec, source: SourceMap, base_dir: Path) -> None:
        self.spec = spec
        self.source = source
        self.base_dir = base_dir
        self.problems: list[str] = []
        self.node_ids = [node.id for node in graph_nodes(spec)]

    def report(self, path: PathKey, message: str, at: tuple[str, int, int] | None = None) -> None:
        """Add a problem at `path`; `at` (text, line, column) points inside a block scalar."""
        location = self.source.in_block(path, *at) if at is not None else None
        if location is None:
            location = self.source.locate(list(path))
        self.problems.append(f"{self.source.where(location)}: {message}")

    # --- references --------------------------------------------------------------------------

    def models(self) -> None:
        for alias, model in self.spec.models.items():
            if model.api_key is not None:
                message = "API keys do not belong in files; set api_key_env to the variable's name"
                self.report(("models", alias, "api_key"), message)
            if model.replies:
                self._replies(("models", alias, "replies"), model.replies)
            for fallback in model.fallbacks:
                self._model_ref(("models", alias, "fallbacks"), fallback)

    def _replies(self, path: PathKey, replies: str) -> None:
        try:
            file = FileRoots.under(self.base_dir, self.spec.files.roots).resolve(replies)
        except FileOutsideRootsError as exc:
            self.report(path, f"replies file: {exc}")
            return
        if not file.is_file():
            message = f"replies file {replies!r} not found next to the pipeline"
            self.report(path, f"{message} ({self.base_dir})")
            return
        try:
            load_script(file)
        except SpecError as exc:
            self.report(path, f"bad replies file: {exc}")

    def files(self) -> None:
        for index, root in enumerate(self.spec.files.roots):
            if not (self.base_dir / root).is_dir():
                self.report(("files", "roots", index), f"folder {root!r} not found (relative to "
                            f"{self.base_dir}); name an existing folder")  # fmt: skip

    def _model_ref(self, path: PathKey, name: str) -> None:
        if name in self.spec.models or "/" in name:
            return
        known = ", ".join(sorted(self.spec.models)) or "none"
        self.report(path, f"unknown model {name!r}: not an alias in `models` ({known}) and not a "
                    "LiteLLM name like openai/gpt-4o-mini")  # fmt: skip

    def node_refs(self) -> None:
        seen: set[str] = set()
        for index, node in enumerate(graph_nodes(self.spec)):
            path: PathKey = ("nodes", index) if self.spec.nodes is not None else ("workflow",)
            if node.id in seen:
                self.report((*path, "id"), f"duplicate node id {node.id!r}")
            seen.add(node.id)
            if node.agent is not None:
                self._model_ref((*path, "agent", "model"), node.agent.model)
                self._agent_tools(path, node.agent.tools)
                if node.agent.output is not None:
                    self._output_schema((*path, "agent", "output"), node.agent.output)
            if node.tool is not None:
                self._tool(path, node)
            if node.workflow is not None:
                self._workflow(path if self.spec.nodes is not None else ("workflow",), node)
            if node.human is not None and node.human.answer_schema is not None:
                self._json_schema((*path, "human", "schema"), node.human.answer_schema, "answer")
        for field in ("start",):
            value = getattr(self.spec, field)
            if value is not None and value not in self.node_ids:
                self.report((field,), self._unknown_node(value))
        outgoing: set[str] = set()
        for index, edge in enumerate(self.spec.edges):
            if edge.from_ not in self.node_ids:
                self.report(("edges", index, "from"), self._unknown_node(edge.from_))
            if edge.from_ in outgoing:
                self.report(("edges", index, "from"), f"node {edge.from_!r} already has an "
                            "outgoing edge; use one edge with `switch` to branch")  # fmt: skip
            outgoing.add(edge.from_)
            targets = [(("edges", index, "to"), edge.to)] if edge.to else [
                (("edges", index, "switch", i, "to"), b.to) for i, b in enumerate(edge.switch or [])
            ]  # fmt: skip
            for target_path, target in targets:
                if target not in self.node_ids:
                    self.report(target_path, self._unknown_node(target))
            for branch_index, branch in enumerate(edge.switch or []):
                if branch.when is not None:
                    self._expression(("edges", index, "switch", branch_index, "when"), branch.when)

    def _unknown_node(self, name: str, where: str = "") -> str:
        """An unknown node name, with the nodes there are and the closest of them."""
        close = difflib.get_close_matches(name, list(self.node_ids), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "use one of them"
        known = ", ".join(self.node_ids) or "none"
        return f"unknown node {name!r}{f' in {where}' if where else ''}; nodes: {known}; {hint}"

    def _json_schema(self, path: PathKey, schema: dict[str, Any], what: str) -> bool:
        """Whether `schema` is a valid JSON Schema of bounded depth (else reported)."""
        too_deep = _past_depth(schema, MAX_SCHEMA_DEPTH)
        if too_deep is not None:
            self.report((*path, *too_deep), f"the {what} schema nests deeper than "
                        f"{MAX_SCHEMA_DEPTH} levels; flatten it")  # fmt: skip
            return False
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            self.report(path, f"not a valid JSON Schema: {exc.message}")
            return False
        return True

    def _output_schema(self, path: PathKey, schema: dict[str, Any]) -> None:
        if not self._json_schema(path, schema, "output"):
            return
        if schema.get("type") != "object":
            self.report(path, "a structured output must be a JSON Schema of `type: object`")

    def _tool(self, path: PathKey, node: NodeSpec) -> None:
        assert node.tool is not None
        name = node.tool.name
        if self._on_mcp_server(name):
            return  # the server lists its tools when the run starts
        tool = lookup_tool(name)
        if tool is None:
            self.report((*path, "tool", "name"), self._unknown_tool(name))
            return
        model = tool.arguments_model
        if model is None:
            return
        allowed = list(model.model_fields)
        for arg in node.tool.args:
            if arg not in allowed:
                self.report((*path, "tool", "args", arg), f"tool {tool.name} has no argument "
                            f"{arg!r}; arguments: {', '.join(allowed)}")  # fmt: skip
        required = [n for n, f in model.model_fields.items() if f.is_required()]
        for arg in required:
            if arg not in node.tool.args:
                self.report((*path, "tool", "args"), f"tool {tool.name} needs argument {arg!r}")
        literal = {n: v for n, v in node.tool.args.items() if n in allowed and not _templated(v)}
        self._literal_args((*path, "tool", "args"), tool.name, model, literal)

    def _agent_tools(self, path: PathKey, names: list[str]) -> None:
        """Each tool an agent names exists, or lies on one of the spec's MCP servers (whose
        tools are checked when the run starts them)."""
        for index, name in enumerate(names):
            where = (*path, "agent", "tools", index)
            if names.index(name) != index:
                self.report(where, f"tool {name!r} is named twice")
            elif self._on_mcp_server(name):
                continue
            elif is_pattern(name):
                prefix = name.removesuffix("*")
                if not any(known.startswith(prefix) for known in tool_names()):
                    self.report(where, f"tool pattern {name!r} matches no tool and no server in "
                                f"mcp_servers ({self._choices()})")  # fmt: skip
            elif lookup_tool(name) is None:
                self.report(where, self._unknown_tool(name))

    def _on_mcp_server(self, name: str) -> bool:
        server, dot, _ = name.partition(".")
        return bool(dot) and server in self.spec.mcp_servers

    def _choices(self) -> str:
        servers = [f"{server}.*" for server in self.spec.mcp_servers]
        return f"tools: {', '.join([*known_names(), *servers])}"

    def _unknown_tool(self, name: str) -> str:
        servers = [f"{server}.*" for server in self.spec.mcp_servers]
        return unknown_tool(name, also=[*known_names(), *servers])

    def _literal_args(
        self, path: PathKey, tool: str, model: type[BaseModel], literal: dict[str, Any]
    ) -> None:
        """Arguments written without templates are checked now, as the run would check them;
        a `namespace` must be one the pipeline may read."""
        try:
            model.model_validate(literal)
        except ValidationError as exc:
            for error in exc.errors():
                if error["type"] != "missing":
                    where = (*path, *error["loc"][:1])
                    self.report(where, f"tool {tool} argument {describe(error, model)}")
            if any(error["loc"][:1] == ("namespace",) for error in exc.errors()):
                return
        if literal.get("namespace") is not None:
            memory = self.spec.memory
            try:
                labels = TypeAdapter(Namespace).validate_python(literal["namespace"])
                readable_namespace(labels, memory.namespace, memory.read)
            except UsageError as exc:
                self.report((*path, "namespace"), f"tool {tool} argument namespace: {exc}")

    def _workflow(self, path: PathKey, node: NodeSpec) -> None:
        step = node.workflow
        assert step is not None
        base = (*path, "workflow") if self.spec.nodes is not None else path
        try:
            workflow = registry.get_workflow(step.type)
        except (UsageError, ConfigError) as exc:  # unknown, or a plugin that does not load
            self.report((*base, "type"), str(exc))
            return
        try:
            workflow.Config.model_validate(step.config)
        except ValidationError as exc:
            for error in exc.errors():
                loc = [part for part in error["loc"] if isinstance(part, str | int)]
                problem = describe(error, workflow.Config)
                self.report((*base, "config", *loc), f"workflow {workflow.name}: config.{problem}")
        required, optional = registry.input_fields(workflow)
        for name, value in step.inputs.items():
            if name not in (*required, *optional):
                self.report((*base, "inputs", name), f"workflow {workflow.name} has no input "
                            f"{name!r}; inputs: {', '.join([*required, *optional])}")  # fmt: skip
            elif "{{" not in value and "{%" not in value:
                try:  # a literal is read now as the run would read it, not part way in
                    registry.check_inputs(workflow, {name: value})
                except UsageError as exc:
                    self.report((*base, "inputs", name), f"{exc}; write one here, or a template "
                                f"such as '{{{{ inputs.{name} }}}}'")  # fmt: skip
        for name in required:
            if name not in step.inputs:
                self.report((*base, "inputs"), f"workflow {workflow.name} needs input {name!r}")
        for field in MODEL_FIELDS:
            model = step.config.get(field)
            if isinstance(model, str):
                self._model_ref((*base, "config", field), model)

    # --- graph shape -------------------------------------------------------------------------

    def reachability(self) -> None:
        graph = successors(self.spec)
        start = start_node(self.spec)
        if start not in graph:
            return
        seen, stack = {start}, [start]
        while stack:
            for nxt in graph.get(stack.pop(), []):
                if nxt in graph and nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        for index, node in enumerate(graph_nodes(self.spec)):
            if node.id not in seen:
                self.report(("nodes", index, "id"), f"node {node.id!r} is unreachable from "
                            f"{start!r}; connect it with an edge or remove it")  # fmt: skip

    def loops(self) -> None:
        graph = successors(self.spec)
        for component in _strongly_connected(graph):
            looping = len(component) > 1 or any(n in graph.get(n, []) for n in component)
            if looping and not any(self._exits(node, component) for node in component):
                cycle = " -> ".join(sorted(component))
                index = self.node_ids.index(sorted(component)[0])
                self.report(("nodes", index, "id"), f"loop {cycle} has no exit: add a `switch` "
                            "branch that leaves the loop, or give every branch a `when` (when "
                            "none holds, the run ends)")  # fmt: skip

    def _exits(self, node: str, loop: set[str]) -> bool:
        """Whether the run can leave `loop` after `node`: a switch branch taken before any
        `otherwise` goes outside, or every branch has a condition, which may all fail (the run
        then ends, as after a node without edges)."""
        edge = next((e for e in self.spec.edges if e.from_ == node and e.switch), None)
        if edge is None:
            return False
        for branch in edge.switch or []:
            if branch.to not in loop:
                return True
            if branch.when is None:
                return False  # branches after an `otherwise` are never taken
        return True

    # --- templates ---------------------------------------------------------------------------

    def template_sites(self) -> Iterator[tuple[PathKey, str, bool, set[str]]]:
        """(path, source, is_expression, extra names) of every template in the spec."""
        for index, node in enumerate(graph_nodes(self.spec)):
            base: PathKey = ("nodes", index) if self.spec.nodes is not None else ("workflow",)
            extra = {"item"} if node.for_each else {"review"} if node.approve else set()
            if node.human is not None:
                yield (*base, "human", "question"), node.human.question, False, set()
            if node.for_each:
                yield (*base, "for_each"), node.for_each, True, set()
            if node.agent is not None:
                if node.agent.system:
                    yield (*base, "agent", "system"), node.agent.system, False, extra
                yield (*base, "agent", "prompt"), node.agent.prompt, False, extra
            if node.tool is not None:
                for name, value in node.tool.args.items():
                    if isinstance(value, str):
                        yield (*base, "tool", "args", name), value, False, extra
            if node.workflow is not None:
                wf_base = (*base, "workflow") if self.spec.nodes is not None else base
                for name, value in node.workflow.inputs.items():
                    yield (*wf_base, "inputs", name), value, False, extra
        outputs_see = {"result"} if self.spec.workflow is not None else set()
        for name, value in self.spec.outputs.items():
            yield ("outputs", name), value, False, outputs_see

    def templates(self) -> None:
        for path, source, is_expression, extra in self.template_sites():
            name = ".".join(str(p) for p in path)
            problems = (
                templates.check_expression(source) if is_expression else templates.check(source)
            )
            for problem in problems:
                message = f"template {name} line {problem.line}: {problem.message}"
                self.report(path, message, (source, problem.line, problem.column))
            if not problems:
                self._names(path, f"template {name}", source, extra, is_expression)

    def _expression(self, path: PathKey, source: str) -> None:
        name = ".".join(map(str, path))
        problems = templates.check_expression(source)
        for problem in problems:
            self.report(path, f"expression {name}: {problem.message}")
        if not problems:
            self._names(path, f"expression {name}", source, set(), expression=True)

    def _names(
        self, path: PathKey, what: str, source: str, extra: set[str], expression: bool = False
    ) -> None:
        """Only the names the run provides: `inputs`, `state`, `visits` and `extra` (`item`
        under for_each, `review` in a step a person approves, `result` in the outputs of a
        workflow pipeline)."""
        allowed = {"inputs", "state", "visits", *extra}
        template = templates.as_template(source) if expression else source
        shift = templates.EXPRESSION_SHIFT if expression else 0

        def at(node: jinja_nodes.Node, pattern: str) -> tuple[str, int, int]:
            line = node.lineno or 1
            column = templates.column(template, line, pattern)
            return source, line, max(1, column - shift) if line == 1 else column

        tree = templates.environment().parse(template)
        unknown = templates.variables(template) - allowed
        reported: set[str] = set()
        for name in tree.find_all(jinja_nodes.Name):
            if name.name in unknown and name.name not in reported:
                reported.add(name.name)
                self.report(path, f"{what}: unknown variable {name.name!r}; it can use "
                            f"{', '.join(sorted(allowed))}",
                            at(name, rf"(?<![\w.]){re.escape(name.name)}\b"))  # fmt: skip
        for node in tree.find_all(jinja_nodes.Getattr):
            if not isinstance(node.node, jinja_nodes.Name):
                continue
            pattern = rf"\b{node.node.name}\s*\.\s*{re.escape(node.attr)}\b"
            if node.node.name == "inputs" and node.attr not in self.spec.inputs:
                known = ", ".join(self.spec.inputs) or "none"
                self.report(path, f"{what}: unknown input {node.attr!r}; declare it under "
                            f"`inputs:` (declared: {known})", at(node, pattern))  # fmt: skip
            if node.node.name in ("state", "visits") and node.attr not in self.node_ids:
                self.report(path, f"{what}: {self._unknown_node(node.attr, node.node.name)}",
                            at(node, pattern))  # fmt: skip


def _templated(value: Any) -> bool:
    """Whether a tool argument is (or holds) a template, known only when the run renders it."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(_templated(v) for v in value.values())
    if isinstance(value, list):
        return any(_templated(v) for v in value)
    return False


def _past_depth(value: Any, limit: int) -> PathKey | None:
    """The path of the first value nested more than `limit` collections deep (no recursion)."""
    pending: list[tuple[PathKey, Any]] = [((), value)]
    while pending:
        path, current = pending.pop()
        if isinstance(current, dict | list) and len(path) >= limit:
            return path
        if isinstance(current, dict):
            pending.extend(((*path, str(key)), item) for key, item in current.items())
        elif isinstance(current, list):
            pending.extend(((*path, index), item) for index, item in enumerate(current))
    return None


def _strongly_connected(graph: dict[str, list[str]]) -> list[set[str]]:
    """Tarjan's algorithm (iterative): the strongly connected components of `graph`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph.get(root, [])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, []))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def check(spec: PipelineSpec, source: SourceMap, base_dir: Path) -> list[str]:
    """Every problem with the pipeline, as `file:line:column: message` lines."""
    checker = _Checker(spec, source, base_dir)
    checker.files()
    checker.models()
    checker.node_refs()
    checker.reachability()
    checker.loops()
    checker.templates()
    return checker.problems


__all__ = ["check", "graph_nodes", "start_node", "successors"]
