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
from collections.abc import Iterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agentrun import pipeline_checks, spec_loader
from agentrun.agents.config import GatewayConfig, ModelConfig
from agentrun.agents.gateway import Gateway
from agentrun.errors import AgentrunError, RunFailedError, SpecError, UsageError
from agentrun.graphs import runtime
from agentrun.graphs.runtime import EventHandler
from agentrun.pipeline_graph import PipelineGraph
from agentrun.settings import data_dir as resolve_data_dir
from agentrun.settings import private_dir
from agentrun.spec import PipelineSpec

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

    Values are parsed as YAML scalars, so `3` is a number and `true` a boolean.
    """
    for dotted, raw in overrides.items():
        value = yaml.safe_load(raw) if raw.strip() else ""
        parts = dotted.split(".")
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
        from agentrun.pipeline_fakes import FakeReplies

        replies = FakeReplies.from_models(fakes, self.base_dir)
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
    ) -> PipelineResult:
        """Run the pipeline; a run record is kept under the data directory."""
        values = self.coerce_inputs(inputs or {})
        thread_id = thread_id or runtime.new_thread_id()
        root = resolve_data_dir(data_dir)
        record = RunRecord.create(root, thread_id, self, values)
        initial = {"inputs": values, "results": {}, "visits": {}}
        return await self._execute(
            initial, record, gateway, store, checkpointer, cache, on_event, stream_text
        )

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
        stream_text: bool = False,
    ) -> PipelineResult:
        record = RunRecord.open(resolve_data_dir(data_dir), thread_id)
        return await self._execute(
            None, record, gateway, store, checkpointer, cache, on_event, stream_text
        )

    def resume(self, thread_id: str, **options: Any) -> PipelineResult:
        """Sync twin of `aresume`."""
        return runtime.run_sync(self.aresume(thread_id, **options))

    async def _execute(
        self,
        graph_input: dict[str, Any] | None,
        record: RunRecord,
        gateway: Gateway | None,
        store: Any,
        checkpointer: Any,
        cache: bool | None,
        on_event: EventHandler | None,
        stream_text: bool,
    ) -> PipelineResult:
        record.update(status="running", started=time.time())
        builder = PipelineGraph(self.spec, self.base_dir, record.thread_id)
        try:
            with self._fakes():
                async with AsyncExitStack() as stack:
                    if gateway is None:
                        gateway = Gateway(self.gateway_config(), data_dir=record.root, cache=cache)
                        await stack.enter_async_context(gateway)
                    if store is None:
                        store = stack.enter_context(self._store(record.root))
                    async with runtime.session(
                        thread_id=record.thread_id, gateway=gateway, store=store,
                        checkpointer=checkpointer, namespace=tuple(self.spec.memory.namespace),
                        data_dir=record.root, stream_text=stream_text,
                    ) as run:  # fmt: skip
                        if graph_input is None:
                            await run.saved(builder.build())
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
            if not isinstance(exc, Exception) or (
                isinstance(exc, AgentrunError) and not isinstance(exc, RunFailedError)
            ):
                raise
            message = str(exc).split(" (resume with:")[0]
            raise RunFailedError(
                f"run {record.thread_id} failed: {message}", record.thread_id
            ) from exc
        return result

    # --- drawing -----------------------------------------------------------------------------

    def diagram(self) -> Any:
        from agentrun.graph_render import diagram_of

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
            return list(yaml.safe_load(value)) if isinstance(value, str) else list(value)
    except (TypeError, ValueError, yaml.YAMLError) as exc:
        raise UsageError(f"input {name!r}: {value!r} is not a valid {kind}") from exc
    return value


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
        cls, root: Path, thread_id: str, pipeline: Pipeline, inputs: dict[str, Any]
    ) -> RunRecord:
        record = cls(root, thread_id)
        folder = private_dir(record.folder)
        (folder / "spec.yaml").write_text(pipeline.text, encoding="utf-8")
        (folder / "inputs.json").write_text(
            json.dumps(inputs, ensure_ascii=False), encoding="utf-8"
        )
        record.meta = {
            "thread_id": thread_id, "pipeline": pipeline.spec.name,
            "spec_path": str(pipeline.path.resolve()), "status": "created", "created": time.time(),
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

    def inputs(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.folder / "inputs.json").read_text(encoding="utf-8"))
        return data

    def update(self, **values: Any) -> None:
        self.meta.update(values)
        self._write_meta()

    def finish(self, result: PipelineResult) -> Path:
        path = self.folder / "result.json"
        payload = {"thread_id": result.thread_id, "outputs": result.outputs, "usage": result.usage}
        path.write_text(
            json.dumps(payload, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
        )
        self.update(status="done", finished=time.time(), error=None)
        return path

    def _write_meta(self) -> None:
        (self.folder / "meta.json").write_text(json.dumps(self.meta, indent=2), encoding="utf-8")

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
