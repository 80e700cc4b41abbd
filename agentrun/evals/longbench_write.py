"""LongBench-Write: does the output have the requested length (S_l), and is it good (S_q)?

The 120 prompts ship with agentrun (`agentrun/evals/data/longbench_write/`, Apache-2.0, from
THUDM/LongWriter). Each sampled prompt is written by every system on the same model: AgentWrite
(sequential or parallel) and the single-call baseline. Each result is appended to
`results.jsonl` the moment it finishes; section texts and checkpoints live in `progress.sqlite`
in the same directory, so a re-run skips finished items and continues a half-written one without
re-sending its calls. S_q needs a judge model; without one the report says so and S_q is null.
The run ends with `report.json` and `length_scores.png`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shlex
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore
from pydantic import BaseModel, ConfigDict, Field

from agentrun.agents.config import LOCAL_MODEL
from agentrun.agents.gateway import Gateway
from agentrun.errors import (
    ContextLengthError,
    ModelCallError,
    RunFailedError,
    UsageError,
)
from agentrun.graphs.agent_write import AgentWrite, AgentWriteConfig, single_call
from agentrun.settings import open_private, private_dir, write_private
from agentrun.text.words import Language, count_words, language_of, length_score

Subset = Literal["en", "zh", "all"]
System = Literal["agentwrite", "agentwrite-parallel", "single"]
SYSTEMS: dict[str, str] = {
    "agentwrite": "AgentWrite, sections written in order with a running summary",
    "agentwrite-parallel": "AgentWrite, sections written concurrently from the plan",
    "single": "one call with the prompt alone (the baseline)",
}
#: Length buckets of the paper, in required words: [0,500), [500,2000), [2000,4000), [4000,20000].
BUCKETS: tuple[tuple[int, int], ...] = ((0, 500), (500, 2000), (2000, 4000), (4000, 20001))
DIMENSIONS = (
    "relevance", "accuracy", "coherence", "clarity", "breadth_and_depth", "reading_experience",
)  # fmt: skip
RESULTS_FILE = "results.jsonl"
REPORT_FILE = "report.json"
PLOT_FILE = "length_scores.png"
PROGRESS_FILE = "progress.sqlite"
SAFETY_TOKENS = 32
NO_JUDGE = "S_q not computed: no judge model configured (pass --judge-model, e.g. openai/gpt-4o)"
FAILED_ITEMS = (
    "an item that failed scores S_l = 0 (and S_q = 0 when judged), as an empty output does in "
    "LongBench-Write; the next run retries it"
)
#: Errors that fail one item (recorded, retried on the next run), not the whole eval.
ITEM_ERRORS = (ModelCallError, ContextLengthError, RunFailedError, UsageError)

RowHandler = Callable[[dict[str, Any], int, int], None]


# --- prompts and scores ------------------------------------------------------------------------


@dataclass(frozen=True)
class WritingPrompt:
    id: str
    prompt: str
    type: str
    length: int
    language: Language
    english_subset: bool


def data_dir() -> Any:
    return resources.files("agentrun.evals").joinpath("data", "longbench_write")


def load_prompts(subset: Subset = "all") -> list[WritingPrompt]:
    """The shipped prompts, ids `lbw-000`..`lbw-119` in file order; `en` is the paper's English
    subset (`longbench_write_en.jsonl`), `zh` the rest."""
    folder = data_dir()
    english = {
        json.loads(line)["prompt"]
        for line in folder.joinpath("longbench_write_en.jsonl").read_text("utf-8").splitlines()
        if line.strip()
    }
    found: list[WritingPrompt] = []
    lines = folder.joinpath("longbench_write.jsonl").read_text("utf-8").splitlines()
    for index, line in enumerate(line for line in lines if line.strip()):
        raw = json.loads(line)
        in_english = raw["prompt"] in english
        if subset == "all" or (subset == "en") == in_english:
            found.append(
                WritingPrompt(
                    id=f"lbw-{index:03d}",
                    prompt=raw["prompt"],
                    type=raw["type"],
                    length=int(raw["length"]),
                    language=language_of(raw["prompt"]),
                    english_subset=in_english,
                )
            )
    return found


def bucket_of(length: int) -> str:
    for low, high in BUCKETS:
        if low <= length < high:
            return bucket_label(low, high)
    raise ValueError(f"required length {length} is outside every bucket")


def bucket_label(low: int, high: int) -> str:
    return f"[{low},{high})" if high <= 4000 else f"[{low},{high - 1}]"


def sample_prompts(
    items: Sequence[WritingPrompt], size: int | None, seed: int
) -> list[WritingPrompt]:
    """`size` prompts spread as evenly as the buckets allow (seeded), in id order; all if None."""
    if size is None or size >= len(items):
        return list(items)
    rng = random.Random(seed)
    pools: dict[str, list[WritingPrompt]] = {}
    for item in items:
        pools.setdefault(bucket_of(item.length), []).append(item)
    for pool in pools.values():
        rng.shuffle(pool)
    chosen: list[WritingPrompt] = []
    order = [bucket_label(*bucket) for bucket in BUCKETS]
    while len(chosen) < size:
        for label in order:
            if pools.get(label) and len(chosen) < size:
                chosen.append(pools[label].pop())
    return sorted(chosen, key=lambda item: item.id)


class JudgeScores(BaseModel):
    """A judge's ratings, 1 (poor) to 5 (excellent), length ignored."""

    model_config = ConfigDict(extra="ignore")

    relevance: int = Field(ge=1, le=5)
    accuracy: int = Field(ge=1, le=5)
    coherence: int = Field(ge=1, le=5)
    clarity: int = Field(ge=1, le=5)
    breadth_and_depth: int = Field(ge=1, le=5)
    reading_experience: int = Field(ge=1, le=5)


