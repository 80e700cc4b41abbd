"""The long-document QA eval: strategies x questions x context lengths, scored and plotted.

Items come from the seeded generator (`agentrun.evals.synthetic`) or from a LongBench /
HotpotQA file (`agentrun.evals.datasets`). Each (strategy, item) is answered through its
workflow's `arun` (`agentrun.evals.strategies`), scored (EM, F1, abstention), and appended to
`results.jsonl` at once; a re-run into the same directory skips every pair already answered by
the same model, so an interrupted eval continues where it stopped. The run ends by writing
`report.json` (settings, per-strategy and per-length summaries) and `accuracy_vs_length.png`.

Strategy failures that would fail every item are checked first: `rag` needs a store that can
rank by meaning; with a store that has no search index (such as the in-memory default) it is
reported as failed with the reason and the other strategies still run.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langgraph.store.base import BaseStore
from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentrun.agents.config import LOCAL_MODEL
from agentrun.agents.gateway import Gateway
from agentrun.errors import (
    ConfigError,
    ContextLengthError,
    ModelCallError,
    RunFailedError,
    UsageError,
)
from agentrun.evals import metrics, report
from agentrun.evals.datasets import DatasetFormat, QAItem, load_dataset
from agentrun.evals.strategies import STRATEGIES, Outcome, Resources, run_strategy
from agentrun.evals.synthetic import generate
from agentrun.memory.namespaces import records_ns

DEFAULT_LENGTHS = (4096, 16384, 65536, 131072)
DEFAULT_STRATEGIES = ("coa", "coa-free", "vanilla", "rag")
#: Errors that fail one item (recorded, retried on the next run), not the whole eval.
ITEM_ERRORS = (ModelCallError, ContextLengthError, UsageError, RunFailedError)

RowHandler = Callable[[dict[str, Any], int, int], None]


def parse_length(text: str) -> int:
    """'4k' -> 4096, '128k' -> 131072, '3000' -> 3000."""
    found = re.fullmatch(r"\s*(\d+)\s*([kK]?)\s*", text)
    if not found or int(found.group(1)) <= 0:
        raise UsageError(f"length {text!r} is not a token count such as 4k, 16k or 3000")
    return int(found.group(1)) * (1024 if found.group(2) else 1)


class EvalSettings(BaseModel):
    """What one eval run measures (saved beside its results)."""

    model_config = ConfigDict(extra="forbid")

    eval: str = "long-doc-qa"
    model: str = LOCAL_MODEL
    strategies: list[str] = Field(default_factory=lambda: list(DEFAULT_STRATEGIES))
    lengths: list[int] = Field(default_factory=lambda: list(DEFAULT_LENGTHS))
    questions: int = Field(default=8, gt=0, description="Questions per length.")
    seed: int = 0
    dataset: str | None = Field(default=None, description="A LongBench/HotpotQA file.")
    dataset_format: DatasetFormat = "auto"
    encoding: str | None = None
    concurrency: int = Field(default=1, gt=0, description="Items answered at once.")

    @field_validator("strategies")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s not in STRATEGIES]
        if unknown or not value:
            raise ValueError(
                f"unknown strategies {unknown or '(none given)'}; choose from "
                + ", ".join(STRATEGIES)
            )
        return list(dict.fromkeys(value))


def load_items(settings: EvalSettings, count: Callable[[str], int]) -> list[QAItem]:
    """Generated items, or a file's items, at most `questions` per length bucket."""
    if settings.dataset is None:
        return generate(settings.lengths, settings.questions, seed=settings.seed, count=count)
    items = load_dataset(
        settings.dataset, settings.dataset_format, count=count, encoding=settings.encoding
    )
    kept: list[QAItem] = []
    per_bucket: Counter[int] = Counter()
    for item in items:
        if per_bucket[item.target_tokens] < settings.questions:
            per_bucket[item.target_tokens] += 1
            kept.append(item)
    return kept


