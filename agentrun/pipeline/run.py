"""Pipelines: a YAML spec loaded, validated, and run (or resumed) as a LangGraph graph.

`load_pipeline(path)` gives a `Pipeline`; `astream` yields the same typed events as every
workflow (`agentrun.graphs.events`), and `arun`/`aresume`/`run`/`resume` are built on it.
Embedding one in an application needs no global state: the models, store and checkpointer are
made per run (or passed in), and nothing touches logging. Every run keeps a record under
`<data dir>/runs/<thread id>/` (`agentrun.pipeline.records`), which `agentrun resume` and
`agentrun runs` read. A run that stops at a question (a `human` node, or `approve: true`)
waits there, checkpointed, until it is resumed with an answer.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agentrun.agents.config import GatewayConfig, ModelConfig
from agentrun.agents.gateway import Gateway
from agentrun.diskspace import disk_full_error
from agentrun.errors import AgentrunError, AnswerError, RunFailedError, SpecError, UsageError
from agentrun.graphs import runtime
from agentrun.graphs.base import NO_ANSWER, WorkflowResult, drive, last_result, resume_input
from agentrun.graphs.events import Event, RunFinished
from agentrun.memory.scope import scoped
from agentrun.pipeline import budget, mcp_servers
from agentrun.pipeline import checks as pipeline_checks
from agentrun.pipeline import load as spec_loader
from agentrun.pipeline.batch_output import BatchSummary, ItemOutcome
from agentrun.pipeline.blobs import BlobStore
from agentrun.pipeline.budget import Estimate, Limits
from agentrun.pipeline.compile import PipelineGraph
from agentrun.pipeline.options import RunOptions
from agentrun.pipeline.records import CostMeter, RunRecord
from agentrun.pipeline.spec import PipelineSpec
from agentrun.settings import data_dir as resolve_data_dir
from agentrun.tools.sandbox import FileRoots

EventCallback = Callable[[Event], None]


class PipelineResult(WorkflowResult):
    """A pipeline run's outputs (its `outputs:` templates rendered), every node's result, and
    where `result.json` was written."""

    output_field = "outputs"

    outputs: dict[str, Any] = {}
    results: dict[str, Any] = {}
    result_path: Path | None = None


def apply_overrides(data: Any, overrides: Mapping[str, str]) -> Any:
    """Set dotted paths (`models.default.model=openai/gpt-4o`) in the raw spec data.

    Values are parsed as YAML, so `3` is a number and `true` a boolean, under the rules of a
    spec file (no tags, nesting and aliases bounded, no duplicate keys).
    """
    for dotted, raw in overrides.items():
        parts = dotted.split(".")
        value = spec_loader.load_value(raw, f"--set {dotted}", len(parts)) if raw.strip() else ""
        target = data
        for depth, part in enumerate(parts[:-1]):
            key: Any = int(part) if isinstance(target, list) and part.isdigit() else part
            try:
                child = target[key]
            except (KeyError, IndexError, TypeError):
                child = None
            if child is None and isinstance(target, dict):
                child = target[key] = {}
            if not isinstance(child, dict | list):
                where = ".".join(parts[: depth + 1])
                raise UsageError(f"--set {dotted}: {where} is not a mapping or list in the spec")
            target = child
        last: Any = (
            int(parts[-1]) if isinstance(target, list) and parts[-1].isdigit() else parts[-1]
        )
        try:
            target[last] = value
        except (IndexError, TypeError) as exc:
            raise UsageError(f"--set {dotted}: no such place in the spec") from exc
    return data


class Pipeline:
    """A validated pipeline. Build one with `load_pipeline(path)` or `Pipeline.from_text`."""

    def __init__(self, spec: PipelineSpec, text: str, path: Path) -> None:
        self.spec = spec
        self.text = text
        self.path = path
        self.base_dir = path.parent
        #: The `--set` overrides applied to `text` (a batch's workers load the pipeline alike).
        self.overrides: dict[str, str] = {}

    # --- loading -----------------------------------------------------------------------------

    @classmethod
    def from_text(
        cls, text: str, path: Path, overrides: Mapping[str, str] | None = None
    ) -> Pipeline:
        data, source = spec_loader.load_yaml(text, str(path))
        if not isinstance(data, dict):
            found = "nothing" if data is None else f"a {type(data).__name__}"
            raise SpecError(f"{path}:1:1: a pipeline is a mapping of keys (found {found}); it "
                            "starts with `version: agentrun/v1`")  # fmt: skip
        if overrides:  # the record keeps the spec as run, overrides included, for resume
            data = apply_overrides(data, overrides)
            text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        try:
            spec = PipelineSpec.model_validate(data)
        except ValidationError as exc:
            problems = spec_loader.validation_problems(exc, PipelineSpec, source)
            raise SpecError(_listing(path, problems)) from None
        problems = pipeline_checks.check(spec, source, path.parent)
        if problems:
            raise SpecError(_listing(path, problems))
        pipeline = cls(spec, text, path)
        pipeline.overrides = dict(overrides or {})
        return pipeline

    @classmethod
    def for_workflow(
        cls,
        name: str,
        inputs: Iterable[str] = (),
        overrides: Mapping[str, str] | None = None,
        folder: Path | None = None,
    ) -> Pipeline:
        """A pipeline that runs one registered workflow (`agentrun run --workflow NAME`): its
        required inputs and those named in `inputs` become the pipeline's inputs; overrides
        `config.<key>` set the workflow's config (any other path, the spec's own)."""
        from agentrun.graphs.registry import get_workflow, input_fields

        workflow = get_workflow(name)
        required, optional = input_fields(workflow)
        given = set(inputs)
        unknown = sorted(given - {*required, *optional})
        if unknown:
            known = ", ".join([*required, *optional])
            raise UsageError(f"workflow {name} has no input {unknown[0]!r}; inputs: {known}")
        names = [*required, *(field for field in optional if field in given)]
        fields = workflow.Inputs.model_fields
        spec = {
            "version": "agentrun/v1",
            "name": name,
            "description": f"The {name} workflow, run from the command line.",
            "inputs": {field: {"type": _input_type(fields[field].annotation)} for field in names},
            "workflow": {
                "type": name,
                "inputs": {field: f"{{{{ inputs.{field} }}}}" for field in names},
            },
        }
        output = workflow.Result.output_field
        if output is not None:  # the one value a caller wants; `agentrun runs show` has the rest
            spec["outputs"] = {output: f"{{{{ result.{output} }}}}"}
        renamed = {
            (f"workflow.{key}" if key.startswith("config.") else key): value
            for key, value in (overrides or {}).items()
        }
        text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
        return cls.from_text(text, (folder or Path.cwd()) / f"{name}.workflow.yaml", renamed)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], overrides: Mapping[str, str] | None = None
    ) -> Pipeline:
        file = Path(path)
        return cls.from_text(spec_loader.read_text(file), file, overrides)

    # --- models and memory -------------------------------------------------------------------

    def gateway_config(self) -> GatewayConfig:
        models = {
            alias: ModelConfig.model_validate(
                spec.model_dump(exclude={"temperature", "replies"}, exclude_unset=True)
            )
            for alias, spec in self.spec.models.items()
        }
        for config in models.values():
            if config.tokenizer not in (None, "local"):  # a file, relative to the pipeline's
                config.tokenizer = str(self.base_dir / Path(config.tokenizer).expanduser())
        return GatewayConfig(models=models)

    @contextlib.contextmanager
    def _fakes(self) -> Iterator[None]:
        """Register the scripted model for `fake/` aliases that name a replies file (only while
        the run lasts). Without a replies file, a `fake/` model is whatever scripted model the
        caller registered (as tests do with `agentrun.agents.testing.scripted_model`)."""
        fakes = {a: m for a, m in self.spec.models.items() if m.replies is not None}
        if not fakes:
            yield
            return
        from agentrun.agents.testing import scripted_model
        from agentrun.pipeline.fakes import FakeReplies

        replies = FakeReplies.from_models(fakes, self.spec_roots())
        with scripted_model(replies):
            yield

    @contextlib.contextmanager
    def open_store(self, data_dir: Path) -> Iterator[Any]:
        """The store `memory` names: embedded chroma, a chroma server (`url`), or in-process."""
        from agentrun import memory

        spec = self.spec.memory
        if spec.backend == "memory":
            yield memory.in_memory_store(memory.default_embedder())
        elif spec.server_url is not None:
            with memory.ChromaStore.http(spec.server_url, memory.default_embedder()) as store:
                yield store
        else:
            with memory.default_store(data_dir) as store:
                yield store

    def checkpointer(self, data_dir: Path) -> contextlib.AbstractAsyncContextManager[Any]:
        """The checkpointer `checkpoints:` names (else $AGENTRUN_CHECKPOINT_URL, else SQLite
        under the data directory)."""
        from agentrun.memory.checkpoint import checkpointer

        return checkpointer(data_dir, url=self.spec.checkpoints)

    # --- files ---------------------------------------------------------------------------------

    def spec_roots(self) -> FileRoots:
        """The folders the spec itself allows: its own and those `files.roots` names."""
        return FileRoots.under(self.base_dir, self.spec.files.roots)

    def file_roots(self, extra: Iterable[str | os.PathLike[str]] = ()) -> FileRoots:
        """The spec's folders and `extra` ones (`--allow-dir`), each of which must exist."""
        extra = list(extra)
        for folder in extra:
            if not Path(folder).expanduser().is_dir():
                raise UsageError(f"allowed folder {str(folder)!r} is not a directory; "
                                 "name an existing folder")  # fmt: skip
        return FileRoots.of([*self.spec_roots().roots, *extra])

    # --- running -----------------------------------------------------------------------------

    def coerce_inputs(
        self, given: Mapping[str, Any], missing: str = "pass --input {name}=..."
    ) -> dict[str, Any]:
        """Inputs checked against their declarations: known names, required ones, types.
        `missing` says how to give a missing input (`{name}` is its name)."""
        declared = self.spec.inputs
        unknown = [name for name in given if name not in declared]
        if unknown:
            names = ", ".join(declared) or "none"
            raise UsageError(f"unknown input {unknown[0]!r}; {self.spec.name} takes: {names}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in given:
                values[name] = _coerce(name, spec.type, given[name])
            elif spec.default is not None:
                values[name] = spec.default
            elif spec.required:
                how = missing.format(name=name)
                raise UsageError(f"missing input {name!r} ({spec.description or spec.type}); {how}")
        return values

    def limits(self, options: RunOptions) -> Limits:
        """The limits a run with these options has (options, then the spec, then defaults)."""
        return Limits.of(self.spec, options)

    async def check_budget(
        self, values: Mapping[str, Any], limits: Limits, gateway: Gateway | None, root: Path
    ) -> Estimate:
        """Estimate the inputs' tokens and cost on the pipeline's models; refuse a run over its
        limits before anything is recorded or sent (`BudgetError`)."""
        with self._fakes():
            async with AsyncExitStack() as stack:
                if gateway is None:
                    gateway = Gateway(self.gateway_config(), data_dir=root)
                    await stack.enter_async_context(gateway)
                found = budget.estimate(gateway, budget.pipeline_models(self.spec), values)
        budget.check(found, limits)
        return found

    async def astream(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        thread_id: str | None = None,
        gateway: Gateway | None = None,
        store: Any = None,
        checkpointer: Any = None,
        data_dir: str | os.PathLike[str] | None = None,
        cache: bool | None = None,
        stream_text: bool = False,
        max_input_tokens: int | None = None,
        max_cost_usd: float | None = None,
        file_roots: Iterable[str | os.PathLike[str]] = (),
    ) -> AsyncIterator[Event]:
        """Run the pipeline, yielding its events; the last is `RunFinished` with the result.

        Inputs estimated over `max_input_tokens` or `max_cost_usd` (else the spec's `limits:`,
        else the defaults) are refused before any call; the run stops, resumably, once it has
        spent `max_cost_usd`. File tools read inside the spec's folders and `file_roots` only.
        A failure after the record exists carries `thread_id`.
        """
        values = self.coerce_inputs(inputs or {})
        options = RunOptions(cache, stream_text, max_input_tokens, max_cost_usd)
        roots = self.file_roots(file_roots)
        root = resolve_data_dir(data_dir)
        await self.check_budget(values, self.limits(options), gateway, root)
        thread_id = thread_id or runtime.new_thread_id()
        try:
            record = RunRecord.create(
                root, thread_id, name=self.spec.name, spec_text=self.text, spec_path=self.path,
                inputs=BlobStore(root).stash(values), options=options, file_roots=roots,
            )  # fmt: skip
        except OSError as exc:  # nothing ran yet: there is no run to resume
            full = disk_full_error(exc, root)
            if full is None:
                raise
            raise full from exc
        async for event in self._events(record, options, gateway, store, checkpointer):
            yield event

    async def astream_resume(
        self,
        thread_id: str,
        *,
        answer: Any = NO_ANSWER,
        gateway: Gateway | None = None,
        store: Any = None,
        checkpointer: Any = None,
        data_dir: str | os.PathLike[str] | None = None,
        cache: bool | None = None,
        stream_text: bool | None = None,
        max_cost_usd: float | None = None,
    ) -> AsyncIterator[Event]:
        """Continue a run from its last checkpoint (answering its question, if it waits), with
        the options and file roots it was started with; an option given here (not None)
        replaces the stored one, for this and later resumes."""
        record = RunRecord.open(resolve_data_dir(data_dir), thread_id)
        options = record.options().overridden(
            cache=cache, stream_text=stream_text, max_cost_usd=max_cost_usd
        )
        async for event in self._events(record, options, gateway, store, checkpointer, answer):
            yield event

    async def arun(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        on_event: EventCallback | None = None,
        **options: Any,
    ) -> PipelineResult:
        """Run the pipeline to its end, or to a question (then `result.interrupt` is set)."""
        return await last_result(self.astream(inputs, **options), on_event, PipelineResult)

    def run(self, inputs: Mapping[str, Any] | None = None, **options: Any) -> PipelineResult:
        """Sync twin of `arun`."""
        return runtime.run_sync(self.arun(inputs, **options))

    async def aresume(
        self, thread_id: str, *, on_event: EventCallback | None = None, **options: Any
    ) -> PipelineResult:
        """Continue a run (see `astream_resume`); `answer=` answers its pending question."""
        return await last_result(
            self.astream_resume(thread_id, **options), on_event, PipelineResult
        )

    def resume(self, thread_id: str, **options: Any) -> PipelineResult:
        """Sync twin of `aresume`."""
        return runtime.run_sync(self.aresume(thread_id, **options))

    async def abatch(
        self,
        items: Iterable[Mapping[str, Any]] | str | os.PathLike[str],
        *,
        out: str | os.PathLike[str] | None = None,
        key: str | None = None,
        concurrency: int = 8,
        fail_fast: bool = False,
        ray: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        cache: bool | None = None,
        max_input_tokens: int | None = None,
        max_cost_usd: float | None = None,
        file_roots: Iterable[str | os.PathLike[str]] = (),
        on_outcome: Callable[[ItemOutcome], None] | None = None,
    ) -> BatchSummary:
        """Run the pipeline once per item (dicts of inputs, or a JSON Lines file of them),
        `concurrency` at a time, in this process or (`ray="auto"` or an address) on a Ray
        cluster. Each item's thread comes from its `key` field (else a hash of the item), and
        each outcome is appended to `out` as it finishes, so running the same batch again skips
        the items done and continues the others. A failed item is recorded and the batch goes
        on, unless `fail_fast` (then `BatchStoppedError`). See `agentrun.pipeline.batch`."""
        from agentrun.pipeline.batch import BatchOptions, BatchRun, arun_batch, batch_items

        options = BatchOptions(
            cache, max_input_tokens, max_cost_usd, tuple(str(p) for p in file_roots)
        )
        run = BatchRun(
            self, batch_items(self, items, key), Path(out) if out is not None else None,
            concurrency, fail_fast, options, ray,
            Path(data_dir) if data_dir is not None else None,
        )  # fmt: skip
        return await arun_batch(run, on_outcome=on_outcome)

    def batch(
        self, items: Iterable[Mapping[str, Any]] | str | os.PathLike[str], **options: Any
    ) -> BatchSummary:
        """Sync twin of `abatch`."""
        return runtime.run_sync(self.abatch(items, **options))

    async def _events(
        self,
        record: RunRecord,
        options: RunOptions,
        gateway: Gateway | None,
        store: Any,
        checkpointer: Any,
        answer: Any = NO_ANSWER,
    ) -> AsyncIterator[Event]:
        """The run on the shared engine (`agentrun.graphs.base.drive`), kept in its record."""
        builder = PipelineGraph(
            self.spec, record.file_roots(self.spec_roots()), record.thread_id,
            BlobStore(record.root),
        )  # fmt: skip

        async def finish(state: dict[str, Any]) -> PipelineResult:
            results = dict(state.get("results") or {})
            return PipelineResult(outputs=builder.outputs(state), results=results)

        try:
            record.update(status="running", started=time.time(), options=options.to_dict())
            async with (
                self._resources(record, options, gateway, store, checkpointer) as run,
                mcp_servers.started(self.spec.mcp_servers, self.base_dir) as mcp_tools,
            ):
                builder.bind_tools(mcp_tools)
                app = run.compile(builder.build())
                if not await run.has_checkpoint():  # new, or stopped before its first one
                    graph_input: Any = record.initial_state()
                else:
                    graph_input = await resume_input(app, record.thread_id, answer)
                async for event in drive(
                    app, graph_input, run, finish=finish, result=PipelineResult,
                    name=self.spec.name,
                ):  # fmt: skip
                    if isinstance(event, RunFinished):
                        self._keep(record, event.result)
                    yield event
        except BaseException as exc:
            status = "failed" if isinstance(exc, Exception) else "interrupted"
            if isinstance(exc, AnswerError):
                status = "waiting"  # a refused answer: the run still waits for a good one
            with contextlib.suppress(OSError):  # a full disk cannot take the status either
                record.update(status=status, error=str(exc) or type(exc).__name__,
                              finished=time.time())  # fmt: skip
            if not isinstance(exc, Exception):
                raise
            full = disk_full_error(exc, record.root, record.thread_id)
            if full is not None:
                raise full from exc
            if isinstance(exc, AgentrunError):
                exc.thread_id = record.thread_id  # its own type and exit code, and the run
                raise
            raise RunFailedError(f"run {record.thread_id} failed: {exc}", record.thread_id) from exc

    @staticmethod
    def _keep(record: RunRecord, result: PipelineResult) -> None:
        """Write the run's result (or the question it waits on) into its record."""
        if result.interrupt is not None:
            record.update(status="waiting", question=result.interrupt.model_dump(mode="json"))
        else:
            result.result_path = record.finish(result.outputs, result.usage)

    @contextlib.asynccontextmanager
    async def _resources(
        self,
        record: RunRecord,
        options: RunOptions,
        gateway: Gateway | None,
        store: Any,
        checkpointer: Any,
    ) -> AsyncIterator[runtime.Session]:
        """The run's session: fake models registered, the spec's gateway (with the run's cost
        limit) and store, the store scoped to the spec's namespace."""
        spent = CostMeter(record)
        with self._fakes():
            async with AsyncExitStack() as stack:
                if gateway is None:
                    gateway = Gateway(
                        self.gateway_config(), data_dir=record.root, cache=options.cache
                    )
                    await stack.enter_async_context(gateway)
                stack.enter_context(spent.limiting(gateway, self.limits(options)))
                if store is None:
                    store = stack.enter_context(self.open_store(record.root))
                if checkpointer is None:
                    checkpointer = await stack.enter_async_context(self.checkpointer(record.root))
                memory = self.spec.memory
                async with runtime.session(
                    thread_id=record.thread_id, gateway=gateway,
                    store=scoped(store, memory.namespace, memory.read),
                    checkpointer=checkpointer, namespace=tuple(memory.namespace),
                    data_dir=record.root, stream_text=options.stream_text,
                ) as run:  # fmt: skip
                    yield run

    @classmethod
    def from_record(cls, record: RunRecord) -> Pipeline:
        """The pipeline exactly as the run ran it (relative paths resolve from its folder)."""
        return cls.from_text(record.spec_text(), Path(record.meta["spec_path"]))

    # --- drawing -----------------------------------------------------------------------------

    def diagram(self) -> Any:
        from agentrun.pipeline.draw import diagram_of

        return diagram_of(self)


def load_pipeline(
    path: str | os.PathLike[str], overrides: Mapping[str, str] | None = None
) -> Pipeline:
    """Load and validate a pipeline file; raises `SpecError` listing every problem."""
    return Pipeline.load(path, overrides)


def _listing(path: Path, problems: list[str]) -> str:
    count = len(problems)
    head = f"{path}: {count} problem{'s' if count != 1 else ''}"
    return head + "".join(f"\n  {problem}" for problem in problems)


def _input_type(annotation: Any) -> str:
    """The pipeline input type that carries a workflow input of this annotation."""
    from agentrun.media.source import media_kind

    media = media_kind(annotation)
    if media is not None:
        return media
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "number")):
        if annotation is kind or annotation == kind | None:
            return name
    return "text"


def _coerce(name: str, kind: str, value: Any) -> Any:
    try:
        if kind in ("string", "text"):
            return str(value)
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
        if kind == "boolean":
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in ("true", "false", "yes", "no", "1", "0"):
                    raise ValueError(value)
                return lowered in ("true", "yes", "1")
            return bool(value)
        if kind == "list":
            if isinstance(value, str):
                value = spec_loader.load_value(value, f"input {name!r}", depth=1)
            return list(value)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"input {name!r}: {value!r} is not a valid {kind}") from exc
    return value


__all__ = ["Pipeline", "PipelineResult", "RunRecord", "load_pipeline"]
