"""What AgentWrite tells the model, in English and in Chinese.

Every writing prompt is bounded: the instruction, the plan (or the part of it around the
current section when the whole plan would not fit), a running summary of the sections written
so far, and the end of the previous section; never all previous text.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentrun.agents.messages import Message
from agentrun.graphs.agent_write.plan import OutlineShape, SectionBounds, SectionPlan
from agentrun.text.words import Language


def _system(language: Language) -> Message:
    text = (
        "你是一位写作专家，正在逐段完成一篇长文。"
        if language == "zh"
        else "You are an expert writer producing one long piece, one section at a time."
    )
    return {"role": "system", "content": text}


# --- planning ----------------------------------------------------------------------------------


def plan(
    instruction: str, target: int, shape: OutlineShape, bounds: SectionBounds, language: Language
) -> list[Message]:
    count, low, high = shape.count, shape.low, shape.high
    if language == "zh":
        span = f"（{low}到{high}个均可）" if low < high else ""
        text = (
            f"请把下面的写作任务拆分为{count}个部分{span}。为每个部分给出简短标题、"
            f"主要内容（一两句话说明本部分具体写什么）和字数。各部分字数之和为{target}字，每部分"
            f"{bounds.min_words}到{bounds.max_words}字。\n\n写作任务：\n{instruction}"
        )
    else:
        span = f" ({low} to {high} is fine)" if low < high else ""
        text = (
            f"Split the writing task below into {count} sections{span}. For "
            "each section give a short title, its main point (one or two sentences saying what "
            f"the section covers) and its word count. The word counts add up to {target}; each "
            f"section gets {bounds.min_words} to {bounds.max_words} words.\n\n"
            f"Writing task:\n{instruction}"
        )
    return [
        {"role": "system", "content": "You plan long pieces of writing."},
        {"role": "user", "content": text},
    ]


def _with_note(messages: list[Message], note: str) -> list[Message]:
    """`messages` with `note` added to the last one."""
    last = messages[-1]
    return [*messages[:-1], {**last, "content": f"{last['content']}\n\n{note}"}]


def replan(messages: list[Message], problems: list[str], language: Language) -> list[Message]:
    """The planning prompt again, with what was wrong with the last outline."""
    listed = "; ".join(problems)
    note = (
        f"上一份提纲不可用：{listed}。请重新给出提纲。"
        if language == "zh"
        else f"The previous outline could not be used: {listed}. Write a new outline."
    )
    return _with_note(messages, note)


def rejected(
    messages: list[Message], outline: str, reason: str, language: Language
) -> list[Message]:
    """A planning prompt again, with the outline a person rejected and their reason."""
    if language == "zh":
        why = reason or "（未说明）"
        note = f"审阅者否决了这份提纲：\n{outline}\n理由：{why}\n请据此重新拟定提纲。"
    else:
        note = (
            f"A reviewer rejected this outline:\n{outline}\nReason: {reason or '(none given)'}\n"
            "Write a new outline that addresses it."
        )
    return _with_note(messages, note)


def reviewed_point(instruction: str, reason: str, language: Language) -> str:
    """A lone section's point after a person rejected it with `reason` (no planner runs)."""
    label = "审阅意见：" if language == "zh" else "Reviewer's note: "
    return f"{instruction.strip()}\n{label}{reason}"


def point_lines(instruction: str, count: int, language: Language) -> list[Message]:
    """Plain-text planning for models that cannot produce a usable JSON outline."""
    if language == "zh":
        text = (
            f"写作任务：\n{instruction}\n\n请为这篇文章列出{count}个部分的主要内容，每行一个，"
            "每个用一句话说明该部分写什么。"
        )
    else:
        text = (
            f"Writing task:\n{instruction}\n\nList {count} section topics for this piece, one "
            "per line, each a short sentence saying what the section covers."
        )
    return [{"role": "user", "content": text}]


# --- writing -----------------------------------------------------------------------------------


