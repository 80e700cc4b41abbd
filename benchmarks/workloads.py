"""The runs the reliability benchmarks put under stress: every built-in workflow (through its
example pipeline) and the two custom-graph examples, each answered by the fake OpenAI server
with the example's own scripted replies.

The replies are rules on the prompt (`examples/replies/*.yaml`), so a run gets the same reply to
the same request whatever the order, the retries or the resumes, and a fault-free run is the
reference every disturbed run must reproduce exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentrun.agents.messages import text_of
from agentrun.pipeline.fakes import load_script

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DEMO_TEXT = ROOT / "agentrun" / "data" / "demo" / "harbor_town.md"


@dataclass(frozen=True)
class Workload:
    """One example pipeline, with the inputs and settings that make it run on the fake server."""

    name: str
    example: str
    inputs: Mapping[str, str] = field(default_factory=dict)
    overrides: Mapping[str, str] = field(default_factory=dict)

    @property
    def spec(self) -> Path:
        return EXAMPLES / f"{self.example}.yaml"

    @property
    def replies(self) -> Path:
        return EXAMPLES / "replies" / f"{self.example}.yaml"

    def input_values(self) -> dict[str, str]:
        """The inputs, with `@path` read as the CLI reads it."""
        return {
            name: Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
            for name, value in self.inputs.items()
        }

    def cli_inputs(self) -> list[str]:
        return [
            arg for name, value in self.inputs.items() for arg in ("--input", f"{name}={value}")
        ]

    def settings(self, url: str, timeout_s: float = 30.0) -> dict[str, str]:
        """`--set` overrides that point the default model at the fake server."""
        return {**fake_model(url, timeout_s), **self.overrides}

    def cli_settings(self, url: str, timeout_s: float = 30.0) -> list[str]:
        pairs = self.settings(url, timeout_s).items()
        return [arg for key, value in pairs for arg in ("--set", f"{key}={value}")]

    def reply(self) -> Callable[[dict[str, Any]], str]:
        """The fake server's reply function: the example's scripted reply to the prompt."""
        script = load_script(self.replies)
        return lambda body: script.answer(text_of(body.get("messages", [])))


def fake_model(url: str, timeout_s: float) -> dict[str, str]:
    return {
        "models.default.model": "openai/fake",
        "models.default.api_base": url,
        "models.default.context_window": "8192",
        "models.default.timeout_s": f"{timeout_s:g}",
    }


WORKLOADS: tuple[Workload, ...] = (
    Workload(
        "chain-of-agents",
        "chain_of_agents",
        {"document": f"@{DEMO_TEXT}"},
        {"models.default.context_window": "2048"},  # a chain of several workers
    ),
    Workload("retrieve-then-reason", "retrieve_then_reason", {"context": f"@{DEMO_TEXT}"}),
    Workload(
        "agent-write",
        "agent_write",
        {"target_words": "500"},
        {"workflow.config.section_words": "250"},
    ),
    Workload("navigation", "navigation"),
    Workload("tour-navigation", "tour_navigation"),
    Workload("long-caption", "long_caption"),
    Workload("video-qa", "video_qa"),
    Workload("research-brief", "research_brief"),
    Workload("harbour-notes", "harbour_notes"),
)


def workload(name: str) -> Workload:
    found = {w.name: w for w in WORKLOADS}
    if name not in found:
        raise SystemExit(f"unknown workload {name!r}; choose from {', '.join(found)}")
    return found[name]


def pick(names: str | None) -> list[Workload]:
    """Workloads named in a comma-separated list (all of them for None)."""
    return list(WORKLOADS) if not names else [workload(n.strip()) for n in names.split(",")]
