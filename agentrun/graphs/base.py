"""The Workflow seam: a workflow is a class that builds a LangGraph graph; running it is written
once, here.

A workflow names itself, declares its typed `Config`, `Inputs` and `Result` (pydantic models,
given once as the parameters of `Workflow[Config, Inputs, Result]`; input types come from
`Inputs`, so a pipeline's `"500"` becomes the `int` it declares), and implements three steps:

- `build(ctx)`: its `StateGraph`, from the config, the gateway and the store;
- `start(inputs, session)`: the graph's first state (it may write long text to the store and
  keep only ids in the state);
- `finish(state, session)`: its result from the final state.

Everything else is shared: `astream` (typed events: nodes, tokens, model and tool calls,
checkpoints, questions to a person, the result), `arun`, `aresume` (with an answer when the run
waits for one) and their sync twins `run` and `resume`. Runs are checkpointed with
`durability="sync"`: each step's writes, each model call's reply among them, are on disk before
the next step starts, so a killed run repeats at most the call that was in flight.
"""

from __future__ import annotations

import abc
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar, get_args, get_origin

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import GraphRecursionError
from langgraph.graph import StateGraph
from langgraph.store.base import BaseStore
from langgraph.types import Command
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentrun import telemetry
from agentrun.agents.gateway import Gateway
from agentrun.agents.ledger import Usage, collect_failures, total
from agentrun.errors import AnswerError, UsageError
from agentrun.graphs import runtime
from agentrun.graphs.events import (
    CheckpointSaved,
    Event,
    Interrupted,
    ModelCalled,
    NodeFinished,
    NodeStarted,
    PendingQuestion,
    RunFinished,
    TokenDelta,
    ToolCalled,
)
from agentrun.graphs.human import pending_questions, reply_to
from agentrun.graphs.runtime import DEFAULT_NAMESPACE, RECURSION_LIMIT, Session, WorkflowContext

ConfigT = TypeVar("ConfigT", bound=BaseModel)
InputsT = TypeVar("InputsT", bound=BaseModel)
ResultT = TypeVar("ResultT", bound="WorkflowResult")

#: How LangGraph saves: "sync" writes every step's checkpoint before the next step runs.
DURABILITY = "sync"
#: An event the graph's stream writer forwards unchanged (a workflow run inside a pipeline node).
FORWARDED = "__agentrun_event__"


class WorkflowResult(BaseModel):
    """What every workflow's result has: its thread, its usage (whole run, and by node, across
    resumes) and, while it waits for a person, the pending question. `output` is the one value a
    caller usually wants (the answer, the text); each result names the field it comes from."""

    model_config = ConfigDict(extra="forbid")

    #: The field `output` returns; None returns the whole result as a dict.
    output_field: ClassVar[str | None] = None

    thread_id: str = ""
    usage: dict[str, Any] = Field(default_factory=dict)
    usage_by_node: dict[str, dict[str, Any]] = Field(default_factory=dict)
    interrupt: PendingQuestion | None = Field(
        default=None, description="Set while the run waits for an answer; resume to go on."
    )

    @property
    def waiting(self) -> bool:
        return self.interrupt is not None

    @property
    def output(self) -> Any:
        if self.output_field is None:
            return self.model_dump(mode="json", exclude={"usage", "usage_by_node", "interrupt"})
        return getattr(self, self.output_field)


@dataclass(frozen=True)
class BuildContext(Generic[ConfigT]):
    """What `Workflow.build` may read: the config, the gateway (token counts, windows) and the
    store (scoped to the run's namespace)."""

    config: ConfigT
    gateway: Gateway
    store: BaseStore
    namespace: tuple[str, ...]


class _NoAnswer:
    def __repr__(self) -> str:
        return "NO_ANSWER"


NO_ANSWER: Any = _NoAnswer()


