"""How many words the model really writes in one call, measured from the sections it wrote.

A small model asked for 500 words writes ~100-200 whatever the prompt says; asking it for the
whole section wastes its calls on text it loops on, and one extension after another copies what
it was shown. So each section is written in calls of the size the model manages: the first call
of every section is a sample (words asked, words kept after cleaning, why it stopped), the
estimate comes from the samples, and the next section's calls are sized from it. The samples are
kept per model in the store, so the next run starts from what earlier runs measured.

Two estimates come from the samples. `words`: what one call delivers, the median over samples
of the words kept, where a call that met its request (within the tolerance) or was cut off by
max_tokens counts as `(1 + tolerance)` times what it wrote, since it shows only a lower bound: a
model that writes what it is asked grows back to the whole section, one that falls short settles
at what it writes. `ask_factor`: how much more to ask for than is wanted, from the median share
of its request a call delivered (at most `MAX_ASK_FACTOR`), for models that write a fraction of
whatever they are asked.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from agentrun.graphs.runtime import WorkflowContext

#: Samples kept per model (the most recent).
MAX_SAMPLES = 24
#: Samples needed before the estimate is used.
MIN_SAMPLES = 2
#: No call is planned for fewer words than this.
MIN_WORDS_PER_CALL = 60
#: A call is never asked for more than this many times the words wanted from it.
MAX_ASK_FACTOR = 3.0


class CallSample(BaseModel):
    """One section's first call: words asked for, words kept, and why it stopped."""

    asked: int = Field(gt=0)
    written: int = Field(ge=0)
    finish_reason: str | None = None


@dataclass(frozen=True)
class CallSize:
    """How to size a call: it delivers about `words`; ask for `ask_factor` times what is wanted."""

    words: int
    ask_factor: float = 1.0

    def ask(self, wanted: int) -> int:
        return math.ceil(wanted * self.ask_factor)


def _lower_bound(sample: CallSample, tolerance: float) -> bool:
    """The call met its request or was cut off: it could have written more."""
    met = sample.written >= (1 - tolerance) * sample.asked
    return met or sample.finish_reason == "length"


def call_size(
    samples: list[CallSample], tolerance: float, words: int | None = None
) -> CallSize | None:
    """The size of the next call from the samples (`words` when given), or None while too
    little is measured (then a section's first call asks for the whole section)."""
    recent = samples[-MAX_SAMPLES:]
    if len(recent) < MIN_SAMPLES:
        return CallSize(words) if words is not None else None
    grown = [(1 + tolerance) if _lower_bound(s, tolerance) else 1.0 for s in recent]
    delivered = statistics.median(s.written * g for s, g in zip(recent, grown, strict=True))
    share = statistics.median(
        min(1.0, s.written * g / s.asked) for s, g in zip(recent, grown, strict=True)
    )
    return CallSize(
        words=words if words is not None else max(MIN_WORDS_PER_CALL, round(delivered)),
        ask_factor=min(MAX_ASK_FACTOR, 1 / max(share, 1 / MAX_ASK_FACTOR)),
    )


def size_from(
    raw: Sequence[Mapping[str, Any]] | None, tolerance: float, words: int | None = None
) -> CallSize | None:
    """`call_size` of samples kept as plain dicts (in a workflow's state)."""
    return call_size([CallSample.model_validate(item) for item in raw or []], tolerance, words)


def _namespace(ctx: WorkflowContext) -> tuple[str, ...]:
    return ctx.ns("agent_write", "calibration")


async def load_samples(ctx: WorkflowContext, model: str) -> list[CallSample]:
    """The samples earlier runs kept for `model` (none for a model never measured)."""
    item = await ctx.store.aget(_namespace(ctx), model)
    if item is None:
        return []
    return [CallSample.model_validate(raw) for raw in item.value.get("samples", [])]


async def save_samples(
    ctx: WorkflowContext, model: str, samples: list[CallSample], tolerance: float
) -> None:
    """Keep the most recent samples for `model`, with the estimate they give."""
    recent = samples[-MAX_SAMPLES:]
    size = call_size(recent, tolerance)
    value: dict[str, Any] = {
        "model": model,
        "samples": [sample.model_dump() for sample in recent],
        "words_per_call": size.words if size else None,
        "ask_factor": size.ask_factor if size else None,
        "updated": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    await ctx.store.aput(_namespace(ctx), model, value, index=False)
