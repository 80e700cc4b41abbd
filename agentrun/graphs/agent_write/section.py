"""Writing one AgentWrite section: a bounded prompt that fits the window, max_tokens from the
section's word budget, then extension or trimming until the section is within tolerance.

Replies are cleaned before counting: a sentence cut off by max_tokens is dropped, and so are
sentences that repeat earlier ones (small models loop until max_tokens), so the count reflects
text worth keeping.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from agentrun.agents.gateway import Gateway
from agentrun.agents.ledger import Usage
from agentrun.agents.messages import Message
from agentrun.errors import ContextLengthError, ModelCallError
from agentrun.graphs import runtime
from agentrun.graphs.agent_write import prompts
from agentrun.graphs.agent_write.calibration import CallSample, CallSize
from agentrun.graphs.agent_write.models import AgentWriteConfig
from agentrun.graphs.agent_write.plan import Plan
from agentrun.graphs.runtime import context, usage_of
from agentrun.text import words as w
from agentrun.text.words import Language

#: Tokens kept free in every prompt for tokenizer disagreements and chat formatting.
SAFETY_TOKENS = 32
#: A call with less room than this for its output is not worth sending.
MIN_OUTPUT_TOKENS = 64
#: Continuations in a row that add nothing new before a section stops asking.
STALLS = 2


class EmptySectionError(ModelCallError):
    """The model wrote nothing for a section, even when asked again."""


def room(gateway: Gateway, model: str, messages: list[Message]) -> int:
    """Output tokens the window leaves after these messages."""
    return gateway.context_window(model) - gateway.count_tokens(model, messages) - SAFETY_TOKENS


@dataclass
class Draft:
    """A section being written, and what was done to it."""

    text: str = ""
    extensions: int = 0
    condensed: bool = False
    trimmed: bool = False
    repeats_dropped: int = 0
    retried: bool = False
    #: Model calls that wrote the section's text.
    calls: int = 0
    #: The first call, for calibration.
    sample: CallSample | None = None


def _clean(text: str, finish_reason: str | None, repeats: w.Repeats | None, draft: Draft) -> str:
    """A reply's usable text: without a sentence cut off by max_tokens, and (unless `repeats` is
    None) without what repeats earlier text or loops."""
    if finish_reason == "length":
        text = w.drop_unfinished_sentence(text)
    if repeats is not None:
        text, dropped = repeats.drop(text)
        draft.repeats_dropped += dropped
    return text.strip()


def _remember_request(repeats: w.Repeats | None, messages: list[Message]) -> None:
    """Sentences of the prompt a model echoes back are not text (small models do)."""
    if repeats is not None:
        repeats.remember(str(messages[-1]["content"]), runs=False)


#: A first line that is only a label: `**Title**`, `Title:`, `Section 2: Title`.
_LABEL = re.compile(
    r"^(?:(?:section|part|chapter)\s*\d+\s*[:.\-\u2014]\s*"
    r"|第[一二三四五六七八九十\d]+(?:部分|节|章)\s*[:：、]?\s*)?",
    re.IGNORECASE,
)
_MARKDOWN_HEADING = re.compile(r"#{1,6}(?:\s|$)")
#: A line longer than this (in words) is body text, never a heading.
HEADING_WORDS = 15


def is_heading(line: str, title: str) -> bool:
    """A Markdown heading, a line in bold alone, or a short line that is just the title."""
    line = line.strip()
    if _MARKDOWN_HEADING.match(line):
        return True
    if w.count_words(line) > HEADING_WORDS or not line:
        return False
    if len(line) > 4 and line.startswith("**") and line.endswith("**"):
        return True
    bare = _LABEL.sub("", line.strip("*_ ")).rstrip(":：.。").strip("*_ ")
    return bool(title) and bare.casefold() == title.strip().casefold()


#: A Markdown heading line, anywhere in a text: its marks.
_HEADING_MARKS = re.compile(r"^[ \t]*#{1,6}[ \t]+", re.MULTILINE)


def demote_headings(text: str) -> str:
    """The text with the marks of Markdown headings the model wrote inside it removed (their
    words stay): in a titled document, a `## ` line would read as a section of its own."""
    return _HEADING_MARKS.sub("", text)


def strip_heading(text: str, title: str) -> str:
    """Drop a heading line the model wrote itself (the document adds its own); body text that
    merely starts with the title stays."""
    first, sep, rest = text.partition("\n")
    if sep and is_heading(first, title):
        return rest.strip()
    return text


#: Makes a writing prompt from the task, the plan text, the summary and the previous text.
Prompt = Callable[[prompts.SectionTask, str, str | None, str | None], list[Message]]


def _continuation(turn: int) -> Prompt:
    """The prompt of a section's `turn`-th continuation (the previous section is left out)."""

    def build(
        task: prompts.SectionTask, plan_text: str, summary: str | None, _previous: str | None
    ) -> list[Message]:
        return prompts.more(task, plan_text, summary, prompts.angle(turn, task))

    return build