class Workflow(abc.ABC, Generic[ConfigT, InputsT, ResultT]):
    """A workflow: subclass `Workflow[Config, Inputs, Result]`, set `name`, and write `build`,
    `start` and `finish`. Register it with `agentrun.register_workflow` (or an
    `agentrun.workflows` entry point) so pipelines and the CLI find it by name."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: The models, taken from the class's parameters (or assigned in the class body).
    Config: type[ConfigT]
    Inputs: type[InputsT]
    Result: type[ResultT]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            origin = get_origin(base)
            if not (isinstance(origin, type) and issubclass(origin, Workflow)):
                continue
            for part, model in zip(("Config", "Inputs", "Result"), get_args(base), strict=False):
                if part not in cls.__dict__ and isinstance(model, type):
                    setattr(cls, part, model)

    def __init__(
        self,
        config: ConfigT | Mapping[str, Any] | None = None,
        *,
        gateway: Gateway | None = None,
        store: BaseStore | None = None,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
        namespace: tuple[str, ...] = DEFAULT_NAMESPACE,
        data_dir: Any = None,
        stream_text: bool = False,
    ) -> None:
        if isinstance(config, BaseModel) and not isinstance(config, self.Config):
            config = config.model_dump(exclude_unset=True)
        self.config: ConfigT = (
            config if isinstance(config, self.Config) else self.Config.model_validate(config or {})
        )
        self.gateway = gateway
        self.store = store
        self.checkpointer = checkpointer
        self.namespace = tuple(namespace)
        self.data_dir = data_dir
        self.stream_text = stream_text

    # --- what a workflow writes ----------------------------------------------------------------

    @abc.abstractmethod
    def build(self, ctx: BuildContext[ConfigT]) -> StateGraph[Any, Any, Any, Any]:
        """The graph (not compiled): nodes read their context with `runtime.context()`."""

    @abc.abstractmethod
    async def start(self, inputs: InputsT, session: Session) -> Mapping[str, Any]:
        """The graph's first state for `inputs`."""

    @abc.abstractmethod
    async def finish(self, state: Mapping[str, Any], session: Session) -> ResultT:
        """The result of a finished run, from its final state."""

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        """The graph as `build` makes it, for drawing: with a gateway that is never called
        and an in-memory store."""
        from langgraph.store.memory import InMemoryStore

        gateway = self.gateway or Gateway()
        store = self.store or InMemoryStore()
        return self.build(BuildContext(self.config, gateway, store, self.namespace))

    def context(self, ctx: WorkflowContext) -> WorkflowContext:
        """The context nodes see; override to add what this workflow's nodes need."""
        return ctx

    def session(self, thread_id: str) -> AbstractAsyncContextManager[Session]:
        """The run's resources (gateway, scoped store, checkpointer), made if not given."""
        return runtime.session(
            thread_id=thread_id, gateway=self.gateway, store=self.store,
            checkpointer=self.checkpointer, namespace=self.namespace, data_dir=self.data_dir,
            stream_text=self.stream_text,
        )  # fmt: skip

    # --- inputs ---------------------------------------------------------------------------------

    def inputs(self, *args: Any, **kwargs: Any) -> InputsT:
        """`Inputs` from positional values (in field order), keywords, or one `Inputs` value."""
        if len(args) == 1 and not kwargs and isinstance(args[0], self.Inputs):
            return args[0]
        fields = list(self.Inputs.model_fields)
        if len(args) > len(fields):
            raise UsageError(f"workflow {self.name}: {len(args)} inputs given, it takes "
                             f"{len(fields)} ({', '.join(fields)})")  # fmt: skip
        values = dict(zip(fields, args, strict=False)) | kwargs
        try:
            return self.Inputs.model_validate(values)
        except ValidationError as exc:
            raise UsageError(input_problem(self.name, exc)) from None

    # --- running, written once --------------------------------------------------------------------

    async def astream(
        self, *args: Any, thread_id: str | None = None, **inputs: Any
    ) -> AsyncIterator[Event]:
        """Run on `inputs`, yielding events as they happen; the last is `RunFinished`."""
        values = self.inputs(*args, **inputs)
        thread = thread_id or runtime.new_thread_id()
        async with self.session(thread) as session:
            session.ctx = self.context(session.ctx)
            app = session.compile(self.build(self._build_context(session)))
            if await _has_checkpoint(app, thread):
                raise UsageError(
                    f"thread {thread!r} already holds a run of {self.name}; resume it, or start "
                    "with another thread id"
                )
            first = dict(await self.start(values, session))
            async for event in self._drive(app, first, session):
                yield event

    async def astream_resume(
        self, thread_id: str, *, answer: Any = NO_ANSWER
    ) -> AsyncIterator[Event]:
        """Continue a stopped run from its last checkpoint, answering its question if it waits."""
        async with self.session(thread_id) as session:
            session.ctx = self.context(session.ctx)
            app = session.compile(self.build(self._build_context(session)))
            graph_input = await resume_input(app, thread_id, answer)
            async for event in self._drive(app, graph_input, session):
                yield event

    async def apending(self, thread_id: str) -> PendingQuestion | None:
        """The question a run waits on, if it waits (None for a finished or failed run)."""
        async with self.session(thread_id) as session:
            app = session.compile(self.build(self._build_context(session)))
            pending = pending_questions(await app.aget_state(graph_config(thread_id)))
        return pending[0] if pending else None

    async def arun(
        self,
        *args: Any,
        thread_id: str | None = None,
        on_event: Callable[[Event], None] | None = None,
        **inputs: Any,
    ) -> ResultT:
        """Run to the end (or to a question: then `result.interrupt` is set)."""
        events = self.astream(*args, thread_id=thread_id, **inputs)
        return await last_result(events, on_event, self.Result)

    async def aresume(
        self,
        thread_id: str,
        *,
        answer: Any = NO_ANSWER,
        on_event: Callable[[Event], None] | None = None,
    ) -> ResultT:
        """Continue a failed, killed or waiting run; `answer` answers its pending question."""
        events = self.astream_resume(thread_id, answer=answer)
        return await last_result(events, on_event, self.Result)

    def run(self, *args: Any, **options: Any) -> ResultT:
        """Sync twin of `arun`."""
        return runtime.run_sync(self.arun(*args, **options))

    def resume(self, thread_id: str, **options: Any) -> ResultT:
        """Sync twin of `aresume`."""
        return runtime.run_sync(self.aresume(thread_id, **options))

    # --- the shared run loop -------------------------------------------------------------------

    def _build_context(self, session: Session) -> BuildContext[ConfigT]:
        return BuildContext(self.config, session.gateway, session.store, self.namespace)

    async def _drive(self, app: Any, graph_input: Any, session: Session) -> AsyncIterator[Event]:
        async def finish(state: dict[str, Any]) -> WorkflowResult:
            return await self.finish(state, session)

        async for event in drive(
            app, graph_input, session, finish=finish, result=self.Result, name=self.name
        ):
            yield event


