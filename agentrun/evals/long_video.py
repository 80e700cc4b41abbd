"""The long-video eval: long-caption and video-qa on synthetic videos with known content.

The eval writes its own videos (`agentrun.media.synthetic`: scenes of coloured shapes with
on-screen text that change at known times, with a spoken sentence a scene where espeak-ng is
installed), or takes one video with its ground truth (`video`, `events`). On each video:

- long-caption: event recall (the share of scenes whose on-screen text the description names),
  order accuracy (adjacent named scenes named in order), the mean distance from each mention's
  nearest earlier timestamp to its scene's start, and words against the target;
- video-qa: answer accuracy of retrieval (`rag`) against the uniform-frames baseline on the
  exact questions of `agentrun.evals.video_questions`, overall and by kind, and the share of
  citations that lie in what the model was sent;
- tokens, calls and cost of each.

`model: scripted` (the default) is `agentrun.evals.scripted_vlm.ScriptedVLM`: it answers from
the generator's ground truth, wrong at `error_rate`, so the numbers measure the workflows'
aggregation and retrieval; any LiteLLM vision model name runs the same eval on that model.
Each finished video and question is appended to `results.jsonl` at once, tagged with the
settings' fingerprint, and skipped on a re-run; `report.json` and `long_video.png` summarize.
An item interrupted part way is run again, and finds the captions and index its first attempt
stored.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from langgraph.store.base import BaseStore
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentrun.agents.gateway import Gateway
from agentrun.evals import video_questions as vq
from agentrun.evals.report import ResultLog, prepare_out_dir, write_json
from agentrun.evals.scripted_vlm import ScriptedVLM
from agentrun.graphs import runtime
from agentrun.graphs.long_caption import LongCaption
from agentrun.graphs.video_qa import VideoQA
from agentrun.media.synthetic import (
    SceneEvent,
    espeak_available,
    events_path,
    load_events,
    save_events,
    write_synthetic_video,
)
from agentrun.settings import open_private

Method = Literal["long-caption", "rag", "uniform"]
METHODS: tuple[Method, ...] = ("long-caption", "rag", "uniform")
SCRIPTED = "scripted"
#: The model name the scripted VLM answers to.
SCRIPTED_MODEL = "fake/scripted-vlm"
REPORT_JSON = "report.json"
REPORT_PNG = "long_video.png"

RowCallback = Callable[[dict[str, Any]], None]


class LongVideoEvalConfig(BaseModel):
    """What one eval run measures; its fingerprint tags the saved rows."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(default=SCRIPTED, description="scripted, or a LiteLLM vision model.")
    text_model: str | None = Field(default=None, description="Merges and sections (long-caption).")
    error_rate: float = Field(default=0.1, ge=0, le=1, description="The scripted VLM's.")
    methods: list[Method] = Field(default_factory=lambda: list(METHODS))
    seed: int = 0
    videos: int = Field(default=2, ge=1)
    duration_s: float = Field(default=120.0, ge=10)
    speech: bool | None = Field(default=None, description="None: where espeak-ng is installed.")
    per_kind: int = Field(default=2, ge=1, description="Questions of each kind per video.")
    segment_s: float = Field(default=10.0, gt=0)
    max_sections: int = Field(default=4, ge=1)
    target_words: int = Field(default=400, ge=20)
    max_frames: int = Field(default=16, ge=1)
    ocr: bool | None = None
    video: str | None = Field(default=None, description="Evaluate this video instead.")
    events: str | None = Field(default=None, description="Its ground truth (default: beside it).")

    @model_validator(mode="after")
    def _something_to_run(self) -> LongVideoEvalConfig:
        if not self.methods:
            raise ValueError("name at least one method: long-caption, rag, uniform")
        return self

    @property
    def scripted(self) -> bool:
        return self.model == SCRIPTED

    @property
    def vlm(self) -> str:
        return SCRIPTED_MODEL if self.scripted else self.model

    def fingerprint(self) -> str:
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]


def _settings(config: LongVideoEvalConfig) -> dict[str, Any]:
    """What both workflows share, from the eval's settings."""
    return {"model": config.vlm, "segment_s": config.segment_s, "reuse": True}


def long_caption(config: LongVideoEvalConfig, **resources: Any) -> LongCaption:
    options = _settings(config) | {"max_sections": config.max_sections,
                                   "text_model": config.text_model or config.vlm}  # fmt: skip
    return LongCaption(options, **resources)


def video_qa(config: LongVideoEvalConfig, method: str, **resources: Any) -> VideoQA:
    options = _settings(config) | {"method": method, "max_frames": config.max_frames,
                                   "ocr": config.ocr}  # fmt: skip
    return VideoQA(options, **resources)


# --- videos ------------------------------------------------------------------------------------


