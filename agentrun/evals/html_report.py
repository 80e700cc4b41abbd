"""An eval's results as one self-contained HTML file (`agentrun eval ... --report report.html`).

Every eval's outputs are read into one shape: per item and system a score, its cost and tokens,
and the facets it can be grouped by (context length and depth of the facts for long-document QA;
the length bucket for LongBench-Write; path length and landmark visibility for navigation; the
question's kind for long video). The page shows a summary table, the mean score by each facet,
the score against the cost (tokens where every call was free) for the main system and its
baselines, and a drill-down to every item with everything recorded about it. Plots are inline
SVG drawn by matplotlib (glyphs as paths), text is escaped, and nothing is loaded from anywhere
else: the file opens offline.
"""

from __future__ import annotations

import html
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any

from agentrun.errors import UsageError
from agentrun.evals import report as qa_report
from agentrun.settings import write_private

#: Depth buckets of planted facts (fractions of the document).
DEPTHS = (
    (0.0, 0.25, "0-25%"),
    (0.25, 0.5, "25-50%"),
    (0.5, 0.75, "50-75%"),
    (0.75, 1.01, "75-100%"),
)


@dataclass(frozen=True)
class Item:
    """One system's result on one item."""

    system: str
    item_id: str
    score: float | None
    cost_usd: float
    tokens: int
    facets: dict[str, str]
    title: str
    error: str | None
    detail: Mapping[str, Any]


@dataclass
class EvalView:
    """An eval's results in the shape the page draws."""

    title: str
    metric: str
    systems: list[str]
    items: list[Item]
    #: Facet name -> its labels in display order.
    facets: dict[str, list[str]] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def main(self) -> str:
        return self.systems[0] if self.systems else ""


# --- reading each eval's outputs ---------------------------------------------------------------


def load_view(out_dir: Path) -> EvalView:
    """The results in an eval's output folder, whichever eval wrote them."""
    if (out_dir / "navigation.json").is_file():
        return _navigation(json.loads((out_dir / "navigation.json").read_text(encoding="utf-8")))
    path = out_dir / qa_report.REPORT_FILE
    if not path.is_file():
        raise UsageError(f"{out_dir}: no report.json or navigation.json; run the eval first")
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("eval") == "long-video":
        return _long_video(data)
    rows = list(qa_report.ResultLog(out_dir).read())
    if data.get("eval") == "longbench-write":
        return _longbench(data, rows)
    return _long_doc_qa(data, rows)


def _usage(row: Mapping[str, Any]) -> tuple[float, int]:
    usage = row.get("usage") or {}
    tokens = int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))
    return float(usage.get("cost_usd", 0.0) or 0.0), tokens


def _depth(depths: Sequence[float]) -> str:
    if not depths:
        return "no fact"
    for low, high, label in DEPTHS:
        if low <= depths[0] < high:
            return label
    return DEPTHS[-1][2]


def _long_doc_qa(data: Mapping[str, Any], rows: list[dict[str, Any]]) -> EvalView:
    settings = data["settings"]
    systems = [s for s in settings["strategies"] if s in data["summary"]]
    latest = qa_report.latest(r for r in rows if r.get("model") == settings["model"])
    items = []
    for (system, _), row in sorted(latest.items()):
        if system not in systems:
            continue
        cost, tokens = _usage(row)
        facets = {"length": qa_report.length_label(int(row["target_tokens"])),
                  "depth": _depth(row.get("depths") or [])}  # fmt: skip
        score = None if row.get("error") else float(row["f1"])
        items.append(Item(system, str(row["item_id"]), score, cost, tokens, facets,
                          str(row.get("question", "")), row.get("error"), row))  # fmt: skip
    lengths = sorted({int(r["target_tokens"]) for r in latest.values()})
    return EvalView(
        title=f"{data['eval']}: {settings['model']}", metric="F1", systems=systems, items=items,
        facets={"length": [qa_report.length_label(n) for n in lengths],
                "depth": [label for *_, label in DEPTHS] + ["no fact"]},
        settings=settings,
    )  # fmt: skip


def _longbench(data: Mapping[str, Any], rows: list[dict[str, Any]]) -> EvalView:
    from agentrun.evals.longbench_write import BUCKETS, bucket_label

    settings = data["settings"]
    systems = list(data["summary"])
    wanted = set(data.get("items") or [])
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if row.get("model") == settings["model"] and (not wanted or row["item_id"] in wanted):
            latest[(str(row["system"]), str(row["item_id"]))] = row
    items = []
    for (system, item_id), row in sorted(latest.items()):
        if system not in systems:
            continue
        cost, tokens = _usage(row)
        score = 0.0 if row.get("error") else float(row["s_l"])  # failed items score 0 here too
        title = f"{row.get('type', '')}, {row['required']} words asked, {row['words']} written"
        items.append(Item(system, item_id, score, cost, tokens, {"length bucket": row["bucket"]},
                          title, row.get("error"), row))  # fmt: skip
    return EvalView(
        title=f"longbench-write: {settings['model']}", metric="S_l", systems=systems,
        items=items, facets={"length bucket": [bucket_label(*b) for b in BUCKETS]},
        settings=settings,
    )  # fmt: skip