def quality_score(scores: JudgeScores | Mapping[str, int]) -> float:
    """S_q: each dimension's 1-5 rating mapped to 0-100, averaged."""
    values = scores.model_dump() if isinstance(scores, JudgeScores) else dict(scores)
    return sum((int(values[d]) - 1) * 25 for d in DIMENSIONS) / len(DIMENSIONS)


def judge_messages(instruction: str, response: str) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You grade responses to writing instructions, fairly."},
        {
            "role": "user",
            "content": f"Writing instruction:\n{instruction}\n\nResponse:\n{response}\n\n"
            "Rate the response from 1 (poor) to 5 (excellent) on each of: relevance to the "
            "instruction, accuracy, coherence, clarity, breadth and depth, and reading "
            "experience. Do not let its length affect any rating.",
        },
    ]


# --- settings ------------------------------------------------------------------------------------


class LongBenchWriteSettings(BaseModel):
    """What one LongBench-Write run measures (saved in its report)."""

    model_config = ConfigDict(extra="forbid")

    eval: str = "longbench-write"
    model: str = LOCAL_MODEL
    subset: Subset = "en"
    sample: int | None = Field(default=None, gt=0, description="Prompts drawn across buckets.")
    seed: int = 0
    max_length: int | None = Field(
        default=None, gt=0, description="Skip prompts that require more words than this."
    )
    systems: list[System] = Field(default=["agentwrite", "single"], min_length=1)
    judge_model: str | None = None
    baseline_max_tokens: int | None = Field(
        default=None, gt=0, description="Cap on the single call's output (default: the window)."
    )
    concurrency: int = Field(default=1, gt=0)
    writer: dict[str, Any] = Field(
        default_factory=dict, description="AgentWriteConfig overrides (model and mode are set)."
    )

    def writer_config(self, system: str, *, strict: bool = False) -> AgentWriteConfig:
        """The AgentWrite settings of `system`; a bad override is a UsageError (or, `strict`,
        the ValidationError naming the field)."""
        mode = "parallel" if system == "agentwrite-parallel" else "sequential"
        try:
            return AgentWriteConfig(**{**self.writer, "model": self.model, "mode": mode})
        except ValueError as exc:
            if strict:
                raise
            raise UsageError(f"writer settings: {exc}") from None

    def prompts(self) -> list[WritingPrompt]:
        items = load_prompts(self.subset)
        if self.max_length is not None:
            items = [item for item in items if item.length <= self.max_length]
        if not items:
            raise UsageError(f"no prompt of subset {self.subset!r} is within --max-length")
        return sample_prompts(items, self.sample, self.seed)


