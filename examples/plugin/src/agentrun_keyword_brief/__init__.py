"""keyword-brief: pick a text's keywords, count them with a tool, then write a one-line brief.

A small agentrun plugin workflow: three steps, two checkpointed model calls, one tool, and an
optional review of the keywords by a person before the brief is written. Installed, it is found
by name (`agentrun workflows ls`), from YAML (`workflow: {type: keyword-brief}`), from the CLI
(`agentrun run --workflow keyword-brief`) and from Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, ConfigDict, Field

from agentrun import BuildContext, Session, Workflow, WorkflowResult, review
from agentrun.graphs import runtime
from agentrun_keyword_brief import prompts
from agentrun_keyword_brief.tools import count_keywords


class KeywordBriefConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = "local/smollm2"
    max_tokens: int = Field(default=48, gt=0, description="Room for each model reply.")
    review_keywords: bool = Field(
        default=False, description="Have a person approve or edit the keywords first."
    )


class KeywordBriefInputs(BaseModel):
    text: str = Field(description="The text to brief.")
    keywords: int = Field(default=3, ge=1, le=10, description="How many keywords to pick.")


class KeywordBriefResult(WorkflowResult):
    output_field = "brief"

    keywords: list[str]
    counts: dict[str, int]
    brief: str


class State(TypedDict, total=False):
    text: str
    wanted: int
    keywords: list[str]
    counts: dict[str, int]
    brief: str
    usage: Annotated[dict[str, Any], runtime.add_usage]


def parse_keywords(reply: str, wanted: int) -> list[str]:
    """The first `wanted` distinct words of a comma-separated reply."""
    words = [part.strip(" .\n").lower() for part in reply.replace("\n", ",").split(",")]
    return list(dict.fromkeys(word for word in words if word))[:wanted]


class KeywordBrief(Workflow[KeywordBriefConfig, KeywordBriefInputs, KeywordBriefResult]):
    name = "keyword-brief"
    description = "Pick a text's keywords, count them with a tool, then write a one-line brief."

    def build(self, ctx: BuildContext[KeywordBriefConfig]) -> StateGraph[Any, Any, Any, Any]:
        config = ctx.config

        async def pick(state: State) -> dict[str, Any]:
            reply = await runtime.complete(
                config.model, prompts.keywords(state["text"], state["wanted"]),
                node="pick", max_tokens=config.max_tokens,
            )  # fmt: skip
            keywords = parse_keywords(reply.text, state["wanted"])
            if config.review_keywords:
                outcome = review("Keep these keywords?", keywords,
                                 schema={"type": "array", "items": {"type": "string"}})  # fmt: skip
                keywords = outcome.value if outcome.action == "edit" else keywords
            usage = runtime.usage_update(runtime.usage_of(reply))
            return {"keywords": keywords, "usage": usage}

        async def count(state: State) -> dict[str, Any]:
            arguments = {"text": state["text"], "keywords": state["keywords"]}
            return {"counts": await count_keywords.call(arguments)}

        async def write(state: State) -> dict[str, Any]:
            reply = await runtime.complete(
                config.model, prompts.brief(state["text"], state["counts"]),
                node="brief", max_tokens=config.max_tokens,
            )  # fmt: skip
            usage = runtime.usage_update(runtime.usage_of(reply))
            return {"brief": reply.text.strip(), "usage": usage}

        graph: StateGraph[Any, Any, Any, Any] = StateGraph(State)
        graph.add_node("pick", pick)
        graph.add_node("count", count)
        graph.add_node("brief", write)
        graph.add_edge(START, "pick")
        graph.add_edge("pick", "count")
        graph.add_edge("count", "brief")
        graph.add_edge("brief", END)
        return graph

    async def start(self, inputs: KeywordBriefInputs, session: Session) -> Mapping[str, Any]:
        return {"text": inputs.text, "wanted": inputs.keywords}

    async def finish(self, state: Mapping[str, Any], session: Session) -> KeywordBriefResult:
        return KeywordBriefResult(
            keywords=state["keywords"], counts=state["counts"], brief=state["brief"]
        )


__all__ = ["KeywordBrief", "KeywordBriefConfig", "KeywordBriefInputs", "KeywordBriefResult"]