# --- helpers shared with pipelines -------------------------------------------------------------

R = TypeVar("R", bound="WorkflowResult")


async def last_result(
    events: AsyncIterator[Event], on_event: Callable[[Event], None] | None, result: type[R]
) -> R:
    """Consume a run's events (each passed to `on_event`); the result of its `RunFinished`."""
    found: R | None = None
    async for event in events:
        if on_event is not None:
            on_event(event)
        if isinstance(event, RunFinished) and isinstance(event.result, result):
            found = event.result
    if found is None:  # the stream always ends with the result, unless it raised
        raise RuntimeError("the run ended without a result")
    return found


def drive(
    app: Any,
    graph_input: Any,
    session: Session,
    *,
    finish: Callable[[dict[str, Any]], Awaitable[WorkflowResult]],
    result: type[WorkflowResult],
    name: str = "run",
) -> AsyncIterator[Event]:
    """Run (or resume) a compiled graph, yielding its events, then `RunFinished` with the
    result `finish` makes of the final state, or, while the run waits for a person, a `result`
    holding the question, with usage over every attempt at the run so far. The run named
    `name` is traced when tracing is on (`agentrun.telemetry`)."""
    events = _drive(app, graph_input, session, finish=finish, result=result)
    return telemetry.traced(events, name, session.thread_id)


async def _drive(
    app: Any,
    graph_input: Any,
    session: Session,
    *,
    finish: Callable[[dict[str, Any]], Awaitable[WorkflowResult]],
    result: type[WorkflowResult],
) -> AsyncIterator[Event]:
    thread = session.thread_id
    async for event in stream_events(app, graph_input, session.ctx):
        yield event
    snapshot = await app.aget_state(graph_config(thread))
    state = dict(snapshot.values)
    spent = Usage.from_dict(state.get("usage")) + await runtime.failed_calls(session.ctx)
    usage = spent.to_dict()
    by_node = usage.pop("by_node")
    pending = pending_questions(snapshot)
    if pending:
        done = result.model_construct(
            thread_id=thread, usage=usage, usage_by_node=by_node, interrupt=pending[0]
        )
    else:
        done = await finish(state)
        done.thread_id, done.usage, done.usage_by_node = thread, usage, by_node
    status = "waiting" if pending else "done"
    yield RunFinished(thread_id=thread, status=status, usage=usage, result=done)


async def pass_on(events: AsyncIterator[Event], label: str) -> WorkflowResult:
    """Send a nested workflow's events on to whoever streams the enclosing run, its nodes named
    under `label`; return its result. Its questions and checkpoints are its own affair."""
    result: WorkflowResult | None = None
    async for event in events:
        if isinstance(event, RunFinished):
            result = event.result
        elif not isinstance(event, Interrupted | CheckpointSaved):
            node = getattr(event, "node", "")
            runtime.emit({FORWARDED: event.model_copy(update={"node": f"{label}/{node}"})})
    assert result is not None  # a stream always ends with its result, unless it raised
    return result


def graph_config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}, "recursion_limit": RECURSION_LIMIT}


async def _has_checkpoint(app: Any, thread_id: str) -> bool:
    snapshot = await app.aget_state(graph_config(thread_id))
    return bool(snapshot.values or snapshot.next)


