"""Token budgets: chunks sized so that every prompt fits its model's window, never truncated.

A worker's prompt holds its instruction and query, the previous communication unit
(`cu_tokens`), its chunk and room for its reply; an answering prompt (the manager's, or a
baseline's one call) holds its instruction and query, the text it answers from and room for the
answer. Both are counted with the model's own tokenizer.
"""

from __future__ import annotations

from agentrun.agents.gateway import Gateway
from agentrun.errors import ConfigError, UsageError
from agentrun.graphs.chain_of_agents.models import ChainOfAgentsConfig
from agentrun.graphs.chain_of_agents.prompts import manager_messages, uses_evidence, worker_messages
from agentrun.graphs.long_doc import PreparedDocument

#: Tokens kept free in every prompt for tokenizer disagreements and chat formatting.
SAFETY_TOKENS = 32
#: Below this many tokens per chunk the chain would be all overhead.
MIN_CHUNK_TOKENS = 64


def worker_output_tokens(config: ChainOfAgentsConfig, query: str | None) -> int:
    return config.worker_max_tokens if uses_evidence(config, query) else config.cu_tokens


def answer_output_tokens(config: ChainOfAgentsConfig, query: str | None) -> int:
    """Room for an answer (a summary gets four times as much)."""
    return config.answer_max_tokens * (1 if query else 4)


def plan_chunk_tokens(gateway: Gateway, config: ChainOfAgentsConfig, query: str | None) -> int:
    """Chunk size that keeps every worker prompt inside the window, never truncating."""
    window = gateway.context_window(config.model)
    if query is not None:
        query_tokens = gateway.count_text(config.model, query)
        if query_tokens >= window:
            raise UsageError(
                f"the query is {query_tokens} tokens, longer than the {window}-token window of "
                f"{config.model}; shorten it"
            )
    overhead = gateway.count_tokens(
        config.model, worker_messages(config, query, "", "", "part 1 of 1")
    )
    output = worker_output_tokens(config, query)
    budget = window - overhead - config.cu_tokens - output - SAFETY_TOKENS
    if budget < MIN_CHUNK_TOKENS:
        raise ConfigError(
            f"the {window}-token window of {config.model} leaves {budget} tokens per chunk after "
            f"instruction and query ({overhead}), communication unit ({config.cu_tokens}) and "
            f"output ({output}); use a model with a larger window or "
            "lower cu_tokens / worker_max_tokens"
        )
    default = min(budget, config.local_chunk_cap) if gateway.is_local(config.model) else budget
    return min(config.chunk_tokens or default, budget)


def context_budget(gateway: Gateway, config: ChainOfAgentsConfig, query: str | None) -> int:
    """Tokens of document text that fit one answering prompt of the manager's model."""
    window = gateway.context_window(config.manager)
    overhead = gateway.count_tokens(config.manager, manager_messages(query, ""))
    budget = window - overhead - answer_output_tokens(config, query) - SAFETY_TOKENS
    if budget < MIN_CHUNK_TOKENS:
        raise ConfigError(
            f"the {window}-token window of {config.manager} leaves {budget} tokens for the "
            "document; use a model with a larger window"
        )
    return budget


def chunk_tokens_of(doc: PreparedDocument) -> int:
    """The chunk size a document was split at (its split is named `<model>-<chunk tokens>`)."""
    return int(doc.split.rsplit("-", 1)[1])
