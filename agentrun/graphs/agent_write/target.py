"""How long to write: the target in words, and the model's tokens per word."""

from __future__ import annotations

from dataclasses import dataclass

from agentrun.agents.gateway import Gateway
from agentrun.errors import UsageError
from agentrun.graphs.agent_write.models import AgentWriteConfig, TargetSource
from agentrun.text import words as w
from agentrun.text.words import Language

#: Texts whose token count per word gives the model's words -> tokens ratio.
RATIO_SAMPLES: dict[Language, str] = {
    "en": (
        "The harbour town woke slowly that winter. Fishermen mended their nets by the light of "
        "paraffin lamps, children ran between the stalls of the market, and the old ferry, "
        "repainted every spring, crossed the bay twice a day whatever the weather. Visitors "
        "rarely stayed long, yet those who did remembered the bakery on the corner, the smell "
        "of smoked herring, and the way the church bell seemed to answer the foghorn."
    ),
    "zh": (
        "那年冬天，港口小镇醒得很慢。渔民们在煤油灯下修补渔网，孩子们在集市的摊位之间奔跑，"
        "那艘每年春天都重新粉刷的旧渡轮，无论天气如何，每天两次穿过海湾。游客很少久留，"
        "但留下来的人都记得街角的面包店、熏鲱鱼的香味，以及教堂钟声仿佛在回应雾笛的样子。"
    ),
}


@dataclass(frozen=True)
class Target:
    words: int
    source: TargetSource
    note: str | None = None


def resolve_target(instruction: str, target_words: int | None, config: AgentWriteConfig) -> Target:
    """The length to write: given, asked for in the instruction, or inferred (and said so)."""
    if not instruction.strip():
        raise UsageError("the instruction is empty; say what to write")
    if target_words is not None:
        target = Target(target_words, "argument")
        where = "target_words"
    elif (request := w.requested_length(instruction)) is not None:
        target = Target(request.words, "instruction")
        where = f"the instruction ({request.quote!r})"
    else:
        words, why = w.default_length(instruction, config.default_words)
        note = f"the instruction names no length; writing {words} words ({why}); pass target_words"
        target, where = Target(words, "inferred", note), "the inferred default"
    if target.words <= 0:
        raise UsageError(f"target_words must be at least 1 word (got {target.words})")
    if target.words > config.max_words:
        raise UsageError(
            f"the target of {target.words} words from {where} is over max_words="
            f"{config.max_words}; ask for less, or raise AgentWriteConfig.max_words"
        )
    return target


def tokens_per_word(gateway: Gateway, model: str, language: Language) -> float:
    """The model's tokens per LongBench-Write word, measured with its tokenizer on a sample."""
    sample = RATIO_SAMPLES[language]
    return gateway.count_text(model, sample) / w.count_words(sample)