async def resume_input(app: Any, thread_id: str, answer: Any) -> Any:
    """What resuming `thread_id` sends the graph: None, or the checked answer to its question.

    Raises an `AnswerError` (the run is left as it was) when there is nothing to resume, when the
    run waits and no answer is given, or when the answer fails the question's schema.
    """
    snapshot = await app.aget_state(graph_config(thread_id))
    if not snapshot.values and not snapshot.next:
        raise UsageError(
            f"no checkpoint for thread {thread_id!r}; check the id with `agentrun runs ls`"
        )
    pending = pending_questions(snapshot)
    if not pending:
        if answer is not NO_ANSWER:
            raise AnswerError(
                f"run {thread_id} is not waiting for an answer; resume it without one"
            )
        return None
    first = pending[0]
    if answer is NO_ANSWER:
        raise AnswerError(
            f"run {thread_id} waits for an answer to: {first.question}; resume it with an answer "
            f"(agentrun resume {thread_id} --answer TEXT|@file)"
        )
    return Command(resume={first.id: reply_to(first, answer)})


def input_problem(workflow: str, exc: ValidationError) -> str:
    """One line for the first problem of a workflow's inputs, naming the input."""
    first = exc.errors()[0]
    name = ".".join(str(part) for part in first["loc"]) or "inputs"
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "missing":
        return f"workflow {workflow}: input {name!r} is required"
    found = first.get("input")
    shown = f" (got {str(found)[:40]!r})" if isinstance(found, str | int | float) else ""
    return f"workflow {workflow}: input {name!r}: {message}{shown}"


async def stream_events(app: Any, graph_input: Any, ctx: WorkflowContext) -> AsyncIterator[Event]:
    """Run (or resume) a compiled graph and translate what LangGraph streams into events."""
    thread = ctx.run_id
    nodes = {name for name in app.builder.nodes if not name.startswith("__")}
    started: dict[str, tuple[str, float]] = {}
    with collect_failures() as failed:
        try:
            async for mode, payload in app.astream(
                graph_input, graph_config(thread), context=ctx, durability=DURABILITY,
                stream_mode=["tasks", "updates", "custom", "checkpoints"],
            ):  # fmt: skip
                for event in _translate(mode, payload, thread, nodes, started):
                    yield event
        except GraphRecursionError as exc:
            raise UsageError(f"run {thread}: the graph did not end ({exc})") from exc
        finally:
            if failed:  # kept apart from the state, which a failed step never updates
                await runtime.keep_failed_calls(ctx, total(failed))


def _translate(
    mode: str,
    payload: Any,
    thread: str,
    nodes: set[str],
    started: dict[str, tuple[str, float]],
) -> list[Event]:
    if mode == "tasks" and isinstance(payload, dict) and payload.get("name") in nodes:
        task_id, name = str(payload.get("id")), str(payload["name"])
        if "input" in payload:
            started[task_id] = (name, time.perf_counter())
            return [NodeStarted(thread_id=thread, node=name)]
        begun = started.pop(task_id, None)
        if payload.get("error") is not None or payload.get("interrupts"):
            return []
        seconds = time.perf_counter() - begun[1] if begun else None
        return [NodeFinished(thread_id=thread, node=name, seconds=seconds)]
    if mode == "updates" and isinstance(payload, dict) and "__interrupt__" in payload:
        events: list[Event] = []
        for item in payload["__interrupt__"]:
            value = item.value if isinstance(item.value, dict) else {"question": str(item.value)}
            pending = PendingQuestion.model_validate({"node": "", **value, "id": item.id})
            events.append(Interrupted(thread_id=thread, node=pending.node, pending=pending))
        return events
    if mode == "checkpoints" and isinstance(payload, dict):
        configurable = (payload.get("config") or {}).get("configurable") or {}
        step = int((payload.get("metadata") or {}).get("step", 0))
        checkpoint_id = str(configurable.get("checkpoint_id", ""))
        return [CheckpointSaved(thread_id=thread, checkpoint_id=checkpoint_id, step=step)]
    if mode == "custom" and isinstance(payload, dict):
        return _custom(payload, thread)
    return []


def _custom(payload: dict[str, Any], thread: str) -> list[Event]:
    """Events written by nodes and tasks through LangGraph's stream writer."""
    forwarded = payload.get(FORWARDED)
    if forwarded is not None:
        return [forwarded]
    kind = payload.get("kind", "token")
    node = str(payload.get("node", ""))
    if kind == "token":
        return [TokenDelta(thread_id=thread, node=node, text=str(payload.get("text", "")))]
    if kind == "model_call":
        return [ModelCalled.model_validate({**payload, "thread_id": thread})]
    if kind == "tool_call":
        return [ToolCalled.model_validate({**payload, "thread_id": thread})]
    return []


__all__ = [
    "NO_ANSWER",
    "BuildContext",
    "Workflow",
    "WorkflowResult",
    "graph_config",
    "last_result",
    "pass_on",
    "resume_input",
    "stream_events",
]