def default_out_dir(data_root: Path, settings: LongBenchWriteSettings) -> Path:
    """The same settings give the same directory, so running a command again continues it."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", settings.model).strip("_").lower()
    parts = [settings.eval, slug, settings.subset]
    if settings.sample:
        parts.append(f"n{settings.sample}-seed{settings.seed}")
    if settings.max_length:
        parts.append(f"max{settings.max_length}")
    if settings.baseline_max_tokens is not None:  # the baseline's answers differ with its cap
        parts.append(f"baselinemax{settings.baseline_max_tokens}")
    # the temperature always: runs from before sampling was the default wrote at 0
    default = AgentWriteConfig.model_fields["temperature"].default
    writer = {"temperature": default, **settings.writer}
    parts.extend(f"{key.replace('_', '')}{value}" for key, value in sorted(writer.items()))
    return data_root / "evals" / "-".join(parts)


#: Writer overrides that have a command-line option (the rest come from a config only).
WRITER_OPTIONS = ("tolerance", "fix_attempts", "plan_fallback", "words_per_call", "temperature")


def reproduce_command(settings: LongBenchWriteSettings) -> str:
    """The `agentrun eval` command that runs these settings again (its default output
    directory, so running it continues this run)."""
    parts = ["agentrun", "eval", "longbench-write", "--model", settings.model,
             "--subset", settings.subset]  # fmt: skip
    if settings.sample is not None:
        parts += ["--sample", str(settings.sample), "--seed", str(settings.seed)]
    if settings.max_length is not None:
        parts += ["--max-length", str(settings.max_length)]
    parts += ["--systems", ",".join(settings.systems)]
    if settings.judge_model:
        parts += ["--judge-model", settings.judge_model]
    if settings.baseline_max_tokens is not None:
        parts += ["--baseline-max-tokens", str(settings.baseline_max_tokens)]
    for key in WRITER_OPTIONS:
        if key in settings.writer:
            parts += [f"--{key.replace('_', '-')}", str(settings.writer[key])]
    return shlex.join(parts)


# --- results on disk ---------------------------------------------------------------------------


class Results:
    """`results.jsonl`: one line per finished (system, item), flushed at once; the last line
    for a key wins (a judged or retried row replaces the earlier one)."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / RESULTS_FILE
        self._lock = threading.Lock()

    @classmethod
    def open(cls, out_dir: Path) -> Results:
        private_dir(out_dir)
        return cls(out_dir)

    def rows(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        found: dict[tuple[str, str, str], dict[str, Any]] = {}
        if not self.path.exists():
            return found
        for line in self.path.read_text("utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a crash
            found[(row["model"], row["system"], row["item_id"])] = row
        return found

    def append(self, row: Mapping[str, Any]) -> None:
        with self._lock, open_private(self.path, "a") as handle:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


@asynccontextmanager
async def progress_stores(
    out_dir: Path,
) -> AsyncIterator[tuple[BaseStore, BaseCheckpointSaver[Any]]]:
    """SQLite store + checkpointer in the output directory (half-written items survive)."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    from langgraph.store.sqlite.aio import AsyncSqliteStore

    path = str(out_dir / PROGRESS_FILE)
    async with (
        AsyncSqliteStore.from_conn_string(path) as store,
        AsyncSqliteSaver.from_conn_string(path) as saver,
    ):
        await store.setup()
        yield store, saver


# --- running one item --------------------------------------------------------------------------


@dataclass
class Written:
    text: str
    usage: dict[str, Any]
    details: dict[str, Any]
    warnings: list[str]


async def write_single(
    gateway: Gateway, settings: LongBenchWriteSettings, item: WritingPrompt
) -> Written:
    """The baseline: the prompt in one call, max_tokens what the window leaves (or the cap)."""
    reply = await single_call(
        gateway, settings.model, item.prompt, max_tokens=settings.baseline_max_tokens
    )
    details = {"finish_reason": reply.finish_reason, "max_tokens": reply.max_tokens}
    return Written(reply.text, reply.usage, details, [])


async def write_agent(
    gateway: Gateway,
    store: BaseStore,
    saver: BaseCheckpointSaver[Any],
    settings: LongBenchWriteSettings,
    system: str,
    item: WritingPrompt,
) -> Written:
    """AgentWrite on one prompt, continued from its checkpoint if an earlier run stopped."""
    writer = AgentWrite(
        settings.writer_config(system), gateway=gateway, store=store, checkpointer=saver,
        namespace=("evals", "longbench-write"),
    )  # fmt: skip
    thread_id = f"{system}-{item.id}"
    if await saver.aget_tuple({"configurable": {"thread_id": thread_id}}) is not None:
        result = await writer.aresume(thread_id)
    else:
        result = await writer.arun(item.prompt, item.length, thread_id=thread_id)
    details = {
        "plan_source": result.plan_source,
        "sections": len(result.sections),
        "sections_within_tolerance": sum(s.within_tolerance for s in result.sections),
        "extensions": sum(s.extensions for s in result.sections),
        "trimmed": sum(s.trimmed for s in result.sections),
        "repeats_dropped": sum(s.repeats_dropped for s in result.sections),
        "plan_parse_failures": result.plan_parse_failures,
        "words_per_call": result.words_per_call,
        "ask_factor": result.ask_factor,
        "thread_id": thread_id,
    }
    return Written(result.markdown, result.usage, details, result.warnings)


async def judge(gateway: Gateway, model: str, item: WritingPrompt, text: str) -> dict[str, Any]:
    """The judge's ratings and S_q, or why there are none for this item."""
    messages = judge_messages(item.prompt, text)
    room = gateway.context_window(model) - gateway.count_tokens(model, messages) - SAFETY_TOKENS
    if room < 64:
        return {"s_q": None, "judge_error": f"the response does not fit {model}'s window"}
    try:
        scores = await gateway.astructured(
            model, messages, JudgeScores, max_tokens=min(room, 256), temperature=0.0
        )
    except (ModelCallError, ContextLengthError) as exc:
        return {"s_q": None, "judge_error": str(exc)}
    return {"s_q": round(quality_score(scores), 2), "judge_scores": scores.model_dump()}


def score_row(
    settings: LongBenchWriteSettings,
    system: str,
    item: WritingPrompt,
    written: Written | None,
    wall_s: float,
    error: str | None,
) -> dict[str, Any]:
    words = count_words(written.text) if written else 0
    return {
        "eval": settings.eval,
        "model": settings.model,
        "system": system,
        "item_id": item.id,
        "type": item.type,
        "language": item.language,
        "required": item.length,
        "bucket": bucket_of(item.length),
        "words": words,
        # a failed item scores 0, as in LongBench-Write (an empty output), so failing more
        # never looks better; it is retried on the next run
        "s_l": round(length_score(item.length, words), 2) if written else 0.0,
        "s_q": None,
        "usage": written.usage if written else {},
        "details": written.details if written else {},
        "warnings": written.warnings if written else [],
        "wall_s": round(wall_s, 3),
        "error": error,
        "text": written.text if written else None,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


# --- the run -----------------------------------------------------------------------------------


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(sum(kept) / len(kept), 2) if kept else None


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Means over every item; a failed one counts with S_l = 0 (and S_q = 0 when judged)."""
    failed = [row for row in rows if row.get("error")]
    s_l = _mean([0.0 if row.get("error") else row["s_l"] for row in rows])
    s_q = _mean([row.get("s_q") for row in rows])
    usage = [r.get("usage") or {} for r in rows]
    return {
        "n": len(rows),
        "errors": len(failed),
        "s_l": s_l,
        "s_q": s_q,
        "s": round((s_l + s_q) / 2, 2) if s_l is not None and s_q is not None else None,
        "words_over_required": _mean([r["words"] / r["required"] for r in rows]),
        "prompt_tokens": sum(int(u.get("prompt_tokens", 0)) for u in usage),
        "completion_tokens": sum(int(u.get("completion_tokens", 0)) for u in usage),
        "model_calls": sum(int(u.get("model_calls", 0)) for u in usage),
        "mean_wall_s": _mean([float(r["wall_s"]) for r in rows if not r.get("error")]),
    }


def build_report(
    settings: LongBenchWriteSettings,
    items: Sequence[WritingPrompt],
    rows: Sequence[Mapping[str, Any]],
    out_dir: Path,
) -> dict[str, Any]:
    labels = [bucket_label(*bucket) for bucket in BUCKETS]
    summary, by_bucket = {}, {}
    for system in settings.systems:
        mine = [row for row in rows if row["system"] == system]
        summary[system] = summarize(mine)
        by_bucket[system] = {
            label: summarize([r for r in mine if r["bucket"] == label])
            for label in labels
            if any(r["bucket"] == label for r in mine)
        }
    return {
        "eval": settings.eval,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": settings.model_dump(),
        "command": reproduce_command(settings),
        "out_dir": str(out_dir),
        "systems": {system: SYSTEMS[system] for system in settings.systems},
        "items": [item.id for item in items],
        "items_per_bucket": {
            label: sum(bucket_of(i.length) == label for i in items) for label in labels
        },
        "quality": "judged by " + settings.judge_model if settings.judge_model else NO_JUDGE,
        "errors": {system: summary[system]["errors"] for system in settings.systems},
        "failed_items": FAILED_ITEMS,
        "summary": summary,
        "by_bucket": by_bucket,
        "results": RESULTS_FILE,
        "plot": PLOT_FILE,
    }


async def arun_eval(
    settings: LongBenchWriteSettings,
    out_dir: Path,
    *,
    gateway: Gateway,
    on_row: RowHandler | None = None,
    report_only: bool = False,
) -> dict[str, Any]:
    """Run (or continue) the eval into `out_dir`; returns the report (also written there).
    `report_only`: report the items finished so far and run nothing (a slow model's partial
    run; `pending` in the report lists what is left)."""
    items = settings.prompts()
    gateway.context_window(settings.model)  # an unusable model fails here, before any item
    if settings.judge_model:
        gateway.context_window(settings.judge_model)
    results = Results.open(out_dir)
    key = settings.model
    done = {k: row for k, row in results.rows().items() if k[0] == key and not row.get("error")}
    pending = [(s, i) for i in items for s in settings.systems if (key, s, i.id) not in done]
    todo = [] if report_only else pending
    total_pairs = len(items) * len(settings.systems)
    finished = total_pairs - len(todo)
    limit = asyncio.Semaphore(settings.concurrency)
    by_id = {item.id: item for item in items}

    async with progress_stores(out_dir) as (store, saver):

        async def one(system: str, item: WritingPrompt) -> None:
            nonlocal finished
            async with limit:
                started, written, error = time.perf_counter(), None, None
                try:
                    if system == "single":
                        written = await write_single(gateway, settings, item)
                    else:
                        written = await write_agent(gateway, store, saver, settings, system, item)
                except ITEM_ERRORS as exc:
                    error = f"{type(exc).__name__}: {exc}"
                row = score_row(
                    settings, system, item, written, time.perf_counter() - started, error
                )
                if written is not None and settings.judge_model:
                    row.update(await judge(gateway, settings.judge_model, item, written.text))
                elif settings.judge_model:
                    row.update(s_q=0.0, judge_error="no output to judge: scored 0")
                results.append(row)
                finished += 1
                if on_row is not None:
                    on_row(row, finished, total_pairs)

        await asyncio.gather(*(one(system, item) for system, item in todo))

    if settings.judge_model:  # rows written before a judge was configured
        for row in done.values():
            item = by_id.get(row["item_id"])
            if row.get("s_q") is None and item is not None and row.get("text") is not None:
                verdict = await judge(gateway, settings.judge_model, item, row["text"])
                results.append({**row, **verdict})
    rows = [
        row
        for (model, system, item_id), row in results.rows().items()
        if model == key and system in settings.systems and item_id in by_id
    ]
    report = build_report(settings, items, rows, out_dir)
    report["pending"] = [f"{system} {item.id}" for system, item in pending] if report_only else []
    write_json(out_dir / REPORT_FILE, report)
    plot(report, out_dir / PLOT_FILE)
    return report


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write atomically: a reader never sees half a report."""
    write_private(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def plot(report: Mapping[str, Any], path: Path) -> None:
    """S_l per bucket (and S_q when judged), one bar per system."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    systems = list(report["by_bucket"])
    labels = [bucket_label(*bucket) for bucket in BUCKETS] + ["overall"]
    judged = any(report["summary"][s]["s_q"] is not None for s in systems)
    metrics = [("s_l", "length score S_l")] + ([("s_q", "quality score S_q")] if judged else [])
    figure = Figure(figsize=(8, 3.6 * len(metrics)))
    FigureCanvasAgg(figure)
    width = 0.8 / max(1, len(systems))
    for row, (metric, title) in enumerate(metrics):
        axes = figure.add_subplot(len(metrics), 1, row + 1)
        for offset, system in enumerate(systems):
            cells = {**report["by_bucket"][system], "overall": report["summary"][system]}
            values = [(cells.get(label) or {}).get(metric) or 0.0 for label in labels]
            positions = [i + offset * width for i in range(len(labels))]
            axes.bar(positions, values, width=width, label=system)
        axes.set_xticks([i + width * (len(systems) - 1) / 2 for i in range(len(labels))])
        axes.set_xticklabels(labels)
        axes.set_ylim(0, 100)
        axes.set_ylabel(title)
        axes.set_xlabel("required length (words)")
        axes.legend(loc="lower right", fontsize="small")
    figure.suptitle(f"LongBench-Write: {report['settings']['model']}")
    figure.tight_layout()
    with open_private(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=110)
