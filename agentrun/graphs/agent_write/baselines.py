"""What AgentWrite is compared with: the single call (the instruction alone), and the
reference approach (all previous text in every call), counted but never sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentrun.agents.gateway import Gateway
from agentrun.agents.ledger import collect, total
from agentrun.graphs.agent_write import prompts
from agentrun.graphs.agent_write.models import AgentWriteResult
from agentrun.graphs.agent_write.section import SAFETY_TOKENS


@dataclass(frozen=True)
class SingleCall:
    """The single call's text, why it stopped, the output cap it had, and its usage."""

    text: str
    finish_reason: str | None
    max_tokens: int
    usage: dict[str, Any]


async def single_call(
    gateway: Gateway, model: str, instruction: str, *, max_tokens: int | None = None
) -> SingleCall:
    """The baseline: the instruction in one call, max_tokens what the window leaves (or the
    cap, when lower)."""
    messages = prompts.single_call(instruction)
    room = gateway.context_window(model) - gateway.count_tokens(model, messages) - SAFETY_TOKENS
    cap = min(room, max_tokens or room)
    with collect() as calls:
        completion = await gateway.acomplete(
            model, messages, max_tokens=cap, temperature=0.0, node="single"
        )
    return SingleCall(completion.text, completion.finish_reason, cap, total(calls).to_dict())


def all_previous_text_tokens(gateway: Gateway, result: AgentWriteResult) -> list[int]:
    """Prompt tokens the reference approach (instruction, plan and all text so far in every
    call) would send for each section of `result`, counted with the model's tokenizer; never
    sent. Compare their sum with `result.usage['prompt_tokens']`."""
    plan_text = prompts.render_plan(result.plan, result.language)
    texts = [section.text for section in result.sections]
    counts: list[int] = []
    for index, section in enumerate(result.plan):
        task = prompts.SectionTask(
            instruction=result.instruction, language=result.language, index=index,
            count=len(result.plan), point=section.point, words=section.words, headings=False,
        )  # fmt: skip
        messages = prompts.all_previous_text(task, plan_text, texts[:index])
        counts.append(gateway.count_tokens(result.model, messages))
    return counts
