"""The record of a pipeline run, under `<data dir>/runs/<thread id>/`: the spec as run
(`spec.yaml`), its inputs (long texts by reference, `inputs.json`), its status, options, file
roots and spending (`meta.json`) and its result (`result.json`). `agentrun resume` and
`agentrun runs` read these; every file is owner-only.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentrun.agents.gateway import Gateway
from agentrun.errors import UsageError
from agentrun.pipeline.blobs import BlobStore
from agentrun.pipeline.budget import Limits
from agentrun.pipeline.options import RunOptions
from agentrun.settings import private_dir, write_private
from agentrun.tools.sandbox import FileRoots

RUN_FILES = ("spec.yaml", "inputs.json", "meta.json", "result.json")


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
        *,
        name: str,
        spec_text: str,
        spec_path: Path,
        inputs: dict[str, Any],
        options: RunOptions,
        file_roots: FileRoots,
    ) -> RunRecord:
        """A new record; `inputs` as the run's state holds them (long texts by reference)."""
        record = cls(root, thread_id)
        folder = private_dir(record.folder)
        write_private(folder / "spec.yaml", spec_text)
        write_private(folder / "inputs.json", json.dumps(inputs, ensure_ascii=False))
        record.meta = {
            "thread_id": thread_id, "pipeline": name, "spec_path": str(spec_path.resolve()),
            "status": "created", "created": time.time(), "options": options.to_dict(),
            "cost_usd": 0.0, "file_roots": list(file_roots.shown()),
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

    def spec_text(self) -> str:
        """The spec exactly as it was run."""
        return (self.folder / "spec.yaml").read_text(encoding="utf-8")

    def file_roots(self, spec_roots: FileRoots) -> FileRoots:
        """The folders file tools may read in this run (records from before they were kept:
        the spec's own)."""
        kept = self.meta.get("file_roots")
        return FileRoots.of(kept) if kept else spec_roots

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

    def finish(self, outputs: dict[str, Any], usage: dict[str, Any]) -> Path:
        """Write `result.json` (outputs and usage) and mark the run done."""
        path = self.folder / "result.json"
        payload = {"thread_id": self.thread_id, "outputs": outputs, "usage": usage}
        write_private(path, json.dumps(payload, ensure_ascii=False, indent=2, default=str))
        self.update(status="done", finished=time.time(), error=None, question=None)
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


__all__ = ["RUN_FILES", "CostMeter", "RunRecord"]
