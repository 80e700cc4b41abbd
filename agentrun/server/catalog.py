"""What a server runs: the pipeline files of its folder, by name, and the registered workflows.

A request names a pipeline by its `name`; the name is looked up among the pipeline files the folder
holds (`*.yaml`, `*.yml` saying `version: agentrun/v1`, not below it), so nothing a request says
becomes a path. Each run of a client
is given that client's namespace: its pipeline's `memory.namespace` (and `memory.read`) are put
inside the client's own (`[acme]` becomes `[alice, acme]`), written into the spec the run records,
so a resumed run, even after a restart, stays in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from agentrun.errors import SpecError, UsageError
from agentrun.logs import get_logger
from agentrun.pipeline import Pipeline, load_pipeline
from agentrun.pipeline.spec import MemorySpec
from agentrun.server.auth import Caller
from agentrun.server.models import InputInfo, PipelineInfo, RunRequest, WorkflowInfo

log = get_logger("server")

SPEC_SUFFIXES = (".yaml", ".yml")
#: What every pipeline file says (`version: agentrun/v1`); other YAML files are left alone.
VERSION_MARK = "agentrun/v"


class NotFoundError(UsageError):
    """No pipeline, workflow or run by that name (for this client)."""


@dataclass
class _Loaded:
    mtime: float
    pipeline: Pipeline | None
    error: str | None


class Catalog:
    """The served folder's pipelines (re-read when a file changes) and the workflows."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self._files: dict[Path, _Loaded] = {}

    def pipelines(self) -> dict[str, Pipeline]:
        """Valid pipelines by name (the first file, by file name, wins a name given twice)."""
        found: dict[str, Pipeline] = {}
        for path in sorted(self.folder.iterdir()):
            if path.suffix not in SPEC_SUFFIXES or not path.is_file():
                continue
            loaded = self._load(path)
            if loaded.pipeline is not None:
                found.setdefault(loaded.pipeline.spec.name, loaded.pipeline)
        return found

    def _load(self, path: Path) -> _Loaded:
        mtime = path.stat().st_mtime
        cached = self._files.get(path)
        if cached is not None and cached.mtime == mtime:
            return cached
        if VERSION_MARK not in path.read_text(encoding="utf-8", errors="replace"):
            loaded = _Loaded(mtime, None, "not a pipeline (no `version: agentrun/v1`)")
            self._files[path] = loaded  # a replies file, or other YAML beside the pipelines
            return loaded
        try:
            loaded = _Loaded(mtime, load_pipeline(path), None)
        except (SpecError, UsageError) as exc:
            log.warning("pipeline_invalid", file=path.name, error=str(exc).splitlines()[0])
            loaded = _Loaded(mtime, None, str(exc))
        self._files[path] = loaded
        return loaded

    def pipeline_infos(self) -> list[PipelineInfo]:
        return [
            PipelineInfo(
                name=name,
                description=pipeline.spec.description or "",
                inputs={
                    key: InputInfo(
                        type=spec.type,
                        required=spec.required and spec.default is None,
                        default=spec.default,
                        description=spec.description,
                    )
                    for key, spec in pipeline.spec.inputs.items()
                },
            )
            for name, pipeline in self.pipelines().items()
        ]

    @staticmethod
    def workflow_infos() -> list[WorkflowInfo]:
        from agentrun.graphs.registry import get_workflow, workflow_names, workflow_source

        infos = []
        for name in workflow_names():
            workflow = get_workflow(name)
            infos.append(
                WorkflowInfo(
                    name=name,
                    description=workflow.description,
                    source=workflow_source(name),
                    inputs=workflow.Inputs.model_json_schema(),
                    config=workflow.Config.model_json_schema(),
                )
            )
        return infos

    def for_request(self, request: RunRequest, caller: Caller) -> Pipeline:
        """The pipeline a request names, set to run in the caller's namespace."""
        if request.workflow is not None:
            from agentrun.graphs.registry import unknown_workflow, workflow_names

            if request.workflow not in workflow_names():
                raise NotFoundError(unknown_workflow(request.workflow))
            bad = [key for key in request.config if not key.isidentifier()]
            if bad:
                raise UsageError(f"config key {bad[0]!r} is not a field name")
            config = {f"config.{key}": json.dumps(value) for key, value in request.config.items()}
            placed = namespace_overrides(MemorySpec(), caller)
            return Pipeline.for_workflow(
                request.workflow, request.inputs, {**config, **placed}, folder=self.folder
            )
        assert request.pipeline is not None
        pipeline = self.pipelines().get(request.pipeline)
        if pipeline is None:
            names = ", ".join(self.pipelines()) or "none"
            raise NotFoundError(f"no pipeline named {request.pipeline!r} (served: {names})")
        return Pipeline.load(pipeline.path, namespace_overrides(pipeline.spec.memory, caller))


def namespace_overrides(memory: MemorySpec, caller: Caller) -> dict[str, str]:
    """`--set`-style overrides that put a spec's namespaces inside the caller's."""
    return {
        "memory.namespace": json.dumps(list(caller.namespace(*memory.namespace))),
        "memory.read": json.dumps([list(caller.namespace(*labels)) for labels in memory.read]),
    }


__all__ = ["Catalog", "NotFoundError"]