def render_plan(sections: list[SectionPlan], language: Language, around: int | None = None) -> str:
    """The plan as numbered lines; with `around`, only the sections next to that index."""
    unit = "字" if language == "zh" else " words"
    lines: list[str] = []
    shown = range(len(sections))
    if around is not None:
        shown = range(max(0, around - 2), min(len(sections), around + 3))
        if shown.start > 0:
            lines.append("...")
    for index in shown:
        section = sections[index]
        title = f"{section.title} — " if section.title else ""
        lines.append(f"{index + 1}. ({section.words}{unit}) {title}{section.point}")
    if around is not None and shown.stop < len(sections):
        lines.append("...")
    return "\n".join(lines)


@dataclass(frozen=True)
class SectionTask:
    """What the writer is told about the section it writes."""

    instruction: str
    language: Language
    index: int
    count: int
    point: str
    words: int
    headings: bool
    #: A lone section's request names its point too (a reviewed outline set it).
    point_named: bool = False


def _context(
    task: SectionTask, plan_text: str, summary: str | None, previous: str | None
) -> list[str]:
    """What a writing call is told before its request: the instruction, the plan, the summary
    so far and the end of the previous section (those given)."""
    n, k, zh = task.count, task.index + 1, task.language == "zh"
    parts: list[str] = [("写作任务：\n" if zh else "Writing task:\n") + task.instruction]
    if n > 1:
        parts.append(
            (f"全文提纲（共{n}部分）：\n" if zh else f"Plan ({n} sections):\n") + plan_text
        )
    if summary is not None and k > 1:
        head = "已完成部分的摘要：\n" if zh else "Summary of the sections written so far:\n"
        parts.append(head + (summary or ("（无）" if zh else "(none)")))
    if previous:
        parts.append(("上一部分的结尾：\n" if zh else "End of the previous section:\n") + previous)
    return parts


def write(
    task: SectionTask, plan_text: str, summary: str | None, previous: str | None
) -> list[Message]:
    """Write one section. `summary`/`previous` are None in parallel mode (the section is then
    written from the instruction, the plan and its own point only)."""
    parts = [*_context(task, plan_text, summary, previous), _write_request(task)]
    return [_system(task.language), {"role": "user", "content": "\n\n".join(parts)}]


def _write_request(task: SectionTask) -> str:
    n, k = task.count, task.index + 1
    if task.language == "zh":
        where = f"现在请写第{k}部分（共{n}部分）：{task.point}\n" if n > 1 else ""
        where = f"主要内容：{task.point}\n" if task.point_named and n == 1 else where
        ending = "这是最后一部分，请完成全文的结尾。" if k == n else "不要在本部分总结全文。"
        heading = "不要写标题（标题会自动加上），" if task.headings else ""
        return f"{where}本部分约{task.words}字。只输出本部分的正文，{heading}不要重复前文。{ending}"
    where = f"Now write section {k} of {n}: {task.point}\n" if n > 1 else ""
    where = f"Main point: {task.point}\n" if task.point_named and n == 1 else where
    ending = (
        "This is the last section: bring the piece to its end."
        if k == n
        else "Do not conclude the piece in this section."
    )
    heading = "no heading (it is added for you), " if task.headings else ""
    return (
        f"{where}Write about {task.words} words. Output only the text of this section: "
        f"{heading}no repetition of earlier text. {ending}"
    )


#: What each continuation of a section adds, in turn: a new request each time, so a model at
#: temperature 0 does not give the same reply again, and small models add something new instead
#: of copying the text they were shown (measured: they copy a section's end when shown it).
ANGLES: dict[Language, tuple[str, ...]] = {
    "en": (
        "a concrete example or scene",
        "the people involved",
        "a particular place and moment",
        "the difficulties and how they were met",
        "what changed as a result",
        "details not mentioned yet",
    ),
    "zh": ("一个具体的例子或场景", "相关的人物", "一个具体的地点和时刻", "遇到的困难及其解决",
           "带来的变化", "前文尚未提到的细节"),
}  # fmt: skip


def angle(turn: int, task: SectionTask) -> str:
    """The focus of a section's `turn`-th continuation (sections start at different ones)."""
    angles = ANGLES[task.language]
    return angles[(task.index + turn) % len(angles)]


