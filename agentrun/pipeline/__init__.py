"""YAML pipelines: the spec (`agentrun/v1`), loading and checks, templates, compilation to a
LangGraph graph, drawing, and running with a record per run.

`load_pipeline(path)` gives a validated `Pipeline`; its `run`/`arun`/`resume`/`aresume` keep a
record under `<data dir>/runs/<thread id>/`, which `agentrun resume` and `agentrun runs` read.
"""

from __future__ import annotations

from agentrun.pipeline.run import Pipeline, PipelineResult, RunRecord, load_pipeline

__all__ = ["Pipeline", "PipelineResult", "RunRecord", "load_pipeline"]