class SectionWriter:
    """Writes one section: bounded prompt, max_tokens from its budget, then extend or trim."""

    def __init__(
        self, config: AgentWriteConfig, plan: Plan, index: int, *,
        instruction: str, language: Language, ratio: float, reviewed: bool = False,
        budget: int | None = None,
    ) -> None:  # fmt: skip
        self.config = config
        self.plan = plan
        self.section = plan.sections[index]
        if budget is not None:  # the plan's budget with what earlier sections owe carried in
            self.section = self.section.model_copy(update={"words": budget})
        self.ratio = ratio
        self.gateway = context().gateway
        self.usage = Usage()
        point = self.section.point
        self.task = prompts.SectionTask(
            instruction=instruction, language=language, index=index,
            count=len(plan.sections), point=point, words=self.section.words,
            headings=config.headings and len(plan.sections) > 1,
            point_named=reviewed and point.strip() != instruction.strip(),
        )  # fmt: skip

    def tokens_for(self, words: int) -> int:
        return math.ceil(words * self.ratio * self.config.headroom) + 16

    def _fit(
        self, summary: str | None, previous: str | None, words: int, asked: int,
        build: Prompt = prompts.write,
    ) -> tuple[list[Message], int]:  # fmt: skip
        """The fullest prompt `build` makes that asks for `asked` words and leaves room for
        `words` (shrinking the plan, then the previous section, then the summary), and its
        max_tokens."""
        model, sections, language = self.config.model, self.plan.sections, self.task.language
        wanted = self.tokens_for(words)
        task = dataclasses.replace(self.task, words=asked)
        previous_cap = self.config.previous_words
        levels = [
            (None, previous_cap, summary),
            (self.task.index, previous_cap, summary),
            (self.task.index, previous_cap // 4, summary),
            (self.task.index, 0, w.tail_words(summary or "", self.config.summary_words // 2)),
        ]
        best: tuple[list[Message], int] | None = None
        for around, cap, summary_text in levels:
            tail = w.tail_words(previous, cap) if previous and cap else None
            plan_text = prompts.render_plan(sections, language, around)
            messages = build(task, plan_text, summary_text if summary is not None else None, tail)
            left = room(self.gateway, model, messages)
            if left >= wanted:
                return messages, wanted
            if best is None or left > best[1]:
                best = (messages, left)
        assert best is not None
        if best[1] < MIN_OUTPUT_TOKENS:
            raise ContextLengthError(
                model,
                f"section {self.task.index + 1}'s prompt leaves {best[1]} tokens for output in "
                f"the {self.gateway.context_window(model)}-token window; shorten the "
                "instruction or use a model with a larger window",
            )
        return best

    async def _call(
        self, messages: list[Message], node: str, words: int, *, checkpointed: bool = True
    ) -> tuple[str, str | None]:
        """One call for about `words` words. Unless `checkpointed`, it is sent as it is (no
        task, no cache): a resumed run then asks again instead of replaying the reply."""
        max_tokens = min(self.tokens_for(words), room(self.gateway, self.config.model, messages))
        if max_tokens < MIN_OUTPUT_TOKENS:
            raise ContextLengthError(self.config.model, f"no room left for {node}'s output")
        model, sampling = self.config.model, self.config.sampling
        if checkpointed:
            completion = await runtime.complete(
                model, messages, node=node, max_tokens=max_tokens, **sampling
            )
        else:
            await runtime.record_prompt(runtime.context(), node, model, messages)
            completion = await self.gateway.acomplete(
                model, messages, node=node, max_tokens=max_tokens, cache=False, **sampling,
            )  # fmt: skip
        self.usage += usage_of(completion)
        return completion.text, completion.finish_reason

    async def _retry_blank(
        self, repeats: w.Repeats | None, draft: Draft, wanted: int, asked: int
    ) -> None:
        """Ask once more, with a different request, for a section that came back empty; raise
        if it stays empty. The blank first reply is checkpointed, this call is not, so
        resuming after the error asks the model again."""
        k = self.task.index
        messages = prompts.retry(self.task, asked)
        reply, finish = await self._call(messages, f"retry[{k}]", wanted, checkpointed=False)
        draft.text, draft.retried = _clean(reply, finish, repeats, draft), True
        draft.calls += 1
        if w.count_words(draft.text) == 0:
            raise EmptySectionError(
                self.config.model,
                f"section {k + 1} of {self.task.count} came back empty, also when asked again; "
                "nothing was written in its place: resume the run once the model answers, or "
                "use another model",
            )

    async def write(
        self, summary: str | None, previous: str | None, size: CallSize | None = None
    ) -> Draft:
        """The section: a first call, continuations while it is short (each for what one call
        delivers, by `size`; the whole rest when `size` is None), then trimming if long."""
        k, budget, tolerance = self.task.index, self.section.words, self.config.tolerance
        repeats = w.Repeats(self.task.language) if self.config.drop_repeats else None
        if previous and repeats is not None:
            repeats.remember(previous)
        draft = Draft()
        wanted = min(budget, size.words) if size else budget
        asked = size.ask(wanted) if size else wanted
        messages, max_tokens = self._fit(summary, previous, wanted, asked)
        _remember_request(repeats, messages)
        completion = await runtime.complete(
            self.config.model, messages, node=f"write[{k}]", max_tokens=max_tokens,
            **self.config.sampling,
        )  # fmt: skip
        self.usage += usage_of(completion)
        text = completion.text
        if self.task.count > 1:
            text = strip_heading(text.strip(), self.section.title)
        draft.text = _clean(text, completion.finish_reason, repeats, draft)
        draft.calls = 1
        draft.sample = CallSample(
            asked=asked, written=w.count_words(draft.text), finish_reason=completion.finish_reason
        )
        if w.count_words(draft.text) == 0:
            await self._retry_blank(repeats, draft, wanted, asked)
        low, high = budget * (1 - tolerance), budget * (1 + tolerance)
        planned = math.ceil(budget / wanted) - 1
        stalled = 0
        for turn in range(planned + self.config.fix_attempts):
            words = w.count_words(draft.text)
            if words >= low or stalled == STALLS:
                break
            more = budget - words
            wanted = min(more, size.words) if size else more
            asked = size.ask(wanted) if size else wanted
            messages, _ = self._fit(summary, None, wanted, asked, _continuation(turn))
            _remember_request(repeats, messages)
            reply, finish = await self._call(messages, f"extend[{k}]", wanted)
            piece = _clean(strip_heading(reply.strip(), self.section.title), finish, repeats, draft)
            draft.extensions += 1
            draft.calls += 1
            stalled = stalled + 1 if w.count_words(piece) == 0 else 0
            draft.text = w.join_text(draft.text, piece)
        words = w.count_words(draft.text)
        if words > high and self.config.trim == "model" and self.config.fix_attempts:
            reply, finish = await self._call(
                prompts.condense(self.task, draft.text), f"condense[{k}]", budget
            )
            fresh = w.Repeats(self.task.language) if repeats is not None else None
            shorter = _clean(reply, finish, fresh, draft)
            draft.calls += 1
            if low <= w.count_words(shorter) < words:
                draft.text, draft.condensed = shorter, True
        if w.count_words(draft.text) > high:
            draft.text, draft.trimmed = w.trim_to_words(draft.text, budget, tolerance), True
        if self.task.headings:
            draft.text = demote_headings(draft.text)
        return draft

    async def summarize(self, previous_summary: str, text: str) -> str:
        words = self.config.summary_words
        if self.config.summary == "extractive":
            first = next(iter(w.sentences(text)), "")
            return w.tail_words(w.join_text(previous_summary, first), words)
        messages = prompts.summarize(previous_summary, text, words, self.task.language)
        reply, finish = await self._call(messages, f"summary[{self.task.index}]", words)
        if finish == "length":
            reply = w.drop_unfinished_sentence(reply)
        return w.trim_to_words(reply.strip(), words + words // 2)
