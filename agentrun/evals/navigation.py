"""The navigation eval: PReP vs the ReAct baseline on seeded city tasks, or tour navigation.

`ranked` (PReP with code taking the best-ranked exit at every choice) may be added to the
strategies: the difference between it and `prep` is what the planner model contributes.

City tasks report SR, SPL (= mean S*l/max(l, p)) and tokens, overall, by shortest-path length
and by landmark visibility (the share of a shortest path's nodes that see a landmark the goal is
described from). Tour tasks report goal-frame accuracy and SR. Each finished episode is appended
to `episodes.jsonl` at once, tagged with the settings' fingerprint, and skipped on a re-run; an
interrupted episode continues from its checkpoint. Thread ids combine the fingerprint with a
run id kept in the output directory (`run-id`): re-running into the same directory continues,
while a new directory is a fresh run, never one answered from an older run's checkpoints in the
shared data directory. Reports: `navigation.json` and `navigation.png` (+ one episode map).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentrun.agents.config import LOCAL_MODEL
from agentrun.agents.gateway import Gateway
from agentrun.agents.messages import Message, text_of
from agentrun.agents.testing import scripted_model
from agentrun.errors import UsageError
from agentrun.evals.intervals import paired_bootstrap, wilson
from agentrun.graphs import runtime
from agentrun.graphs.base import ResultT, Workflow
from agentrun.graphs.navigation import Navigation, NavigationConfig, Strategy, sample_tasks
from agentrun.graphs.navigation.city import (
    City,
    CityConfig,
    EpisodeOutcome,
    path_visibility,
    summarize,
)
from agentrun.graphs.navigation.simulator import CityEnvironment
from agentrun.graphs.tour_navigation import TourConfig, TourNavigation, sample_tour_tasks
from agentrun.settings import open_private, private_dir, write_private

STRATEGIES: tuple[Strategy, ...] = ("prep", "react")
#: The scripted chooser's model name (the scripted provider answers `fake/...`).
ORACLE_MODEL = "fake/oracle-choice"
EPISODES_FILE = "episodes.jsonl"
RUN_ID_FILE = "run-id"
REPORT_JSON = "navigation.json"
REPORT_PNG = "navigation.png"
REPORT_MD = "navigation.md"
VISIBILITY_BUCKETS = (("none", 0.0, 0.0), ("low", 0.0, 1 / 3), ("mid", 1 / 3, 2 / 3),
                      ("high", 2 / 3, 1.0))  # fmt: skip

EpisodeCallback = Callable[[dict[str, Any]], None]


class NavigationEvalConfig(BaseModel):
    """What one eval run measures; its fingerprint keys the saved episodes."""

    model_config = ConfigDict(extra="forbid")

    task: Literal["city", "tour"] = "city"
    model: str = LOCAL_MODEL
    strategies: list[Strategy] = Field(default_factory=lambda: list(STRATEGIES))
    perception: Literal["text", "image"] = "text"
    chooser: Literal["model", "oracle"] = Field(
        default="model",
        description="oracle: a scripted model answers every choice with the listed move nearest "
        "the goal by true hops (the ceiling of the choice step); model: `model` answers.",
    )
    candidates: int = Field(default=3, ge=2, description="PReP: moves the model chooses among.")
    decision_max_tokens: int = Field(default=16, gt=0)
    seed: int = 0
    tasks: int = Field(default=20, ge=1)
    min_hops: int = Field(default=10, ge=1)
    max_hops: int = Field(default=50, ge=1)
    bearing_noise_deg: float = Field(default=0.0, ge=0)
    distance_noise: float = Field(default=0.0, ge=0)
    occlusion: float = Field(default=0.2, ge=0, le=1)
    visibility_m: float = Field(default=600.0, gt=0)
    tour_radius_m: float = Field(default=300.0, gt=0)

    @model_validator(mode="after")
    def _hops_in_order(self) -> NavigationEvalConfig:
        if self.min_hops > self.max_hops:
            raise ValueError(f"min_hops {self.min_hops} is above max_hops {self.max_hops}")
        if not self.strategies:
            raise ValueError("name at least one strategy: prep, react, ranked")
        return self

    def city(self) -> CityConfig:
        return CityConfig(
            seed=self.seed, occlusion=self.occlusion, visibility_m=self.visibility_m,
            bearing_noise_deg=self.bearing_noise_deg, distance_noise=self.distance_noise,
        )  # fmt: skip

    def fingerprint(self) -> str:
        """The settings' id, without the task count: the tasks of a seed are a sequence, so a
        re-run asking for more tasks extends the run and one asking for fewer reports a prefix."""
        text = json.dumps(self.model_dump(mode="json", exclude={"tasks"}), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]


# --- saved episodes ------------------------------------------------------------------------------


def load_episodes(out_dir: Path, fingerprint: str) -> dict[str, dict[str, Any]]:
    """Finished episodes of these settings, by key (lines of other settings are kept, unread)."""
    path = out_dir / EPISODES_FILE
    if not path.exists():
        return {}
    done: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"{path}:{number}: not a JSON line ({exc.msg}); remove the line to re-run it"
            ) from exc
        if record.get("fingerprint") == fingerprint:
            done[record["key"]] = record
    return done


def run_id(out_dir: Path) -> str:
    """The id of the run this directory holds, made on first use (it prefixes thread ids)."""
    path = out_dir / RUN_ID_FILE
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if not re.fullmatch(r"[0-9a-f]{12}", value):
            raise UsageError(
                f"{path}: not a run id ({value[:40]!r}); delete the file to start over"
            )
        return value
    value = runtime.new_thread_id()
    write_private(path, value + "\n")
    return value


def _prepare(out: Path, fingerprint: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """The thread-id prefix of this run (fresh in a new directory) and its finished episodes."""
    private_dir(out)
    return f"nav-{run_id(out)}-{fingerprint}", load_episodes(out, fingerprint)


def _append(out_dir: Path, record: dict[str, Any]) -> None:
    with open_private(out_dir / EPISODES_FILE, "a") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


# --- aggregation -------------------------------------------------------------------------------


def hop_buckets(min_hops: int, max_hops: int, count: int = 4) -> list[tuple[int, int]]:
    """Up to `count` contiguous hop ranges covering min..max."""
    width = max(1, -(-(max_hops - min_hops + 1) // count))
    return [(low, min(low + width - 1, max_hops)) for low in range(min_hops, max_hops + 1, width)]


def visibility_bucket(share: float) -> str:
    if share <= 0:
        return "none"
    return next(name for name, low, high in VISIBILITY_BUCKETS[1:] if low < share <= high)


def _outcome(record: dict[str, Any]) -> EpisodeOutcome:
    usage = record.get("usage", {})
    return EpisodeOutcome(
        task_id=record["task_id"], success=record["success"],
        shortest_hops=record["shortest_hops"], steps=record["steps"],
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        completion_tokens=int(usage.get("completion_tokens", 0)),
    )  # fmt: skip


def city_summary(records: Sequence[dict[str, Any]], config: NavigationEvalConfig) -> dict[str, Any]:
    """Per strategy: overall, by hops and by visibility; plus fallbacks per decision."""
    summary: dict[str, Any] = {}
    for strategy in config.strategies:
        mine = [r for r in records if r["strategy"] == strategy]
        overall: dict[str, Any] = dict(summarize([_outcome(r) for r in mine]))
        decisions = sum(r.get("decisions", 0) for r in mine)
        overall["fallbacks"] = sum(r.get("fallbacks", 0) for r in mine)
        overall["decisions"] = decisions
        overall["loops"] = sum(r.get("loops", 0) for r in mine)
        overall["overrides"] = sum(r.get("overrides", 0) for r in mine)
        overall["sr_ci95"] = list(wilson(sum(r["success"] for r in mine), len(mine)))
        by_hops = {
            f"{low}-{high}": summarize(
                [_outcome(r) for r in mine if low <= r["shortest_hops"] <= high]
            )
            for low, high in hop_buckets(config.min_hops, config.max_hops)
        }
        by_visibility = {
            name: summarize([_outcome(r) for r in mine if r["visibility_bucket"] == name])
            for name, _, _ in VISIBILITY_BUCKETS
        }
        summary[strategy] = {"overall": overall, "by_hops": by_hops, "by_visibility": by_visibility}
    return summary


def baseline_strategy(strategies: Sequence[str]) -> str | None:
    """What the others are compared with: the code-only ranking, else the last strategy."""
    if len(strategies) < 2:
        return None
    return "ranked" if "ranked" in strategies else strategies[-1]


def comparisons(records: Sequence[dict[str, Any]], config: NavigationEvalConfig) -> dict[str, Any]:
    """Each strategy against the code-only baseline (`ranked`; else the last strategy) on the
    tasks both finished: the SR and SPL differences with paired bootstrap 95% intervals."""
    baseline = baseline_strategy(config.strategies)
    if baseline is None:
        return {}
    by_task: dict[str, dict[str, dict[str, Any]]] = {}
    for record in records:
        by_task.setdefault(record["task_id"], {})[record["strategy"]] = record
    found: dict[str, Any] = {}
    for strategy in config.strategies:
        if strategy == baseline:
            continue
        pairs = [(mine[strategy], mine[baseline]) for mine in by_task.values()
                 if strategy in mine and baseline in mine]  # fmt: skip
        row: dict[str, Any] = {"baseline": baseline, "tasks": len(pairs)}
        for metric, value in (("sr", _success), ("spl", _spl)):
            diff, low, high = paired_bootstrap(
                [value(a) for a, _ in pairs], [value(b) for _, b in pairs]
            )
            row[metric] = {"difference": diff, "ci95": [low, high], "outside": low > 0 or high < 0}
        found[f"{strategy} - {baseline}"] = row
    return found


def _success(record: dict[str, Any]) -> float:
    return float(record["success"])


def _spl(record: dict[str, Any]) -> float:
    return float(record["spl"])


def command_line(config: NavigationEvalConfig) -> str:
    """The CLI command that reproduces a city run of these settings."""
    args = [
        "agentrun", "eval", "navigation", "--model", config.model,
        "--strategies", ",".join(config.strategies), "--chooser", config.chooser,
        "--candidates", str(config.candidates),
        "--decision-tokens", str(config.decision_max_tokens),
        "--perception", config.perception, "--seed", str(config.seed), "-n", str(config.tasks),
        "--min-hops", str(config.min_hops), "--max-hops", str(config.max_hops),
        "--occlusion", f"{config.occlusion:g}", "--visibility", f"{config.visibility_m:g}",
        "--bearing-noise", f"{config.bearing_noise_deg:g}",
        "--distance-noise", f"{config.distance_noise:g}",
    ]  # fmt: skip
    if config.task != "city":
        args[3:3] = ["--task", config.task]
    return shlex.join(args)


def markdown_table(report: dict[str, Any]) -> str:
    """The city report as a Markdown table plus its differences, model, count and command."""
    config = report["config"]
    chooser = "scripted oracle chooser" if config["chooser"] == "oracle" else config["model"]
    lines = [
        f"Model: {chooser}; perception {config['perception']} (bearing noise "
        f"{config['bearing_noise_deg']:g}°, distance noise {config['distance_noise']:g}); "
        f"{report['tasks']} tasks, seed {config['seed']}, {config['min_hops']}-"
        f"{config['max_hops']} hops; baseline: {report['baseline']}.",
        "",
        "| strategy | tasks | SR | SR 95% CI (Wilson) | SPL | steps | tokens/episode "
        "| fallbacks | overrides |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for strategy, parts in report["summary"].items():
        row = parts["overall"]
        low, high = row["sr_ci95"]
        lines.append(
            f"| {strategy} | {row['episodes']} | {row['sr']:.2f} | [{low:.2f}, {high:.2f}] "
            f"| {row['spl']:.2f} | {row['mean_steps']:.1f} | {row['mean_tokens']:.0f} "
            f"| {row['fallbacks']}/{row['decisions']} | {row['overrides']} |"
        )
    if report["comparisons"]:
        lines += ["", "| difference | tasks | SR (95% CI, paired bootstrap) | SPL (95% CI) |",
                  "|---|---|---|---|"]  # fmt: skip
        for name, row in report["comparisons"].items():
            cells = [
                f"{row[m]['difference']:+.2f} [{row[m]['ci95'][0]:+.2f}, {row[m]['ci95'][1]:+.2f}]"
                for m in ("sr", "spl")
            ]
            lines.append(f"| {name} | {row['tasks']} | {cells[0]} | {cells[1]} |")
    lines += ["", f"Command: `{report['command']}`"]
    return "\n".join(lines) + "\n"


def tour_summary(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    count = len(records) or 1
    return {
        "episodes": len(records),
        "goal_frame_accuracy": sum(r["frame_correct"] for r in records) / count,
        "sr": sum(r["success"] for r in records) / count,
        "fallbacks": sum(r["fallback"] for r in records),
        "mean_tokens": sum(
            r["usage"].get("prompt_tokens", 0) + r["usage"].get("completion_tokens", 0)
            for r in records
        ) / count,
    }  # fmt: skip


# --- plots ---------------------------------------------------------------------------------------


def plot_city(summary: dict[str, Any], out: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(11, 7), dpi=100)
    strategies = list(summary)
    width = 0.8 / max(1, len(strategies))
    for row, grouping in enumerate(("by_hops", "by_visibility")):
        for col, metric in enumerate(("sr", "spl")):
            axis = axes[row][col]
            labels = list(summary[strategies[0]][grouping]) if strategies else []
            for k, strategy in enumerate(strategies):
                values = [summary[strategy][grouping][label][metric] for label in labels]
                positions = [i + k * width for i in range(len(labels))]
                axis.bar(positions, values, width=width, label=strategy)
            axis.set_xticks([i + width * (len(strategies) - 1) / 2 for i in range(len(labels))])
            counts = [summary[strategies[0]][grouping][label]["episodes"] for label in labels]
            axis.set_xticklabels([f"{lab}\n(n={c})" for lab, c in zip(labels, counts, strict=True)])
            axis.set_ylim(0, 1.05)
            axis.set_title(f"{metric.upper()} {grouping.replace('_', ' ')}", fontsize=10)
            axis.legend(fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    with open_private(out, "wb") as handle:
        figure.savefig(handle, format="png")
    plt.close(figure)
    return out


def plot_tour(summary: dict[str, Any], out: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 4), dpi=100)
    axis.bar(["goal-frame accuracy", "SR"], [summary["goal_frame_accuracy"], summary["sr"]])
    axis.set_ylim(0, 1.05)
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    with open_private(out, "wb") as handle:
        figure.savefig(handle, format="png")
    plt.close(figure)
    return out


# --- running -------------------------------------------------------------------------------------


async def arun_eval(
    config: NavigationEvalConfig,
    out_dir: str | os.PathLike[str],
    *,
    gateway: Gateway | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    on_episode: EpisodeCallback | None = None,
) -> dict[str, Any]:
    """Run (or finish) the eval; return the report that was written to `out_dir`."""
    out = Path(out_dir)
    fingerprint = config.fingerprint()
    prefix, done = _prepare(out, fingerprint)
    async with runtime.resources(gateway, None, None, data_dir) as res:
        run = _run_city if config.task == "city" else _run_tours
        await run(config, out, (fingerprint, prefix), done, res, on_episode)
    return write_report(config, out)


async def _run_city(
    config: NavigationEvalConfig, out: Path, ids: tuple[str, str],
    done: dict[str, dict[str, Any]], res: runtime.RunResources,
    on_episode: EpisodeCallback | None,
) -> None:  # fmt: skip
    fingerprint, prefix = ids
    tasks = sample_tasks(config.city(), config.tasks, seed=config.seed,
                         min_hops=config.min_hops, max_hops=config.max_hops)  # fmt: skip
    shared = _resources(res)
    environment = CityEnvironment()
    model = ORACLE_MODEL if config.chooser == "oracle" else config.model
    workflows = {
        strategy: Navigation(
            NavigationConfig(
                strategy=strategy,
                model=model,
                perception=config.perception,
                candidates=config.candidates,
                decision_max_tokens=config.decision_max_tokens,
            ),
            environment=environment,
            **shared,
        )
        for strategy in config.strategies
    }
    # Task by task, every strategy on it: a partial run still compares strategies pairwise.
    for task in tasks:
        for strategy, workflow in workflows.items():
            key = f"{strategy}-{task.task_id}"
            if key in done:
                continue
            with _chooser(config, environment):
                result = await _episode(workflow, task, f"{prefix}-{key}", res)
            share = path_visibility(task)
            record = {
                "key": key, "fingerprint": fingerprint, **result.model_dump(mode="json"),
                "visibility": share, "visibility_bucket": visibility_bucket(share),
            }  # fmt: skip
            _append(out, record)
            done[key] = record
            if on_episode:
                on_episode(record)


async def _run_tours(
    config: NavigationEvalConfig, out: Path, ids: tuple[str, str],
    done: dict[str, dict[str, Any]], res: runtime.RunResources,
    on_episode: EpisodeCallback | None,
) -> None:  # fmt: skip
    fingerprint, prefix = ids
    tasks = sample_tour_tasks(config.city(), config.tasks, seed=config.seed,
                              radius_m=config.tour_radius_m)  # fmt: skip
    frames: Literal["captions", "images"] = "images" if config.perception == "image" else "captions"
    workflow = TourNavigation(TourConfig(model=config.model, frames=frames), **_resources(res))
    for task in tasks:
        key = f"tour-{task.task_id}"
        if key in done:
            continue
        result = await _episode(workflow, task, f"{prefix}-{key}", res)
        record = {"key": key, "fingerprint": fingerprint, **result.model_dump(mode="json")}
        _append(out, record)
        done[key] = record
        if on_episode:
            on_episode(record)


async def _episode(
    workflow: Workflow[Any, Any, ResultT], task: BaseModel, thread_id: str,
    res: runtime.RunResources,
) -> ResultT:  # fmt: skip
    """One episode; one an earlier run of the eval left unfinished continues from its checkpoint."""
    if await runtime.has_checkpoint(res.checkpointer, thread_id):
        return await workflow.aresume(thread_id)
    return await workflow.arun(task, thread_id=thread_id)


def _chooser(
    config: NavigationEvalConfig, environment: CityEnvironment
) -> contextlib.AbstractContextManager[Any]:
    """Where the choices come from: the configured model, or the scripted oracle."""
    if config.chooser == "oracle":
        return scripted_model(oracle_choice(environment))
    return contextlib.nullcontext()


def oracle_choice(environment: CityEnvironment) -> Callable[[list[Message]], str]:
    """A scripted chooser that perceives and judges correctly: of the moves a prompt lists
    (PReP's numbered candidates, or ReAct's directions), the one whose street ends nearest the
    goal in true hops, ties to the earlier. It answers as a model would, by number or name."""

    def reply(messages: list[Message]) -> str:
        text = text_of(messages)
        numbered = re.findall(r"^\d+\. ([a-z\-]+) \(", text, flags=re.MULTILINE)
        listed = numbered or text.rsplit("Directions you can take: ", 1)[-1].split(".")[0].split(
            ", "
        )
        city, task = environment.city, environment.task
        hops = city.hops_from(task.goal)
        exits = city.exits[environment.node]
        best = min(
            listed, key=lambda d: hops.get(exits[d].node, city.size) if d in exits else city.size
        )
        return str(listed.index(best) + 1) if numbered else best

    return reply


def _resources(res: runtime.RunResources) -> dict[str, Any]:
    """What every episode of the eval shares: gateway, store and checkpointer."""
    return {"gateway": res.gateway, "store": res.store, "checkpointer": res.checkpointer}


def _task_ids(config: NavigationEvalConfig) -> set[str]:
    """The ids of the tasks these settings sample (a run's saved episodes may go beyond)."""
    if config.task == "city":
        tasks = sample_tasks(config.city(), config.tasks, seed=config.seed,
                             min_hops=config.min_hops, max_hops=config.max_hops)  # fmt: skip
        return {task.task_id for task in tasks}
    tours = sample_tour_tasks(config.city(), config.tasks, seed=config.seed,
                              radius_m=config.tour_radius_m)  # fmt: skip
    return {task.task_id for task in tours}


def write_report(config: NavigationEvalConfig, out: Path) -> dict[str, Any]:
    """Summarize the saved episodes of these settings into JSON and PNG."""
    fingerprint = config.fingerprint()
    wanted = _task_ids(config)
    saved = load_episodes(out, fingerprint).values()
    records = sorted((r for r in saved if r["task_id"] in wanted), key=lambda r: r["key"])
    city = City.build(config.city())
    report: dict[str, Any] = {
        "config": config.model_dump(mode="json"),
        "fingerprint": fingerprint,
        "city": {"nodes": city.size, "landmarks": len(city.landmarks)},
    }
    noise = f"noise {config.bearing_noise_deg:g}°/{config.distance_noise:g}"
    title = f"{config.model}, seed {config.seed}, {len(records)} episodes, {noise}"
    if config.task == "city":
        report["summary"] = city_summary(records, config)
        report["comparisons"] = comparisons(records, config)
        report["baseline"] = baseline_strategy(config.strategies)
        report["tasks"] = len({r["task_id"] for r in records})
        report["command"] = command_line(config)
        write_private(out / REPORT_MD, markdown_table(report))
        report["plot"] = str(plot_city(report["summary"], out / REPORT_PNG, title))
        report["episode_plot"] = _plot_first_episode(config, records, out)
    else:
        report["summary"] = tour_summary(records)
        report["plot"] = str(plot_tour(report["summary"], out / REPORT_PNG, title))
    report["episodes"] = records
    write_private(out / REPORT_JSON, json.dumps(report, indent=2))
    return report


def _plot_first_episode(
    config: NavigationEvalConfig, records: Sequence[dict[str, Any]], out: Path
) -> str | None:
    from agentrun.graphs.navigation.render import episode_png
    from agentrun.graphs.navigation.simulator import replay

    if not records:
        return None
    tasks = sample_tasks(config.city(), 1, seed=config.seed,
                         min_hops=config.min_hops, max_hops=config.max_hops)  # fmt: skip
    task = tasks[0]
    paths: dict[str, Sequence[int]] = {
        r["strategy"]: replay(task, r["actions"]) for r in records if r["task_id"] == task.task_id
    }
    if not paths:
        return None
    return str(episode_png(task, paths, out / "navigation-episode.png"))
