"""Pictures of the city: the agent's local map (image observation) and whole episodes.

The local map is drawn with Pillow (fast enough for every step): streets within the visibility
radius, heading up, the agent at the centre, visible landmarks named, a north arrow and a scale
bar. Episode maps use matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from agentrun.graphs.navigation.city import City, CityTask, Sighting, exact_sightings
from agentrun.settings import open_private

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAP_PX = 256
Point = tuple[float, float]
_MARKER_PX = 32  # the north arrow's base, this far from the top and right edges
_ARROW_PX = 12
_LABEL_PX = 21  # the "N", beyond the arrow's tip
_STREET = (90, 90, 90)
_LANDMARK = (30, 90, 200)
_AGENT = (220, 40, 40)


def _font(size: int) -> object:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def north_marker(heading: float, size: int = MAP_PX) -> tuple[Point, Point, Point]:
    """The north arrow's base and tip and the centre of its "N", beyond the tip, so the label
    stays inside the image and clear of the arrow whatever the heading."""
    bx, by = size - _MARKER_PX, _MARKER_PX
    ux, uy = math.sin(math.radians(-heading)), -math.cos(math.radians(-heading))
    tip = (bx + _ARROW_PX * ux, by + _ARROW_PX * uy)
    label = (bx + _LABEL_PX * ux, by + _LABEL_PX * uy)
    return (bx, by), tip, label


def local_map_png(
    city: City,
    node: int,
    heading: float,
    size: int = MAP_PX,
    sightings: Sequence[Sighting] | None = None,
) -> bytes:
    """A PNG of the map within the visibility radius of `node`, rotated so `heading` is up.

    Landmarks are drawn where `sightings` place them (the perceived bearing and distance, so
    perception noise shows in the image as in the text), by default where they truly are."""
    from PIL import Image, ImageDraw

    radius = city.config.visibility_m
    cx, cy = city.positions[node]
    centre = size / 2
    scale = (size / 2 - 6) / radius
    sin_h, cos_h = math.sin(math.radians(heading)), math.cos(math.radians(heading))

    def to_px(x: float, y: float) -> tuple[float, float]:
        dx, dy = x - cx, y - cy
        right = dx * cos_h - dy * sin_h
        ahead = dx * sin_h + dy * cos_h
        return centre + right * scale, centre - ahead * scale

    image = Image.new("RGB", (size, size), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    font = _font(10)
    reach = radius * 1.5
    for a, b in city.edges():
        (ax, ay), (bx, by) = city.positions[a], city.positions[b]
        if min(math.hypot(ax - cx, ay - cy), math.hypot(bx - cx, by - cy)) <= reach:
            draw.line([to_px(ax, ay), to_px(bx, by)], fill=_STREET, width=3)
    for name, bearing, distance in exact_sightings(city, node) if sightings is None else sightings:
        px, py = to_px(cx + distance * math.sin(math.radians(bearing)),
                       cy + distance * math.cos(math.radians(bearing)))  # fmt: skip
        draw.rectangle([px - 4, py - 4, px + 4, py + 4], fill=_LANDMARK)
        draw.text((px + 6, py - 6), name, fill=_LANDMARK, font=font)  # type: ignore[arg-type]
    draw.polygon(
        [(centre, centre - 8), (centre - 5, centre + 5), (centre + 5, centre + 5)], fill=_AGENT
    )
    # North arrow in the top-right corner, and a 100 m scale bar bottom-left.
    base, tip, label = north_marker(heading, size)
    draw.line([base, tip], fill=(0, 0, 0), width=2)
    draw.text(label, "N", fill=(0, 0, 0), font=font, anchor="mm")  # type: ignore[arg-type]
    bar = 100 * scale
    draw.line([(8, size - 10), (8 + bar, size - 10)], fill=(0, 0, 0), width=2)
    draw.text((10, size - 24), "100 m", fill=(0, 0, 0), font=font)  # type: ignore[arg-type]
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def episode_png(
    task: CityTask,
    paths: dict[str, Sequence[int]],
    out: str | os.PathLike[str],
    title: str = "",
) -> Path:
    """Draw the city, each labelled node path, start, goal and landmarks; write a PNG."""
    import matplotlib.pyplot as plt

    figure = episode_figure(task, paths, title)
    path_out = Path(out)
    with open_private(path_out, "wb") as handle:
        figure.savefig(handle, format="png")
    plt.close(figure)
    return path_out


def episode_figure(task: CityTask, paths: dict[str, Sequence[int]], title: str = "") -> Figure:
    """The figure `episode_png` saves (laid out; its axes map metres to pixels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle

    city = City.build(task.city)
    figure, axes = plt.subplots(figsize=(8, 8), dpi=100)
    for a, b in city.edges():
        (ax, ay), (bx, by) = city.positions[a], city.positions[b]
        axes.plot([ax, bx], [ay, by], color="#c8c8c8", linewidth=0.8, zorder=1)
    colours = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"]
    for (label, path), colour in zip(paths.items(), colours * 4, strict=False):
        xs = [city.positions[n][0] for n in path]
        ys = [city.positions[n][1] for n in path]
        axes.plot(xs, ys, color=colour, linewidth=2.2, alpha=0.8, label=label, zorder=3)
    referenced = {ref.landmark for ref in task.references}
    for mark in city.landmarks:
        strong = mark.name in referenced
        axes.scatter([mark.x], [mark.y], marker="s", s=60 if strong else 30,
                     color="#ff7f0e" if strong else "#555555", zorder=4)  # fmt: skip
        axes.annotate(mark.name, (mark.x, mark.y), xytext=(4, 4), textcoords="offset points",
                      fontsize=8, weight="bold" if strong else "normal")  # fmt: skip
        if strong:
            circle = Circle((mark.x, mark.y), city.config.visibility_m, fill=False,
                                linestyle=":", color="#ff7f0e", alpha=0.6)  # fmt: skip
            axes.add_patch(circle)
    sx, sy = city.positions[task.start]
    gx, gy = city.positions[task.goal]
    axes.scatter([sx], [sy], marker="o", s=90, color="#2ca02c", zorder=5, label="start")
    axes.scatter([gx], [gy], marker="*", s=220, color="#d62728", zorder=5, label="goal")
    axes.set_aspect("equal")
    axes.set_xlabel("east (m)")
    axes.set_ylabel("north (m)")
    axes.set_title(title or f"{task.task_id}: {task.shortest_hops} hops", fontsize=10)
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    return figure