def _long_video(data: Mapping[str, Any]) -> EvalView:
    """long-caption scores its event recall, each video-qa method whether it answered right."""
    config = data["config"]
    items = []
    for row in data.get("rows", []):
        tokens = int(row.get("prompt_tokens", 0)) + int(row.get("completion_tokens", 0))
        cost = float(row.get("cost_usd", 0.0) or 0.0)
        if row["strategy"] == "long-caption":
            score, kind = row.get("event_recall"), "description"
            title = f"description of {row['item_id']}: {row.get('words', 0)} words"
        else:
            score, kind, title = float(row["right"]), str(row["kind"]), str(row["question"])
        items.append(Item(str(row["strategy"]), str(row["item_id"]), score, cost, tokens,
                          {"kind": kind}, title, row.get("error"), row))  # fmt: skip
    kinds = dict.fromkeys(["description", *(item.facets["kind"] for item in items)])
    return EvalView(
        title=f"long video: {config['model']}", metric="score (event recall; answer right)",
        systems=list(config["methods"]), items=items, facets={"kind": list(kinds)},
        settings=config,
    )  # fmt: skip


def _navigation(data: Mapping[str, Any]) -> EvalView:
    from agentrun.evals.navigation import VISIBILITY_BUCKETS, hop_buckets

    config = data["config"]
    items = []
    tour = config["task"] == "tour"
    buckets = hop_buckets(config["min_hops"], config["max_hops"])
    for record in data.get("episodes", []):
        cost, tokens = _usage(record)
        system = "tour" if tour else str(record["strategy"])
        if tour:
            found = {"goal frame": "found" if record["frame_correct"] else "missed"}
        else:
            hops = int(record["shortest_hops"])
            label = next((f"{low}-{high}" for low, high in buckets if low <= hops <= high), "?")
            found = {"path length (hops)": label, "visibility": record["visibility_bucket"]}
        items.append(Item(system, str(record["key"]), float(record["success"]), cost, tokens,
                          found, str(record.get("task_id", "")), None, record))  # fmt: skip
    facets: dict[str, list[str]] = (
        {"goal frame": ["found", "missed"]}
        if tour
        else {"path length (hops)": [f"{low}-{high}" for low, high in buckets],
              "visibility": [name for name, *_ in VISIBILITY_BUCKETS]}
    )  # fmt: skip
    return EvalView(
        title=f"navigation ({config['task']}): {config['model']}", metric="success",
        systems=["tour"] if tour else list(config["strategies"]), items=items, facets=facets,
        settings=config,
    )  # fmt: skip


# --- summaries ---------------------------------------------------------------------------------


def summary(view: EvalView) -> dict[str, dict[str, Any]]:
    """Per system: items, errors, mean score, and mean tokens and cost per item."""
    found = {}
    for system in view.systems:
        mine = [item for item in view.items if item.system == system]
        scores = [item.score for item in mine if item.score is not None]
        found[system] = {
            "items": len(mine),
            "errors": sum(item.error is not None for item in mine),
            "score": mean(scores) if scores else None,
            "tokens": mean(item.tokens for item in mine) if mine else 0.0,
            "cost_usd": mean(item.cost_usd for item in mine) if mine else 0.0,
        }
    return found


def by_facet(view: EvalView, facet: str) -> dict[str, dict[str, float]]:
    """system -> facet label -> mean score (labels without items left out)."""
    grouped: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for item in view.items:
        if item.score is not None and facet in item.facets:
            grouped[item.system][item.facets[facet]].append(item.score)
    return {system: {k: mean(v) for k, v in labels.items()} for system, labels in grouped.items()}


# --- plots -------------------------------------------------------------------------------------


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # no XML prolog or DOCTYPE inside the page


def _figure(width: float = 6.0, height: float = 3.6) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def facet_plot(view: EvalView, facet: str) -> str:
    """Mean score per facet label, one line per system."""
    figure, axes = _figure()
    means = by_facet(view, facet)
    labels = [label for label in view.facets[facet] if any(label in m for m in means.values())]
    positions = {label: index for index, label in enumerate(labels)}
    for system in view.systems:
        points = [(positions[k], v) for k, v in means.get(system, {}).items() if k in positions]
        if points:
            xs, ys = zip(*sorted(points), strict=True)
            style = "-" if system == view.main else "--"
            axes.plot(
                xs, ys, style, marker="o", label=system, linewidth=2.2 if style == "-" else 1.4
            )
    axes.set_xticks(range(len(labels)), labels)
    axes.set_ylim(bottom=0)
    axes.set_xlabel(facet)
    axes.set_ylabel(f"mean {view.metric}")
    axes.set_title(f"{view.metric} by {facet}")
    axes.grid(True, alpha=0.3)
    if means:
        axes.legend(fontsize="small")
    return _svg(figure)