def videos(
    config: LongVideoEvalConfig, out: Path
) -> list[tuple[str, Path, tuple[SceneEvent, ...]]]:
    """(id, path, ground truth) of each video: the given one, or those the eval writes (kept
    in `out/videos`, written again only if missing)."""
    if config.video is not None:
        path = Path(config.video).expanduser()
        events = load_events(config.events or events_path(path))
        return [(path.stem, path.resolve(), events)]
    folder = out / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    speech = espeak_available() if config.speech is None else config.speech
    made = []
    for number in range(config.videos):
        seed = config.seed * 1000 + number
        path = folder / f"video-{seed}-{config.duration_s:g}s{'-spoken' if speech else ''}.mp4"
        if not (path.exists() and events_path(path).exists()):
            video = write_synthetic_video(path, seed=seed, duration_s=config.duration_s,
                                          speech=speech)  # fmt: skip
            save_events(video)
        made.append((path.stem, path, load_events(events_path(path))))
    return made


def has_speech(events: Sequence[SceneEvent]) -> bool:
    return any(event.speech_start is not None for event in events)


# --- running -----------------------------------------------------------------------------------


@contextmanager
def vlm_for(config: LongVideoEvalConfig, events: Sequence[SceneEvent]) -> Iterator[None]:
    """The scripted VLM for one video's ground truth (nothing for a real model)."""
    if not config.scripted:
        yield
        return
    from agentrun.agents.testing import scripted_model

    vlm = ScriptedVLM(events, error_rate=config.error_rate, seed=config.seed)
    with scripted_model(vlm, context_window=128_000):
        yield


def _usage(result: Any) -> dict[str, Any]:
    usage = result.usage
    keys = ("prompt_tokens", "completion_tokens", "model_calls", "cost_usd")
    return {key: usage.get(key, 0) for key in keys}


async def arun_eval(
    config: LongVideoEvalConfig,
    out_dir: str | os.PathLike[str],
    *,
    gateway: Gateway | None = None,
    store: BaseStore | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    on_row: RowCallback | None = None,
) -> dict[str, Any]:
    """Run (or finish) the eval; return the report written to `out_dir` (the store defaults
    to the data directory's, where the videos' captions and indexes stay for later runs)."""
    out = Path(out_dir)
    fingerprint = config.fingerprint()
    prepare_out_dir(out, config.model_dump(mode="json"))
    log = ResultLog(out)
    done = {row["item_id"] + "/" + row["strategy"] for row in _rows(log, fingerprint)}
    prefix = f"lv-{fingerprint}-{runtime.new_thread_id()}"

    def keep(row: dict[str, Any]) -> None:
        row["fingerprint"] = fingerprint
        log.append(row)
        if on_row is not None:
            on_row(row)

    async with runtime.resources(gateway, store, None, data_dir) as res:
        resources = {"gateway": res.gateway, "store": res.store, "checkpointer": res.checkpointer}
        for video_id, path, events in videos(config, out):
            with vlm_for(config, events):
                if "long-caption" in config.methods and f"{video_id}/long-caption" not in done:
                    keep(await _caption(config, video_id, path, events, f"{prefix}-{video_id}",
                                        resources))  # fmt: skip
                questions = vq.make_questions(events, config.per_kind, config.seed,
                                              spoken=has_speech(events))  # fmt: skip
                for number, question in enumerate(questions):
                    item = f"{video_id}-q{number}"
                    for method in ("rag", "uniform"):
                        if method in config.methods and f"{item}/{method}" not in done:
                            thread = f"{prefix}-{item}-{method}"
                            keep(await _ask(config, method, item, path, question, thread,
                                            resources))  # fmt: skip
    return write_report(config, out)