def more(task: SectionTask, plan_text: str, summary: str | None, focus: str) -> list[Message]:
    """Add to a section that came out short: the writing prompt's context without the text so
    far (small models copy it), a new focus, and about `task.words` more words."""
    n, k = task.count, task.index + 1
    if task.language == "zh":
        where = (
            f"现在接着写第{k}部分（共{n}部分）：{task.point}" if n > 1 else "现在接着写这篇文章。"
        )
        ending = "这是最后一部分，请完成全文的结尾。" if k == n else "不要在本部分总结全文。"
        ask = (
            f"{where}\n请再写约{task.words}字，内容侧重于{focus}。只输出新写的正文，不要写标题，"
            f"不要重复前文。{ending}"
        )
    else:
        where = (
            f"Now continue section {k} of {n}: {task.point}" if n > 1 else "Now continue the piece."
        )
        ending = (
            "This is the last section: bring the piece to its end."
            if k == n
            else "Do not conclude the piece in this section."
        )
        ask = (
            f"{where}\nAdd to it with about {task.words} more words, on {focus}. Output only the "
            f"new text: no heading, no repetition of earlier text. {ending}"
        )
    parts = [*_context(task, plan_text, summary, None), ask]
    return [_system(task.language), {"role": "user", "content": "\n\n".join(parts)}]


def retry(task: SectionTask, words: int) -> list[Message]:
    """Start a section that came back empty: a different request from the first, so neither a
    cache nor temperature 0 repeats the blank reply."""
    k, n = task.index + 1, task.count
    if task.language == "zh":
        return [_system(task.language), {"role": "user", "content": (
            f"写作任务：\n{task.instruction}\n\n你正在写第{k}部分（共{n}部分）：{task.point}\n"
            f"这一部分还没有任何内容。请现在写出这一部分，约{words}字。只输出这一部分的正文。"
        )}]  # fmt: skip
    return [_system(task.language), {"role": "user", "content": (
        f"Writing task:\n{task.instruction}\n\nYou are writing section {k} of {n}: "
        f"{task.point}\nNothing of it is written yet. Write the section now, about {words} "
        "words. Output only its text."
    )}]  # fmt: skip


def condense(task: SectionTask, text: str) -> list[Message]:
    """Shorten a section that came out long."""
    if task.language == "zh":
        body = (
            f"请把下面这段文字改写为约{task.words}字，保留主要内容。只输出改写后的文字。\n\n{text}"
        )
    else:
        body = (
            f"Rewrite the text below in about {task.words} words, keeping its main content. "
            f"Output only the rewritten text.\n\n{text}"
        )
    return [_system(task.language), {"role": "user", "content": body}]


def summarize(previous_summary: str, section: str, words: int, language: Language) -> list[Message]:
    """Fold one more section into the running summary."""
    if language == "zh":
        text = (
            f"前文摘要：\n{previous_summary or '（无）'}\n\n新的一部分：\n{section}\n\n"
            f"请用不超过{words}字写出到目前为止全文的摘要：各部分写了什么，以及需要保持一致的"
            "人物、名称和事实。只输出摘要。"
        )
    else:
        text = (
            f"Summary so far:\n{previous_summary or '(none)'}\n\nNext section:\n{section}\n\n"
            f"Write an updated summary of the piece so far in at most {words} words: what each "
            "part covered, and the names and facts to keep consistent. Output only the summary."
        )
    return [{"role": "user", "content": text}]


def single_call(instruction: str) -> list[Message]:
    """The baseline: the instruction alone, in one call."""
    return [{"role": "user", "content": instruction}]


def all_previous_text(task: SectionTask, plan_text: str, written: list[str]) -> list[Message]:
    """The reference approach's prompt for a section (all text so far). Only ever counted, to
    compare prompt sizes; never sent."""
    so_far = "\n\n".join(written)
    zh = task.language == "zh"
    parts = [
        ("写作任务：\n" if zh else "Writing task:\n") + task.instruction,
        ("全文提纲：\n" if zh else "Plan:\n") + plan_text,
        ("已写内容：\n" if zh else "Text written so far:\n") + (so_far or "(none)"),
        _write_request(task),
    ]
    return [_system(task.language), {"role": "user", "content": "\n\n".join(parts)}]