def cost_plot(view: EvalView, totals: Mapping[str, Mapping[str, Any]]) -> str:
    """Mean score against mean cost per item (tokens where nothing cost money)."""
    figure, axes = _figure()
    paid = any(row["cost_usd"] for row in totals.values())
    key, label = ("cost_usd", "cost per item (USD)") if paid else ("tokens", "tokens per item")
    for system, row in totals.items():
        if row["score"] is None:
            continue
        main = system == view.main
        axes.scatter([row[key]], [row["score"]], s=110 if main else 60,
                     marker="*" if main else "o", label=system, zorder=3)  # fmt: skip
        axes.annotate(system, (row[key], row["score"]), textcoords="offset points",
                      xytext=(6, 6), fontsize=9)  # fmt: skip
    axes.set_xlabel(label)
    axes.set_ylabel(f"mean {view.metric}")
    axes.set_title(f"{view.metric} against cost: {view.main} and its baselines")
    shown = [row for row in totals.values() if row["score"] is not None]
    widest = max((row[key] for row in shown), default=0.0) or 1.0
    highest = max((row["score"] for row in shown), default=0.0)
    axes.set_xlim(0, widest * 1.3)  # room for the labels right of the points
    axes.set_ylim(0, max(1.05, highest * 1.1))
    axes.grid(True, alpha=0.3)
    return _svg(figure)


# --- the page ----------------------------------------------------------------------------------

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:8px 24px 40px;
color:#1d2330}h1{font-size:22px}h2{font-size:17px;margin-top:28px}table{border-collapse:collapse;
width:100%}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e6e9f0;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}.plots{display:flex;flex-wrap:wrap;gap:12px}
.plots figure{margin:0;border:1px solid #dde2ec;border-radius:6px;padding:6px;background:#fff}
.plots svg{max-width:520px;height:auto}details>summary{cursor:pointer}pre{white-space:pre-wrap;
word-break:break-word;background:#f3f5f9;padding:8px;border-radius:4px;max-height:480px;
overflow:auto}.error{color:#b42318}.muted{color:#667085}tr.detail td{padding:0 8px 4px;
font-size:12px}
"""


def _cells(values: Iterable[str], cls: str = "") -> str:
    attribute = f' class="{cls}"' if cls else ""
    return "".join(f"<td{attribute}>{html.escape(value)}</td>" for value in values)


def _number(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render(view: EvalView) -> str:
    """The page, as one HTML text."""
    totals = summary(view)
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{html.escape(view.title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(view.title)}</h1>",
        f"<p class=muted>{len(view.items)} results; the score is {html.escape(view.metric)}; "
        f"{html.escape(view.main)} is the system, the others its baselines.</p>",
        "<h2>Summary</h2><table><tr><th>system</th><th>items</th><th>errors</th>"
        f"<th>mean {html.escape(view.metric)}</th><th>tokens/item</th><th>cost/item</th></tr>",
    ]
    for system, row in totals.items():
        parts.append(
            "<tr>" + _cells([system])
            + _cells([str(row["items"]), str(row["errors"]), _number(row["score"]),
                      f"{row['tokens']:.0f}", f"${row['cost_usd']:.5f}"], "n")
            + "</tr>"
        )  # fmt: skip
    parts.append("</table><h2>Plots</h2><div class=plots>")
    for facet in view.facets:
        parts.append(f"<figure>{facet_plot(view, facet)}</figure>")
    parts.append(f"<figure>{cost_plot(view, totals)}</figure></div>")
    parts.append("<h2>Items</h2><p class=muted>Open a row for everything recorded about it.</p>")
    facet_names = list(view.facets)
    header = "".join(f"<th>{html.escape(n)}</th>" for n in facet_names)
    parts.append(f"<table><tr><th>system</th><th>item</th>{header}<th>{view.metric}</th>"
                 "<th>tokens</th><th>question / task</th></tr>")  # fmt: skip
    for item in sorted(view.items, key=lambda i: (i.item_id, view.systems.index(i.system))):
        score = "error" if item.error else _number(item.score)
        labels = [item.facets.get(name, "") for name in facet_names]
        parts.append(
            "<tr>" + _cells([item.system, item.item_id, *labels])
            + _cells([score, str(item.tokens)], "n") + _cells([item.title[:160]]) + "</tr>"
        )  # fmt: skip
        parts.append(f'<tr class=detail><td colspan="{len(facet_names) + 5}"><details>'
                     f"<summary>{html.escape(item.system)} on {html.escape(item.item_id)}: "
                     "everything recorded</summary>")  # fmt: skip
        if item.error:
            parts.append(f"<p class=error>{html.escape(item.error)}</p>")
        shown = json.dumps(item.detail, indent=2, ensure_ascii=False, default=str)
        parts.append(f"<pre>{html.escape(shown)}</pre></details></td></tr>")
    parts.append("</table><h2>Settings</h2>")
    settings = json.dumps(view.settings, indent=2, ensure_ascii=False, default=str)
    parts.append(f"<pre>{html.escape(settings)}</pre></body></html>\n")
    return "".join(parts)


def write_html_report(out_dir: Path, path: Path) -> Path:
    """Write the report of the eval in `out_dir` to `path` (owner-only, like its results)."""
    return write_private(path, render(load_view(out_dir)))


__all__ = ["EvalView", "Item", "by_facet", "load_view", "render", "summary", "write_html_report"]