async def _caption(
    config: LongVideoEvalConfig, video_id: str, path: Path, events: Sequence[SceneEvent],
    thread: str, resources: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    workflow = long_caption(config, **resources)
    result = await workflow.arun(video=path, target_words=config.target_words, thread_id=thread)
    score = vq.score_description(result.description, events)
    return {
        "strategy": "long-caption", "item_id": video_id, "scenes": score.scenes,
        "found": score.found, "event_recall": score.recall,
        "order_accuracy": score.order_accuracy, "timestamp_error_s": score.timestamp_error_s,
        "words": result.words, "target_words": result.target_words,
        "sections": len(result.sections), "levels": result.levels, "merges": result.merges,
        "segments": result.segments,
        "description": result.description, **_usage(result),
    }  # fmt: skip


async def _ask(
    config: LongVideoEvalConfig, method: str, item: str, path: Path,
    question: vq.VideoQuestion, thread: str, resources: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    workflow = video_qa(config, method, **resources)
    result = await workflow.arun(video=path, question=question.question, thread_id=thread)
    grounded = [citation.grounded for citation in result.citations]
    return {
        "strategy": method, "item_id": item, "kind": question.kind,
        "question": question.question, "expected": question.expected,
        "answer": result.answer, "right": vq.is_right(question, result.answer),
        "citations": len(grounded), "grounded": sum(grounded),
        "segments": [s.segment for s in result.segments], "frames": len(result.frames),
        **_usage(result),
    }  # fmt: skip


# --- the report --------------------------------------------------------------------------------


def _rows(log: ResultLog, fingerprint: str) -> list[dict[str, Any]]:
    return [row for row in log.read() if row.get("fingerprint") == fingerprint]


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def _costs(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    count = len(rows) or 1
    return {
        "prompt_tokens": sum(r["prompt_tokens"] for r in rows),
        "completion_tokens": sum(r["completion_tokens"] for r in rows),
        "model_calls": sum(r["model_calls"] for r in rows),
        "cost_usd": sum(r["cost_usd"] for r in rows),
        "prompt_tokens_per_item": sum(r["prompt_tokens"] for r in rows) / count,
    }


def summarize(rows: Sequence[dict[str, Any]], methods: Sequence[str]) -> dict[str, Any]:
    """Per method: its scores and what it cost."""
    summary: dict[str, Any] = {}
    for method in methods:
        mine = [row for row in rows if row["strategy"] == method]
        if method == "long-caption":
            summary[method] = {
                "videos": len(mine),
                "event_recall": _mean([r["event_recall"] for r in mine]),
                "order_accuracy": _mean([r["order_accuracy"] for r in mine]),
                "timestamp_error_s": _mean([r["timestamp_error_s"] for r in mine]),
                "words": _mean([r["words"] for r in mine]),
                "target_words": _mean([r["target_words"] for r in mine]),
                **_costs(mine),
            }
            continue
        by_kind = {
            kind: _mean([float(r["right"]) for r in mine if r["kind"] == kind])
            for kind in vq.KINDS
            if any(r["kind"] == kind for r in mine)
        }
        cited = sum(r["citations"] for r in mine)
        summary[method] = {
            "questions": len(mine),
            "accuracy": _mean([float(r["right"]) for r in mine]),
            "by_kind": by_kind,
            "grounded_citations": sum(r["grounded"] for r in mine) / cited if cited else None,
            **_costs(mine),
        }
    return summary


def write_report(config: LongVideoEvalConfig, out: Path) -> dict[str, Any]:
    """Summarize the saved rows of these settings into report.json and the PNG."""
    fingerprint = config.fingerprint()
    rows = list({(r["item_id"], r["strategy"]): r for r in _rows(ResultLog(out), fingerprint)}
                .values())  # fmt: skip
    summary = summarize(rows, config.methods)
    report: dict[str, Any] = {
        "eval": "long-video",
        "config": config.model_dump(mode="json"),
        "fingerprint": fingerprint,
        "summary": summary,
        "plot": str(plot(summary, out / REPORT_PNG, _title(config))),
        "rows": rows,
    }
    write_json(out / REPORT_JSON, report)
    return report


def _title(config: LongVideoEvalConfig) -> str:
    model = f"scripted VLM, error rate {config.error_rate:g}" if config.scripted else config.model
    source = config.video or f"{config.videos} synthetic videos of {config.duration_s:g} s"
    return f"long video: {model}; {source}"


def plot(summary: dict[str, Any], path: Path, title: str) -> Path:
    """Long-caption's scores, and video-qa's accuracy by question kind for each method."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11.0, 4.0), dpi=100)
    FigureCanvasAgg(figure)
    left, right = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    caption = summary.get("long-caption") or {}
    names = ["event recall", "order accuracy"]
    values = [caption.get("event_recall") or 0.0, caption.get("order_accuracy") or 0.0]
    left.bar(names, values, color=["tab:blue", "tab:orange"])
    left.set_ylim(0, 1.05)
    left.set_title("long-caption", fontsize=10)
    qa = [m for m in ("rag", "uniform") if m in summary]
    kinds = [k for k in vq.KINDS if any(k in summary[m]["by_kind"] for m in qa)] + ["all"]
    width = 0.8 / max(1, len(qa))
    for offset, method in enumerate(qa):
        scores = summary[method]["by_kind"] | {"all": summary[method]["accuracy"]}
        heights = [scores.get(kind) or 0.0 for kind in kinds]
        right.bar([i + offset * width for i in range(len(kinds))], heights, width, label=method)
    right.set_xticks([i + width * (len(qa) - 1) / 2 for i in range(len(kinds))], kinds)
    right.set_ylim(0, 1.05)
    right.set_title("video-qa: answer accuracy", fontsize=10)
    if qa:
        right.legend(fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    with open_private(path, "wb") as handle:
        figure.savefig(handle, format="png")
    return path
