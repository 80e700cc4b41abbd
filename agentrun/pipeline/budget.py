"""A pipeline run's budget: the input tokens and dollars it may use, checked before any call.

The default input ceiling, 1,000,000 tokens, is about 4 MB of English: several times the largest
context window of current models and far above any document a chain of agents reads in minutes,
while a 30 MB upload (about 7 M tokens, hours of calls on a paid model) is refused at once. Paid
models (a LiteLLM price above 0) get a default ceiling of $1 for the run; local and fake models
cost 0, so it never stops them. The spec's `limits:` and the run's options raise either.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agentrun.agents.gateway import Gateway
from agentrun.agents.tokens import Cl100kEstimate
from agentrun.errors import BudgetError, ConfigError
from agentrun.pipeline.options import RunOptions
from agentrun.pipeline.spec import PipelineSpec

DEFAULT_MAX_INPUT_TOKENS = 1_000_000
DEFAULT_MAX_COST_USD = 1.0
#: Characters in each of the three samples a long text is priced by.
SAMPLE_CHARS = 16_384


@dataclass(frozen=True)
class Limits:
    max_input_tokens: int
    max_cost_usd: float

    @classmethod
    def of(cls, spec: PipelineSpec, options: RunOptions) -> Limits:
        """The run's options first, then the spec's `limits:`, then the defaults."""
        tokens = options.max_input_tokens or spec.limits.max_input_tokens
        cost = options.max_cost_usd
        if cost is None:
            cost = spec.limits.max_cost_usd
        return cls(
            tokens or DEFAULT_MAX_INPUT_TOKENS,
            DEFAULT_MAX_COST_USD if cost is None else cost,
        )


@dataclass(frozen=True)
class Estimate:
    input_tokens: int
    #: What the inputs cost as prompt tokens once, on `model`: a floor for the run's cost.
    cost_usd: float
    #: The model counted and priced on: its alias and the model it names.
    model: str


def count_estimate(count: Callable[[str], int], text: str) -> int:
    """Tokens of `text`: counted whole when short; a long text by three samples (start, middle,
    end) scaled to its length in bytes, so a 30 MB text costs as little as 48 KB to estimate."""
    if len(text) <= 3 * SAMPLE_CHARS:
        return count(text)
    middle = (len(text) - SAMPLE_CHARS) // 2
    samples = [text[:SAMPLE_CHARS], text[middle : middle + SAMPLE_CHARS], text[-SAMPLE_CHARS:]]
    per_byte = sum(count(s) for s in samples) / sum(len(s.encode("utf-8")) for s in samples)
    return math.ceil(per_byte * len(text.encode("utf-8")))


def pipeline_models(spec: PipelineSpec) -> list[str]:
    """Every model a run of `spec` may call: its aliases and any model a workflow step names."""
    names = list(spec.models)
    steps = [spec.workflow, *(node.workflow for node in spec.nodes or [])]
    for step in steps:
        model = step.config.get("model") if step is not None else None
        if isinstance(model, str) and model not in names:
            names.append(model)
    return names


def _price(gateway: Gateway, model: str) -> float:
    """The model's input price; -1 for a name the gateway cannot route (its first call, if it
    is ever called, fails with the reason)."""
    try:
        return gateway.input_price(model)
    except ConfigError:
        return -1.0


def estimate(gateway: Gateway, models: list[str], inputs: Mapping[str, Any]) -> Estimate:
    """The inputs' tokens and cost on the dearest of `models` (the first, when all are free)."""
    texts = [v if isinstance(v, str) else json.dumps(v, default=str) for v in inputs.values()]
    texts = [text for text in texts if text]
    if not texts or not models:
        return Estimate(0, 0.0, models[0] if models else "")
    prices = {model: _price(gateway, model) for model in models}
    model = max(prices, key=prices.__getitem__)
    if prices[model] < 0:  # no model can be routed: count as for an unknown tokenizer
        estimate = Cl100kEstimate().count_text
        return Estimate(sum(count_estimate(estimate, t) for t in texts), 0.0, model)
    count = gateway.text_counter(model)
    tokens = sum(count_estimate(count, text) for text in texts)
    named = gateway.resolve(model).model
    return Estimate(
        tokens, tokens * prices[model], model if named == model else f"{model} ({named})"
    )


def check(estimate: Estimate, limits: Limits) -> None:
    """Refuse a run over its limits, saying the estimate, the limit and how to raise it."""
    tokens, cost = estimate.input_tokens, estimate.cost_usd
    if tokens > limits.max_input_tokens:
        raise BudgetError(
            f"the inputs are about {tokens:,} tokens on {estimate.model} (estimated cost "
            f"{usd(cost)}), over the limit of {limits.max_input_tokens:,} input tokens; nothing "
            "was sent. Raise it with --max-input-tokens N (max_input_tokens= in Python, "
            "limits.max_input_tokens in the spec)"
        )
    if cost > limits.max_cost_usd:
        raise BudgetError(
            f"the inputs alone are estimated to cost {usd(cost)} ({tokens:,} tokens on "
            f"{estimate.model} at LiteLLM's price), over the cost limit of "
            f"{usd(limits.max_cost_usd)}; nothing was sent. Raise it with --max-cost USD "
            "(max_cost_usd= in Python, limits.max_cost_usd in the spec)"
        )


def usd(value: float) -> str:
    """Dollars to four decimals, without trailing zeros: $1, $0.0075."""
    return "$" + f"{value:.4f}".rstrip("0").rstrip(".")
