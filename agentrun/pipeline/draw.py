"""Drawing a pipeline: Mermaid text, and a PNG or SVG rendered offline with matplotlib.

A `workflow:` pipeline is drawn as its workflow's own LangGraph graph; a custom pipeline as its
nodes and edges (conditional edges dashed and labelled with their condition).
"""

from __future__ import annotations

import io
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentrun.pipeline import Pipeline

START, END = "__start__", "__end__"
#: Node boxes, in units of the layout grid (one column is 1 wide, one layer 1 high).
BOX_W, BOX_H = 0.8, 0.36


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    conditional: bool = False


@dataclass
class Diagram:
    title: str
    nodes: list[str]
    edges: list[Edge] = field(default_factory=list)

    def mermaid(self) -> str:
        lines = ["flowchart TD"]
        for node in self.nodes:
            shape = (
                f"{_id(node)}([{_label(node)}])" if node in (START, END) else f"{_id(node)}[{node}]"
            )
            lines.append(f"    {shape}")
        for edge in self.edges:
            arrow = "-.->" if edge.conditional else "-->"
            label = f"|{edge.label.replace('|', '/')}|" if edge.label else ""
            lines.append(f"    {_id(edge.source)} {arrow}{label} {_id(edge.target)}")
        return "\n".join(lines) + "\n"

    def layers(self) -> dict[str, int]:
        """Longest-path layering from the start (back edges of loops ignored)."""
        outgoing: dict[str, list[str]] = defaultdict(list)
        for edge in self.edges:
            outgoing[edge.source].append(edge.target)
        depth = {START: 0}

        def visit(node: str, path: set[str]) -> None:
            for target in outgoing.get(node, []):
                if target in path:
                    continue  # a loop back: does not push the layer down
                if depth.get(target, -1) < depth[node] + 1:
                    depth[target] = depth[node] + 1
                    visit(target, path | {target})

        visit(START, {START})
        bottom = max(depth.values(), default=0) + 1
        return {node: depth.get(node, bottom) for node in self.nodes}

    def png(self, path: Path) -> Path:
        figure = self._figure()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=120, bbox_inches="tight", pad_inches=0.2)  # labels stay whole
        return path

    def svg(self) -> str:
        """The drawing as SVG text (glyphs drawn as paths: no text or script of its own)."""
        buffer = io.StringIO()
        self._figure().savefig(buffer, format="svg", bbox_inches="tight", pad_inches=0.2)
        return buffer.getvalue()

    def _figure(self) -> Any:
        """The drawing on matplotlib's Agg canvas directly: no pyplot, so no global state, and
        drawings may be made in several threads at once (a server's requests)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyBboxPatch

        layers = self.layers()
        rows: dict[int, list[str]] = defaultdict(list)
        for node in self.nodes:
            rows[layers[node]].append(node)
        width = max(len(r) for r in rows.values())
        position = {
            node: ((index + 0.5) * width / len(row), -layer)
            for layer, row in rows.items()
            for index, node in enumerate(row)
        }
        figure = Figure(figsize=(max(4.0, 2.6 * width), max(3.0, 1.3 * len(rows))))
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        for edge in self.edges:
            self._draw_edge(axes, edge, position[edge.source], position[edge.target])
        for node, (x, y) in position.items():
            terminal = node in (START, END)
            box = FancyBboxPatch(
                (x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H, boxstyle="round,pad=0.02",
                facecolor="#eeeeee" if terminal else "#dbe9ff", edgecolor="#335599", zorder=1,
            )  # fmt: skip
            axes.add_patch(box)
            axes.text(x, y, _label(node), ha="center", va="center", fontsize=9, zorder=2)
        axes.set_xlim(-0.1, width + 0.1)  # bows and labels outside are kept (clip_on=False)
        axes.set_ylim(-len(rows) + 0.4, 0.6)
        axes.set_title(self.title, fontsize=10)
        axes.axis("off")
        figure.tight_layout()
        return figure

    @staticmethod
    def _draw_edge(
        axes: Any, edge: Edge, source: tuple[float, float], target: tuple[float, float]
    ) -> None:
        """Forward edges run from box to box downwards; edges back up a loop (and self-loops)
        leave and enter on the right side of the boxes, bowed out, so their arrowheads and
        labels stay clear of the boxes."""
        from matplotlib.patches import FancyArrowPatch

        (x1, y1), (x2, y2) = source, target
        back = y2 >= y1
        if not back:
            start, end, bend = (x1, y1 - BOX_H / 2), (x2, y2 + BOX_H / 2), 0.0
        elif edge.source == edge.target:
            start, end, bend = (x1 + BOX_W / 2, y1 - 0.1), (x2 + BOX_W / 2, y2 + 0.1), 1.6
        else:
            start, end, bend = (x1 + BOX_W / 2, y1), (x2 + BOX_W / 2, y2), 0.3
        arrow = FancyArrowPatch(
            start, end, arrowstyle="-|>", mutation_scale=14, zorder=3,
            linestyle="--" if edge.conditional else "-", color="#444444",
            connectionstyle=f"arc3,rad={bend}", shrinkA=0, shrinkB=1, clip_on=False,
        )  # fmt: skip
        axes.add_patch(arrow)
        if not edge.label:
            return
        label = textwrap.fill(edge.label, 36)
        if back:  # beside the bow: its peak is bend * height / 2 right of the ends
            peak = max(start[0], end[0]) + bend * abs(end[1] - start[1]) / 2
            where = (peak + 0.06, (start[1] + end[1]) / 2)
        else:
            where = ((x1 + x2) / 2 + 0.08, (y1 + y2) / 2)
        axes.text(*where, label, fontsize=7, color="#884400", va="center", zorder=4, clip_on=False)


def _id(node: str) -> str:
    return {"__start__": "start_", "__end__": "end_"}.get(node, node.replace("-", "_"))


def _label(node: str) -> str:
    return {"__start__": "start", "__end__": "end"}.get(node, node)


def diagram_of(pipeline: Pipeline) -> Diagram:
    spec = pipeline.spec
    if spec.workflow is not None:
        from agentrun.graphs.registry import get_workflow

        workflow = get_workflow(spec.workflow.type)(spec.workflow.config)
        graph = workflow.graph().compile().get_graph()
        edges = [
            Edge(e.source, e.target, str(e.data or ""), bool(e.conditional)) for e in graph.edges
        ]
        return Diagram(f"{spec.name} ({workflow.name})", list(graph.nodes), edges)
    from agentrun.pipeline.checks import graph_nodes, start_node

    ids = [node.id for node in graph_nodes(spec)]
    edges = [Edge(START, start_node(spec))]
    with_edges = set()
    for edge in spec.edges:
        with_edges.add(edge.from_)
        if edge.to is not None:
            edges.append(Edge(edge.from_, edge.to))
            continue
        for branch in edge.switch or []:
            edges.append(Edge(edge.from_, branch.to, branch.when or "otherwise", True))
        if all(branch.when is not None for branch in edge.switch or []):
            edges.append(Edge(edge.from_, END, "no branch", True))
    edges.extend(Edge(node, END) for node in ids if node not in with_edges)
    return Diagram(spec.name, [START, *ids, END], edges)
