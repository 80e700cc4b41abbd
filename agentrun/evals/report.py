"""Eval outputs: per-item results appended as they finish, a JSON report, and a PNG plot.

`results.jsonl` gets one line per (strategy, item) the moment it finishes, flushed to disk, so a
killed run loses nothing already computed; a re-run reads it back and skips what is done. The
plot is drawn with matplotlib's Agg canvas directly (no pyplot, no display, no global state).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from agentrun.settings import open_private, private_dir, write_private

RESULTS_FILE = "results.jsonl"
REPORT_FILE = "report.json"
PLOT_FILE = "accuracy_vs_length.png"


class ResultLog:
    """Append-only per-item results, safe to share between concurrent tasks of one run."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / RESULTS_FILE
        self._lock = threading.Lock()
        self._checked = False

    def read(self) -> list[dict[str, Any]]:
        """Every complete line written so far (a line cut short by a crash is ignored)."""
        if not self.path.exists():
            return []
        rows = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                rows.append(value)
        return rows

    def _ends_cleanly(self) -> bool:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return True
        with self.path.open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"

    def append(self, row: Mapping[str, Any]) -> None:
        line = json.dumps(row, ensure_ascii=False) + "\n"
        with self._lock, open_private(self.path, "a") as handle:
            if not self._checked:  # a crash may have cut the last line: end it first
                self._checked = True
                if not self._ends_cleanly():
                    handle.write("\n")
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())


def latest(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The last row per (strategy, item id): a retried item replaces its failed attempt."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        found[(str(row["strategy"]), str(row["item_id"]))] = dict(row)
    return found


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    """Write atomically: a reader never sees half a report."""
    return write_private(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def prepare_out_dir(out_dir: Path, settings: Mapping[str, Any]) -> None:
    """Create the output directory and record the settings of the run beside its results."""
    private_dir(out_dir)
    write_json(out_dir / "settings.json", settings)


def length_label(tokens: int) -> str:
    return f"{tokens // 1024}k" if tokens % 1024 == 0 and tokens >= 1024 else str(tokens)


def plot_accuracy(
    by_length: Mapping[str, Mapping[str, Mapping[str, Any]]],
    path: Path,
    *,
    metrics: Sequence[str] = ("em", "f1", "contains"),
    title: str = "Accuracy against context length",
) -> Path:
    """One panel per metric, one line per strategy; x is the context length (log scale)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.0 * len(metrics), 4.0), dpi=100)
    FigureCanvasAgg(figure)
    lengths = sorted({int(length) for rows in by_length.values() for length in rows})
    for number, metric in enumerate(metrics, start=1):
        axes = figure.add_subplot(1, len(metrics), number)
        for strategy, rows in sorted(by_length.items()):
            points = [
                (int(length), float(row[metric]))
                for length, row in rows.items()
                if row.get(metric) is not None
            ]
            points.sort()
            if points:
                xs, ys = zip(*points, strict=True)
                axes.plot(xs, ys, marker="o", label=strategy)
        if len(lengths) > 1:
            axes.set_xscale("log", base=2)
        axes.set_xticks(lengths, [length_label(n) for n in lengths])
        axes.set_ylim(-0.02, 1.02)
        axes.set_xlabel("context length (tokens)")
        axes.set_ylabel(metric.upper())
        axes.grid(True, alpha=0.3)
        if by_length:
            axes.legend(fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    with open_private(path, "wb") as handle:
        figure.savefig(handle, format="png")
    return path
