"""Pipelines: a YAML spec loaded, validated, and run (or resumed) as a LangGraph graph.

`load_pipeline(path)` gives a `Pipeline` with `run(...)` / `arun(...)`. Embedding one in an
application needs no global state: the models, store and checkpointer are made per run (or
passed in), and nothing touches logging. Every run keeps a record under
`<data dir>/runs/<thread id>/` (the spec as run, its inputs, status, result), which is what
`agentrun resume` and `agentrun runs` read.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agentrun.agents.config import GatewayConfig, ModelConfig
from agentrun.agents.gateway import Gateway
from agentrun.errors import AgentrunError, RunFailedError, SpecError, UsageError
from agentrun.graphs import runtime
from agentrun.graphs.runtime import EventHandler
from agentrun.memory.scope import scoped
from agentrun.pipeline import budget
from agentrun.pipeline import checks as pipeline_checks
from agentrun.pipeline import load as spec_loader
from agentrun.pipeline.blobs import BlobStore
from agentrun.pipeline.budget import Estimate, Limits
from agentrun.pipeline.compile import PipelineGraph
from agentrun.pipeline.options import RunOptions
from agentrun.pipeline.spec import PipelineSpec
from agentrun.settings import data_dir as resolve_data_dir
from agentrun.settings import private_dir, write_private
from agentrun.tools.sandbox import FileRoots

RUN_FILES = ("spec.yaml", "inputs.json", "meta.json", "result.json")


@dataclass
class PipelineResult:
    thread_id: str
    outputs: dict[str, Any]
    results: dict[str, Any]
    usage: dict[str, Any]
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

    # --- loading -----------------------------------------------------------------------------

    @classmethod
    def from_text(
        cls, text: str, path: Path, overrides: Mapping[str, str] | None = None
    ) -> Pipeline:
        data, source = spec_loader.load_yaml(text, str(path))
        if not isinstance(data, dict):
            raise SpecError(f"{path}:1:1: a pipeline is a mapping (found {type(data).__name__})")
        if overrides:
            data = apply_overrides(data, overrides)
        try:
            spec = PipelineSpec.model_validate(data)
        except ValidationError as exc:
            problems = spec_loader.validation_problems(exc, PipelineSpec, source)
            raise SpecError(_listing(path, problems)) from None
        problems = pipeline_checks.check(spec, source, path.parent)
        if problems:
            raise SpecError(_listing(path, problems))
        return cls(spec, text, path)

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
    def _store(self, data_dir: Path) -> Iterator[Any]:
        """The store `memory.backend` names: embedded chroma, a chroma server, or in-process."""
        from agentrun import memory

        spec = self.spec.memory
        if spec.backend == "memory":
            yield memory.in_memory_store(memory.default_embedder())
        elif spec.backend == "chroma-server":
            assert spec.url is not None
            with memory.ChromaStore.http(spec.url, memory.default_embedder()) as store:
                yield store
        else:
            with memory.default_store(data_dir) as store:
                yield store

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

    def coerce_inputs(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Inputs checked against their declarations: known names, required ones, types."""
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
                raise UsageError(f"missing input {name!r} ({spec.description or spec.type}); "
                                 f"pass --input {name}=...")  # fmt: skip
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

    async def arun(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        thread_id: str | None = None,
        gateway: Gateway | None = None,
        store: Any = None,
        checkpointer: Any = None,
        data_dir: str | os.PathLike[str] | None = None,
        cache: bool | None = None,
        on_event: EventHandler | None = None,
        stream_text: bool = False,
        max_input_tokens: int | None = None,
        max_cost_usd: float | None = None,
        file_roots: Iterable[str | os.PathLike[str]] = (),
    ) -> PipelineResult:
        """Run the pipeline; a run record is kept under the data directory.

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
        stored = BlobStore(root).stash(values)
        record = RunRecord.create(root, thread_id, self, stored, options, roots)
        initial = record.initial_state()
        return await self._execute(initial, record, options, gateway, store, checkpointer, on_event)

    def run(self, inputs: Mapping[str, Any] | None = None, **options: Any) -> PipelineResult:
        """Sync twin of `arun`."""
        return runtime.run_sync(self.arun(inputs, **options))

    async def aresume(
        self,
        thread_id: str,
        *,
        gateway: Gateway | None = None,
        store: Any = None,
        checkpointer: Any = None,
        data_dir: str | os.PathLike[str] | None = None,
        cache: bool | None = None,
        on_event: EventHandler | None = None,
        stream_text: bool | None = None,
        max_cost_usd: float | None = None,
    ) -> PipelineResult:
        """Continue a run from its last checkpoint, with the options and file roots it was
        started with; an option given here (not None) replaces the stored one, for this and
        later resumes."""
        record = RunRecord.open(resolve_data_dir(data_dir), thread_id)
        options = record.options().overridden(
            cache=cache, stream_text=stream_text, max_cost_usd=max_cost_usd
        )
        return await self._execute(None, record, options, gateway, store, checkpointer, on_event)

    def resume(self, thread_id: str, **options: Any) -> PipelineResult:
        """Sync twin of `aresume`."""
        return runtime.run_sync(self.aresume(thread_id, **options))

    async def _execute(
        self,
        graph_input: dict[str, Any] | None,
        record: RunRecord,
        options: RunOptions,
        gateway: Gateway | None,
        store: Any,
        checkpointer: Any,
        on_event: EventHandler | None,
    ) -> PipelineResult:
        record.update(status="running", started=time.time(), options=options.to_dict())
        builder = PipelineGraph(
            self.spec, record.file_roots(self), record.thread_id, BlobStore(record.root)
        )
        spent = CostMeter(record)
        try:
            with self._fakes():
                async with AsyncExitStack() as stack:
                    if gateway is None:
                        gateway = Gateway(
                            self.gateway_config(), data_dir=record.root, cache=options.cache
                        )
                        await stack.enter_async_context(gateway)
                    stack.enter_context(spent.limiting(gateway, self.limits(options)))
                    if store is None:
                        store = stack.enter_context(self._store(record.root))
                    memory = self.spec.memory
                    async with runtime.session(
                        thread_id=record.thread_id, gateway=gateway,
                        store=scoped(store, memory.namespace, memory.read),
                        checkpointer=checkpointer, namespace=tuple(memory.namespace),
                        data_dir=record.root, stream_text=options.stream_text,
                    ) as run:  # fmt: skip
                        if graph_input is None and not await run.has_checkpoint():
                            # it stopped before its first checkpoint: start it afresh
                            graph_input = record.initial_state()
                        state = await run.run(builder.build(), graph_input, on_event=on_event)
            result = PipelineResult(
                thread_id=record.thread_id,
                outputs=builder.outputs(state),
                results=dict(state.get("results") or {}),
                usage=dict(state.get("usage") or {}),
            )
            result.result_path = record.finish(result)
        except BaseException as exc:
            status = "failed" if isinstance(exc, Exception) else "interrupted"
            record.update(status=status, error=str(exc) or type(exc).__name__, finished=time.time())
            if not isinstance(exc, Exception):
                raise
            if isinstance(exc, AgentrunError):
                exc.thread_id = record.thread_id  # its own type and exit code, and the run
                raise
            raise RunFailedError(f"run {record.thread_id} failed: {exc}", record.thread_id) from exc
        return result

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


@dataclass
class CostMeter:
    """Keeps a run's spending across resumes: the gateway refuses calls past the run's limit,
    counting what earlier attempts spent, and the record learns the new total when it ends."""

    record: RunRecord

    @contextlib.contextmanager
    def limiting(self, gateway: Gateway, limits: Limits) -> Iterator[None]:
        previous = gateway.cost_limit
        limit = gateway.limit_cost(limits.max_cost_usd, spent_usd=self.record.spent_usd())
        try:
            yield
        finally:
            assert limit is not None
            self.record.update(cost_usd=limit.spent(gateway.ledger))
            gateway.cost_limit = previous


# --- run records -------------------------------------------------------------------------------


@dataclass
class RunRecord:
    """The files of one run under `<data dir>/runs/<thread id>/`."""

    root: Path
    thread_id: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.root / "runs" / self.thread_id

    @classmethod
    def create(
        cls,
        root: Path,
        thread_id: str,
        pipeline: Pipeline,
        inputs: dict[str, Any],
        options: RunOptions | None = None,
        file_roots: FileRoots | None = None,
    ) -> RunRecord:
        """A new record; `inputs` as the run's state holds them (long texts by reference)."""
        record = cls(root, thread_id)
        folder = private_dir(record.folder)
        write_private(folder / "spec.yaml", pipeline.text)
        write_private(folder / "inputs.json", json.dumps(inputs, ensure_ascii=False))
        record.meta = {
            "thread_id": thread_id, "pipeline": pipeline.spec.name,
            "spec_path": str(pipeline.path.resolve()), "status": "created", "created": time.time(),
            "options": (options or RunOptions()).to_dict(), "cost_usd": 0.0,
            "file_roots": list((file_roots or pipeline.spec_roots()).shown()),
        }  # fmt: skip
        record._write_meta()
        return record

    @classmethod
    def open(cls, root: Path, thread_id: str) -> RunRecord:
        record = cls(root, thread_id)
        meta_file = record.folder / "meta.json"
        if not meta_file.is_file():
            raise UsageError(f"no run {thread_id!r} under {root / 'runs'}; see `agentrun runs ls`")
        record.meta = json.loads(meta_file.read_text(encoding="utf-8"))
        return record

    def pipeline(self) -> Pipeline:
        """The pipeline exactly as it was run (relative paths resolve from its original folder)."""
        text = (self.folder / "spec.yaml").read_text(encoding="utf-8")
        return Pipeline.from_text(text, Path(self.meta["spec_path"]))

    def file_roots(self, pipeline: Pipeline) -> FileRoots:
        """The folders file tools may read in this run (records from before they were kept:
        the spec's own)."""
        kept = self.meta.get("file_roots")
        return FileRoots.of(kept) if kept else pipeline.spec_roots()

    def stored_inputs(self) -> dict[str, Any]:
        """The run's inputs as its state holds them: long texts by reference."""
        data: dict[str, Any] = json.loads((self.folder / "inputs.json").read_text(encoding="utf-8"))
        return data

    def inputs(self) -> dict[str, Any]:
        """The run's inputs, long texts read back from where they are stored."""
        return BlobStore(self.root).resolve(self.stored_inputs())

    def initial_state(self) -> dict[str, Any]:
        """The pipeline graph's state before its first step."""
        return {"inputs": self.stored_inputs(), "results": {}, "visits": {}}

    def options(self) -> RunOptions:
        """The options the run was (last) started with."""
        return RunOptions.from_dict(self.meta.get("options"))

    def update(self, **values: Any) -> None:
        self.meta.update(values)
        self._write_meta()

    def finish(self, result: PipelineResult) -> Path:
        path = self.folder / "result.json"
        payload = {"thread_id": result.thread_id, "outputs": result.outputs, "usage": result.usage}
        write_private(path, json.dumps(payload, ensure_ascii=False, indent=2, default=str))
        self.update(status="done", finished=time.time(), error=None)
        return path

    def spent_usd(self) -> float:
        """What the run's model calls cost over every attempt at it so far."""
        return float(self.meta.get("cost_usd") or 0.0)

    def _write_meta(self) -> None:
        write_private(self.folder / "meta.json", json.dumps(self.meta, indent=2))

    @staticmethod
    def all(root: Path) -> list[dict[str, Any]]:
        runs = root / "runs"
        if not runs.is_dir():
            return []
        metas = []
        for folder in runs.iterdir():
            meta = folder / "meta.json"
            with contextlib.suppress(OSError, ValueError):
                metas.append(json.loads(meta.read_text(encoding="utf-8")))
        return sorted(metas, key=lambda m: m.get("created", 0), reverse=True)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


__all__ = ["Pipeline", "PipelineResult", "RunRecord", "load_pipeline"]