def score_row(
    settings: EvalSettings,
    strategy: str,
    item: QAItem,
    outcome: Outcome | None,
    wall_s: float,
    error: str | None,
) -> dict[str, Any]:
    answer = outcome.answer if outcome else None
    return {
        "eval": settings.eval,
        "model": settings.model,
        "strategy": strategy,
        "item_id": item.id,
        "kind": item.kind,
        "target_tokens": item.target_tokens,
        "tokens": item.tokens,
        "depths": item.depths,
        "question": item.question,
        "answers": item.answers,
        "answer": answer,
        "em": metrics.exact_match(answer, item.answers),
        "f1": round(metrics.f1_score(answer, item.answers), 4),
        "contains": metrics.contains_answer(answer, item.answers),
        "abstention_correct": metrics.abstention_correct(answer, item.answers),
        "usage": outcome.usage if outcome else {},
        "wall_s": round(wall_s, 3),
        "error": error,
        "warnings": outcome.warnings if outcome else [],
        "details": outcome.details if outcome else {},
        "evidence": outcome.evidence if outcome else None,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


async def store_can_search(store: BaseStore, namespace: tuple[str, ...] = ("evals",)) -> bool:
    """Whether the store ranks by meaning (it has an embedder): probed with one tiny record."""
    probe = records_ns(namespace, "search-probe")
    try:
        await store.aput(probe, "probe", {"text": "a probe for semantic search"}, index=["text"])
        hits = await store.asearch(probe, query="semantic search probe", limit=1)
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await store.adelete(probe, "probe")
    return bool(hits) and hits[0].score is not None


async def failed_strategies(strategies: Sequence[str], res: Resources) -> dict[str, str]:
    """Strategies that cannot run at all with these resources, and why."""
    failed = {}
    if "rag" in strategies and not await store_can_search(res.store, res.namespace):
        failed["rag"] = (
            f"the memory store ({type(res.store).__name__}) has no search index, so rag cannot "
            "retrieve by similarity; use a store with an embedder"
        )
    return failed


def build_report(
    settings: EvalSettings,
    items: Sequence[QAItem],
    rows: Sequence[dict[str, Any]],
    failed: dict[str, str],
    out_dir: Path,
) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    by_length: dict[str, dict[str, Any]] = {}
    for strategy in settings.strategies:
        mine = [row for row in rows if row["strategy"] == strategy]
        if not mine:
            continue
        summary[strategy] = metrics.summarize(mine)
        lengths = sorted({int(row["target_tokens"]) for row in mine})
        by_length[strategy] = {
            str(n): metrics.summarize([r for r in mine if int(r["target_tokens"]) == n])
            for n in lengths
        }
        document_tokens = sum(int(r["tokens"]) for r in mine if not r.get("error"))
        if document_tokens:
            summary[strategy]["prompt_tokens_per_document_token"] = round(
                summary[strategy]["prompt_tokens"] / document_tokens, 3
            )
    return {
        "eval": settings.eval,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": settings.model_dump(),
        "out_dir": str(out_dir),
        "strategies": {s: STRATEGIES[s] for s in settings.strategies},
        "failed_strategies": failed,
        "items": len(items),
        "kinds": dict(Counter(item.kind for item in items)),
        "summary": summary,
        "by_length": by_length,
        "results": report.RESULTS_FILE,
        "plot": report.PLOT_FILE,
    }


async def answer_pair(
    settings: EvalSettings, strategy: str, item: QAItem, res: Resources
) -> dict[str, Any]:
    """Answer one item with one strategy and score it; an item's own failure is its row."""
    started = time.perf_counter()
    outcome, error = None, None
    thread_id = f"{strategy}-{item.id}-{uuid.uuid4().hex[:6]}"
    try:
        outcome = await run_strategy(strategy, item, settings.model, res, thread_id)
    except ITEM_ERRORS as exc:
        error = f"{type(exc).__name__}: {exc}"
    return score_row(settings, strategy, item, outcome, time.perf_counter() - started, error)


async def arun_eval(
    settings: EvalSettings,
    out_dir: Path,
    *,
    gateway: Gateway,
    store: Any,
    on_row: RowHandler | None = None,
    ray: str | None = None,
) -> dict[str, Any]:
    """Run (or continue) an eval into `out_dir`; returns the report (also written there).
    With `ray` (`auto` or a head's address) the (strategy, item) pairs run on that Ray cluster,
    `settings.concurrency` at a time, the model limits held for the whole cluster."""
    from langgraph.checkpoint.memory import InMemorySaver

    report.prepare_out_dir(out_dir, settings.model_dump())
    items = load_items(settings, gateway.text_counter(settings.model))
    res = Resources(gateway, store, InMemorySaver(), ("evals", out_dir.name))
    failed = await failed_strategies(settings.strategies, res)
    runnable = [s for s in settings.strategies if s not in failed]
    if not runnable:
        raise ConfigError("; ".join(f"{s}: {why}" for s, why in failed.items()))
    log = report.ResultLog(out_dir)
    done = {
        key: row
        for key, row in report.latest(log.read()).items()
        if row.get("model") == settings.model and not row.get("error")
    }
    todo = [
        (strategy, item)
        for item in items
        for strategy in runnable
        if (strategy, item.id) not in done
    ]
    total, finished = len(items) * len(runnable), len(items) * len(runnable) - len(todo)

    def keep(row: dict[str, Any]) -> None:
        nonlocal finished
        log.append(row)
        finished += 1
        if on_row is not None:
            on_row(row, finished, total)

    if ray is not None:
        from agentrun.evals.on_ray import arun_on_ray

        jobs = [(strategy, item) for strategy, item in todo]
        on_ray = arun_on_ray(
            settings, jobs, res.namespace, ray, gateway, answer=answer_pair, score=score_row
        )
        async for row in on_ray:
            keep(row)
    else:
        limit = asyncio.Semaphore(settings.concurrency)

        async def answer(strategy: str, item: QAItem) -> None:
            async with limit:
                keep(await answer_pair(settings, strategy, item, res))

        tasks = [asyncio.create_task(answer(strategy, item)) for strategy, item in todo]
        try:
            await asyncio.gather(*tasks)
        except BaseException:  # one failure stops the eval: stop the other items, then raise
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
    wanted = {item.id for item in items}
    rows = [
        row
        for (strategy, item_id), row in report.latest(log.read()).items()
        if item_id in wanted and strategy in runnable and row.get("model") == settings.model
    ]
    result = build_report(settings, items, rows, failed, out_dir)
    report.write_json(out_dir / report.REPORT_FILE, result)
    report.plot_accuracy(
        result["by_length"], out_dir / report.PLOT_FILE, title=f"{settings.eval}: {settings.model}"
    )
    return result


def default_out_dir(data_dir: Path, name: str) -> Path:
    """`<data dir>/evals/<name>-<UTC timestamp>/`."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return data_dir / "evals" / f"{name}-{stamp}"
