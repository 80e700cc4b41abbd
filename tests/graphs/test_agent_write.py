"""AgentWrite on scripted writers: length control, resume, failures, planning, context bounds."""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from agentrun.agents import Gateway, GatewayConfig, ModelConfig, RetryPolicy
from agentrun.agents import _litellm as lx
from agentrun.agents.testing import ScriptedModel, registered_provider, scripted_model
from agentrun.errors import RunFailedError, UsageError
from agentrun.graphs import agent_write as aw
from agentrun.graphs.events import Event, NodeFinished, TokenDelta
from agentrun.memory.namespaces import records_ns
from agentrun.text.words import count_words

FAST = RetryPolicy(max_attempts=2, initial_backoff_s=0.0, max_backoff_s=0.0, jitter_s=0.0)
WRITE = re.compile(r"Write about (\d+) words")
EXTEND = re.compile(r"with about (\d+) more words|Write the section now, about (\d+) words")
SECTION = re.compile(r"(?:Now write|Now continue|You are writing) section (\d+) of (\d+)")
PLAN = re.compile(r"into (\d+) sections .* add up to (\d+)", re.DOTALL)
SENTENCE = "Note says the keepers lit the lamp before the storm"
INSTRUCTION = "Write a 3000-word article about the history of lighthouses."


def run_ns(thread_id: str, kind: str) -> tuple[str, ...]:
    """Where a run in the default namespace keeps its `kind` records."""
    return records_ns(("default",), "runs", thread_id, kind)


class Writer:
    """A scripted writer that produces `factor` times the words each prompt asks for, in
    distinct ten-word sentences, and answers plans and summaries."""

    def __init__(self, factor: float = 1.0, *, plans: list[str] | None = None) -> None:
        self.factor = factor
        self.plans = list(plans or [])
        self.serial = itertools.count()
        self.fail_on: Callable[[str], bool] = lambda prompt: False
        self.replies: list[str] = []  # the prose it wrote, in order

    def tag(self) -> str:
        return "".join(chr(ord("a") + int(d)) for d in str(next(self.serial)))

    def prose(self, words: int) -> str:
        sentences, left = [], max(0, words)
        base = SENTENCE.split(" ")
        while left > 0:
            # a word of its own in every five: no sentence, and no run of eight words, repeats
            batch = [*base[:4], self.tag(), *base[4:8], self.tag()]
            take = min(10, left)
            sentences.append(" ".join(batch[-take:]) + ".")
            left -= take
        text = " ".join(sentences)
        self.replies.append(text)
        return text

    def __call__(self, messages: list[dict[str, Any]]) -> str:
        prompt = messages[-1]["content"]
        if self.fail_on(prompt):
            # the provider failing (a status code), as the gateway sees a real one fail
            raise lx.litellm().InternalServerError("upstream exploded", "fake", "writer")
        if "JSON schema" in prompt:
            if self.plans:
                return self.plans.pop(0)
            match = PLAN.search(prompt)
            assert match, prompt
            return plan_json(int(match.group(1)), int(match.group(2)))
        if prompt.startswith("Summary so far:"):
            return "So far the piece covered the keepers and their lamps."
        if "section topics" in prompt:
            return "\n".join(f"{i}. Lamps of coast number {i} and their keepers." for i in range(9))
        if match := EXTEND.search(prompt):
            return self.prose(round(int(match.group(1) or match.group(2)) * self.factor))
        if match := WRITE.search(prompt):
            return self.prose(round(int(match.group(1)) * self.factor))
        raise AssertionError(f"unexpected prompt: {prompt[:200]}")


def plan_json(count: int, target: int, *, points: list[str] | None = None) -> str:
    points = points or [
        f"How lighthouse era {i + 1} changed coastal shipping" for i in range(count)
    ]
    sections = [
        {"title": f"Era {i + 1}", "point": point, "words": target // count}
        for i, point in enumerate(points)
    ]
    return json.dumps({"sections": sections})


def gateway(data_dir: Path) -> Gateway:
    return Gateway(GatewayConfig(retry=FAST), data_dir=data_dir, cache=False)


def config(**options: Any) -> aw.AgentWriteConfig:
    return aw.AgentWriteConfig(model="fake/writer", **options)


async def write(
    data_dir: Path,
    instruction: str = INSTRUCTION,
    target: int | None = None,
    *,
    store: InMemoryStore | None = None,
    checkpointer: InMemorySaver | None = None,
    thread_id: str | None = None,
    on_event: Callable[[Event], None] | None = None,
    **options: Any,
) -> aw.AgentWriteResult:
    async with gateway(data_dir) as gw:
        writer = aw.AgentWrite(
            config(**options), gateway=gw, store=store or InMemoryStore(),
            checkpointer=checkpointer or InMemorySaver(),
        )  # fmt: skip
        return await writer.arun(instruction, target, thread_id=thread_id, on_event=on_event)


def sections_of(fake: ScriptedModel) -> list[int]:
    """The section each writing call was for (1-based), in call order."""
    found = (SECTION.search(call.messages[-1]["content"]) for call in fake.calls)
    return [int(match.group(1)) for match in found if match]


def assert_within(result: aw.AgentWriteResult, tolerance: float = 0.2) -> None:
    for section in result.sections:
        assert abs(section.words - section.budget) <= tolerance * section.budget, section
        assert section.within_tolerance
    body = sum(section.words for section in result.sections)
    assert abs(body - result.target_words) <= tolerance * result.target_words


# --- length control ----------------------------------------------------------------------------


async def test_a_writer_at_half_the_budget_is_extended_into_tolerance(data_dir: Path) -> None:
    with scripted_model(Writer(0.5)) as fake:
        result = await write(data_dir, carry_over=False)
    assert result.plan_source == "model"
    assert len(result.sections) == 6 and sum(s.words for s in result.plan) == 3000
    assert_within(result)
    # the first two sections measure the writer (50% + 25% + 12.5% of what is asked); from
    # then on every call asks for twice what is wanted, in calls of what one call writes
    assert [section.extensions for section in result.sections] == [2, 2, 1, 1, 1, 1]
    assert result.words_per_call == 250 and result.ask_factor == 2.0
    extend_calls = [c for c in fake.calls if "more words" in c.messages[-1]["content"]]
    assert len(extend_calls) == 8
    late = [c.messages[-1]["content"] for c in fake.calls if sections_of_call(c) == 6]
    assert [int(m.group(1) or m.group(2)) for m in map(EXTEND.search, late) if m] == [500]
    assert abs(result.words - 3000) <= 0.2 * 3000
    assert result.length_score > 80
    assert not result.warnings


async def test_what_sections_fall_short_is_carried_into_the_next(data_dir: Path) -> None:
    with scripted_model(Writer(0.5)):
        alone = await write(data_dir, carry_over=False)
    with scripted_model(Writer(0.5)):
        carried = await write(data_dir)
    assert [s.budget for s in alone.sections] == [500] * 6
    budgets = [s.budget for s in carried.sections]
    for index, section in enumerate(carried.sections):
        owed = 500 * index - sum(s.words for s in carried.sections[:index])
        assert section.budget == 500 + owed
    assert budgets[1] > 500  # the first section stopped short, within tolerance
    assert_within(carried)
    assert abs(carried.words - 3000) < abs(alone.words - 3000)


async def test_a_carried_shortfall_is_capped_at_half_a_section(data_dir: Path) -> None:
    capped = Writer(1.0)
    original = capped.prose
    capped.prose = lambda words: original(min(words, 100))  # type: ignore[method-assign]
    with scripted_model(capped):
        result = await write(data_dir, fix_attempts=0, words_per_call=500)
    # 100 words per call: 100 for the first section, 200 (two calls) for each larger one after
    assert [s.words for s in result.sections] == [100] + [200] * 5
    assert [s.budget for s in result.sections] == [500, 750, 750, 750, 750, 750]
    assert not any(s.within_tolerance for s in result.sections)


async def test_parallel_sections_keep_their_planned_budgets(data_dir: Path) -> None:
    with scripted_model(Writer(0.5)):
        result = await write(data_dir, mode="parallel")
    assert [s.budget for s in result.sections] == [s.words for s in result.plan]


async def test_the_next_run_plans_sections_of_what_one_call_writes(data_dir: Path) -> None:
    store = InMemoryStore()
    with scripted_model(Writer(0.5)):  # budgets as planned, so every first call asks for 500
        await write(data_dir, store=store, carry_over=False)
    with scripted_model(Writer(0.5)) as fake:
        result = await write(data_dir, store=store, carry_over=False)
    # measured in the first run: 250 words per call, when asked for twice that
    assert len(result.plan) == 12 and all(s.words == 250 for s in result.plan)
    assert all(s.calls == 1 and s.extensions == 0 for s in result.sections)
    writes = [WRITE.search(c.messages[-1]["content"]) for c in fake.calls]
    assert [int(m.group(1)) for m in writes if m] == [500] * 12
    assert_within(result)


async def test_a_configured_words_per_call_plans_shorter_sections(data_dir: Path) -> None:
    with scripted_model(Writer(1.0)) as fake:
        result = await write(data_dir, words_per_call=300)
    assert len(result.plan) == 10 and all(s.words == 300 for s in result.plan)
    assert all(s.calls == 1 for s in result.sections)
    assert result.words_per_call == 300
    assert_within(result)
    assert not any("more words" in c.messages[-1]["content"] for c in fake.calls)


async def test_a_long_section_is_written_in_calls_of_what_one_call_writes(data_dir: Path) -> None:
    # 1000-word sections but a writer that manages 250 words however much it is asked for
    capped = Writer(1.0)
    original = capped.prose
    capped.prose = lambda words: original(min(words, 250))  # type: ignore[method-assign]
    with scripted_model(capped) as fake:
        result = await write(
            data_dir, "Write a 4000-word history of lighthouses.", section_words=1000,
            min_section_words=1000, max_section_words=2000, words_per_call=250,
        )  # fmt: skip
    assert len(result.plan) == 4
    assert all(s.calls == 4 and s.within_tolerance for s in result.sections)
    asked = [m for m in (EXTEND.search(c.messages[-1]["content"]) for c in fake.calls) if m]
    assert {int(m.group(1) or m.group(2)) for m in asked} == {250}
    # each continuation has a new focus and never shows the text so far (small models copy it)
    continuations = [c.messages[-1]["content"] for c in fake.calls if "more words" in str(c)]
    assert len(set(continuations)) == len(continuations) == 12
    assert not any(result.sections[0].text[:60] in prompt for prompt in continuations)


async def test_a_writer_at_twice_the_budget_is_trimmed_at_sentence_ends(data_dir: Path) -> None:
    with scripted_model(Writer(2.0)) as fake:
        result = await write(data_dir)
    assert_within(result)
    assert all(s.trimmed and s.extensions == 0 for s in result.sections)
    assert all(s.text.endswith(".") and s.words <= s.budget for s in result.sections)
    assert not any("more words" in c.messages[-1]["content"] for c in fake.calls)


async def test_condensing_asks_the_model_then_still_fits(data_dir: Path) -> None:
    writer = Writer(2.0)
    with scripted_model(writer) as fake:
        original = writer.__call__

        def reply(messages: list[dict[str, Any]]) -> str:
            prompt = messages[-1]["content"]
            if prompt.startswith("Rewrite the text below in about"):
                wanted = int(re.search(r"in about (\d+) words", prompt).group(1))  # type: ignore[union-attr]
                return writer.prose(round(wanted * 1.1))
            return original(messages)

        fake._function = reply
        result = await write(data_dir, trim="model")
    assert_within(result)
    assert all(s.condensed and not s.trimmed for s in result.sections)
    assert sum("Rewrite the text below" in c.messages[-1]["content"] for c in fake.calls) == 6


async def test_max_tokens_follow_the_budget_and_fit_the_window(data_dir: Path) -> None:
    with scripted_model(Writer(1.0), context_window=8192) as fake:
        result = await write(data_dir)
        async with gateway(data_dir) as gw:
            for call in fake.calls:
                prompt = gw.count_tokens("fake/writer", call.messages)
                assert prompt + int(call.params["max_tokens"]) <= 8192
    writes = [c for c in fake.calls if WRITE.search(c.messages[-1]["content"])]
    budgets = [s.words for s in result.plan]
    expected = [math.ceil(b * result.tokens_per_word * 1.3) + 16 for b in budgets]
    assert [int(c.params["max_tokens"]) for c in writes] == expected


# --- checkpoints, resume and failures ----------------------------------------------------------


async def test_a_crash_at_section_k_resumes_without_resending_earlier_sections(
    data_dir: Path,
) -> None:
    store, saver = InMemoryStore(), InMemorySaver()
    crashing = Writer(1.0)
    crashing.fail_on = lambda prompt: "Now write section 4 of" in prompt
    with scripted_model(crashing), pytest.raises(RunFailedError, match="resume") as failure:
        await write(data_dir, store=store, checkpointer=saver, thread_id="t1")
    assert failure.value.thread_id == "t1"
    first_three = [item.value["text"] for item in store.search(run_ns("t1", "sections"))]
    assert len(first_three) == 3

    with scripted_model(Writer(1.0)) as fake:
        async with gateway(data_dir) as gw:
            writer = aw.AgentWrite(config(), gateway=gw, store=store, checkpointer=saver)
            result = await writer.aresume("t1")
    assert sections_of(fake) == [4, 5, 6]
    assert not any("JSON schema" in c.messages[-1]["content"] for c in fake.calls)
    summaries = [c for c in fake.calls if c.messages[-1]["content"].startswith("Summary so far")]
    assert len(summaries) == 2  # after sections 4 and 5 only
    assert [s.text for s in result.sections[:3]] == first_three
    assert len(result.sections) == 6 and result.words > 0


async def test_a_failed_call_raises_and_writes_no_placeholder(data_dir: Path) -> None:
    store = InMemoryStore()
    writer = Writer(1.0)
    writer.fail_on = lambda prompt: "Now write section 2 of" in prompt
    with scripted_model(writer), pytest.raises(RunFailedError) as failure:
        await write(data_dir, store=store, thread_id="t2")
    assert "upstream exploded" in str(failure.value) and "resume" in str(failure.value)
    texts = [item.value["text"] for item in store.search(run_ns("t2", "sections"))]
    assert texts == writer.replies  # section 1 as the model wrote it; nothing for section 2
    assert store.get(run_ns("t2", "document"), "markdown") is None


async def test_a_blank_section_is_asked_again_and_never_left_empty(data_dir: Path) -> None:
    writer = Writer(1.0)
    original = writer.__call__
    blank_once = iter([True])

    def reply(messages: list[dict[str, Any]]) -> str:
        if "Now write section 2 of" in messages[-1]["content"] and next(blank_once, False):
            return " \n "
        return original(messages)

    with scripted_model(reply) as fake:
        result = await write(data_dir)
    second = result.sections[1]
    assert second.retried and second.within_tolerance and second.words >= 400
    assert [s.retried for s in result.sections] == [False, True, False, False, False, False]
    retry = [c for c in fake.calls if "Nothing of it is written yet" in c.messages[-1]["content"]]
    assert len(retry) == 1 and "section 2 of 6" in retry[0].messages[-1]["content"]
    assert [p["node"] for p in result.prompts].count("retry[1]") == 1  # in the run's record too
    assert re.search(r"## Era 2\n\n\S", result.markdown)
    assert all(s.text.strip() for s in result.sections)


async def test_a_section_blank_when_asked_again_raises_and_resume_asks_again(
    data_dir: Path,
) -> None:
    store, saver = InMemoryStore(), InMemorySaver()
    writer = Writer(1.0)
    original = writer.__call__

    def blank(messages: list[dict[str, Any]]) -> str:
        return "" if "section 3 of" in messages[-1]["content"] else original(messages)

    with (
        scripted_model(blank) as fake,
        pytest.raises(RunFailedError, match="section 3 of 6 came back empty") as failure,
    ):
        await write(data_dir, store=store, checkpointer=saver, thread_id="t4", fix_attempts=0)
    assert isinstance(failure.value.__cause__, aw.EmptySectionError)
    assert sum("section 3 of" in c.messages[-1]["content"] for c in fake.calls) == 2
    texts = [item.value["text"] for item in store.search(run_ns("t4", "sections"))]
    assert len(texts) == 2 and all(texts)  # sections 1 and 2 kept, nothing for section 3
    assert store.get(run_ns("t4", "document"), "markdown") is None

    with scripted_model(Writer(1.0)) as fake:
        async with gateway(data_dir) as gw:
            writer = aw.AgentWrite(
                config(fix_attempts=0), gateway=gw, store=store, checkpointer=saver
            )
            result = await writer.aresume("t4")
    prompts = [c.messages[-1]["content"] for c in fake.calls]
    assert "Nothing of it is written yet" in prompts[0] and "section 3 of 6" in prompts[0]
    assert sections_of(fake) == [3, 4, 5, 6]  # the blank write[2] is replayed, not re-sent
    assert [s.text for s in result.sections[:2]] == texts
    assert result.sections[2].retried and result.sections[2].words > 0
    assert "\n\n\n" not in result.markdown and result.markdown.count("## ") == 6


# --- planning ----------------------------------------------------------------------------------


async def test_an_unusable_outline_is_re_planned_with_its_problems(data_dir: Path) -> None:
    duplicate = plan_json(6, 3000, points=["The lamps"] + ["Same point every time here"] * 5)
    writer = Writer(1.0, plans=[duplicate])
    with scripted_model(writer) as fake:
        result = await write(data_dir)
    plan_calls = [c for c in fake.calls if "JSON schema" in c.messages[-1]["content"]]
    assert len(plan_calls) == 2
    second = plan_calls[1].messages[-1]["content"]
    assert "could not be used" in second and "same main point" in second
    assert "no real main point" in second
    assert result.plan_source == "model"
    assert len({s.point for s in result.plan}) == len(result.plan)


async def test_the_outline_is_asked_for_through_a_bounded_schema_grammar(data_dir: Path) -> None:
    models = {"fake/writer": ModelConfig(model="fake/writer", structured_output="llama_cpp_schema")}
    with scripted_model(Writer(1.0)) as fake:
        async with Gateway(GatewayConfig(retry=FAST, models=models), data_dir=data_dir) as gw:
            writer = aw.AgentWrite(
                config(), gateway=gw, store=InMemoryStore(), checkpointer=InMemorySaver()
            )
            result = await writer.arun(INSTRUCTION)
    plans = [c for c in fake.calls if "response_format" in c.params]
    assert len(plans) == 1 and result.plan_source == "model" and result.plan_parse_failures == 0
    sent = plans[0].params["response_format"]
    assert sent["type"] == "json_object"  # llama.cpp's schema-constrained JSON
    schema = sent["schema"]
    # a bounded number of sections, of bounded strings: the grammar closes the JSON in time
    sections = schema["properties"]["sections"]
    assert sections["minItems"] <= 6 <= sections["maxItems"] <= 8
    draft = schema["$defs"]["SectionDraft"]
    assert draft["required"] == ["title", "point", "words"]
    assert draft["properties"]["point"]["maxLength"] == aw.plan.POINT_CHARS
    assert int(plans[0].params["max_tokens"]) >= sections["maxItems"] * (
        aw.plan.TITLE_CHARS + aw.plan.POINT_CHARS
    )
    grammar = pytest.importorskip("llama_cpp.llama_grammar")
    rules = grammar.json_schema_to_gbnf(json.dumps(schema))
    assert "sections-item" in rules and "*" not in rules.split("sections ::=")[1].split("\n")[0]


async def test_budgets_from_the_planner_are_scaled_to_the_target(data_dir: Path) -> None:
    lopsided = json.dumps(
        {"sections": [{"point": f"Lighthouse story part {i} told well", "words": 50 * (i + 1)}
                      for i in range(5)]}
    )  # fmt: skip
    with scripted_model(Writer(1.0, plans=[lopsided])):
        result = await write(data_dir)
    budgets = [s.words for s in result.plan]
    assert sum(budgets) == 3000
    assert all(200 <= b <= 1000 for b in budgets)
    assert budgets == sorted(budgets)


@pytest.mark.parametrize(
    ("fallback", "source"), [("lines", "lines"), ("outline", "outline")]
)  # fmt: skip
async def test_a_plan_malformed_twice_falls_back_and_says_so(
    data_dir: Path, fallback: str, source: str
) -> None:
    with scripted_model(Writer(1.0, plans=["not json", '{"sections": "nope"}'])) as fake:
        result = await write(data_dir, plan_fallback=fallback)
    assert result.plan_source == source
    assert sum(s.words for s in result.plan) == 3000 and len(result.plan) == 6
    assert any("no usable outline in 2 attempts" in warning for warning in result.warnings)
    assert sum("JSON schema" in c.messages[-1]["content"] for c in fake.calls) == 2
    if source == "lines":
        assert result.plan[0].point == "Lamps of coast number 0 and their keepers."
    else:
        assert result.plan[0].point.startswith("Opening")
    assert_within(result)


async def test_a_plan_malformed_twice_is_an_error_when_asked(data_dir: Path) -> None:
    store = InMemoryStore()
    with (
        scripted_model(Writer(1.0, plans=["not json", "still not json"])),
        pytest.raises(RunFailedError, match="no usable outline") as failure,
    ):
        await write(data_dir, plan_fallback="error", store=store, thread_id="t3")
    assert isinstance(failure.value.__cause__, aw.PlanError)
    assert store.search(run_ns("t3", "sections")) == []


async def test_short_targets_get_one_section_without_a_planning_call(data_dir: Path) -> None:
    with scripted_model(Writer(1.0)) as fake:
        result = await write(data_dir, "Write a 150-word thank-you email to a librarian.")
    assert result.target_words == 150 and result.target_source == "instruction"
    assert result.plan_source == "single" and len(result.sections) == 1
    assert len(fake.calls) == 1
    assert "## " not in result.markdown


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instruction", "target", "message"),
    [
        (INSTRUCTION, 0, "at least 1 word"),
        (INSTRUCTION, 25_000, "over max_words=20000"),
        ("Write a 30,000-word saga about sailors.", None, "from the instruction"),
        ("   ", 500, "instruction is empty"),
    ],
)
async def test_bad_targets_are_clear_usage_errors(
    data_dir: Path, instruction: str, target: int | None, message: str
) -> None:
    with scripted_model(Writer(1.0)) as fake, pytest.raises(UsageError, match=message):
        await write(data_dir, instruction, target)
    assert fake.calls == []


async def test_an_instruction_without_a_length_gets_an_inferred_one_stated(data_dir: Path) -> None:
    with scripted_model(Writer(1.0)):
        result = await write(data_dir, "Write a story about a fox who keeps a lighthouse.")
    assert result.target_source == "inferred" and result.target_words == 1500
    assert any("names no length" in warning and "'story'" in warning for warning in result.warnings)


# --- context, modes, languages, events ---------------------------------------------------------


async def test_prompts_stay_bounded_where_all_previous_text_would_overflow(data_dir: Path) -> None:
    with scripted_model(Writer(1.0), context_window=8192) as fake:
        result = await write(data_dir, "Write a 10000-word history of lighthouses.")
        async with gateway(data_dir) as gw:
            sent = [gw.count_tokens("fake/writer", c.messages) for c in fake.calls]
            reference = aw.all_previous_text_tokens(gw, result)
    assert len(result.sections) == 20 and abs(result.words - 10_000) <= 2000
    assert max(sent) < 4000
    assert reference[-1] > 8192 > max(sent)
    assert reference == sorted(reference)
    first_section = result.sections[0].text
    late_prompts = [c.messages[-1]["content"] for c in fake.calls if sections_of_call(c) == 10]
    assert late_prompts and not any(first_section[:80] in prompt for prompt in late_prompts)


def sections_of_call(call: Any) -> int | None:
    match = SECTION.search(call.messages[-1]["content"])
    return int(match.group(1)) if match else None


async def test_parallel_mode_writes_sections_concurrently_from_the_plan(data_dir: Path) -> None:
    with scripted_model(Writer(1.0), delay_s=0.05) as fake:
        result = await write(data_dir, mode="parallel")
    writes = [c for c in fake.calls if WRITE.search(c.messages[-1]["content"])]
    assert sorted(sections_of(fake)) == [1, 2, 3, 4, 5, 6]
    assert max(c.started for c in writes) < min(c.ended for c in writes)  # all in flight at once
    assert not any("Summary" in c.messages[-1]["content"] for c in fake.calls)
    assert all("Plan (6 sections)" in c.messages[-1]["content"] for c in writes)
    assert [s.index for s in result.sections] == list(range(6))
    assert_within(result)


async def test_chinese_is_planned_written_and_counted_in_characters(data_dir: Path) -> None:
    serial = itertools.count()

    def chinese(messages: list[dict[str, Any]]) -> str:
        prompt = messages[-1]["content"]
        if "JSON schema" in prompt:
            found = re.search(r"拆分为(\d+)个部分.*?字数之和为(\d+)字", prompt, re.S)
            assert found, prompt
            count, target = int(found.group(1)), int(found.group(2))
            points = [f"第{i + 1}部分讲述灯塔看守人的生活" for i in range(count)]
            sections = [{"point": p, "words": target // count} for p in points]
            return json.dumps({"sections": sections})
        if prompt.startswith("前文摘要"):
            return "灯塔看守人的故事。"
        found = re.search(r"约(\d+)字", prompt)
        assert found, prompt
        half = int(found.group(1)) // 2  # writes half of what is asked: extended twice
        sentences: list[str] = []
        while count_words("".join(sentences)) < half:
            tag = "".join("零一二三四五六七八九"[int(d)] for d in str(next(serial)))
            sentences.append(f"灯塔照亮了夜里的大海{tag}。")
        return "".join(sentences)

    with scripted_model(chinese) as fake:
        result = await write(data_dir, "请写一篇2000字的文章，讲述灯塔看守人的故事。")
    assert result.language == "zh" and result.target_words == 2000
    assert result.target_source == "instruction" and result.plan_source == "model"
    assert result.words == count_words(result.markdown)
    assert_within(result)
    extensions = [c for c in fake.calls if "请再写约" in c.messages[-1]["content"]]
    assert len(extensions) == sum(s.extensions for s in result.sections) > len(result.sections)
    assert " " not in result.sections[0].text  # continuations joined without spaces


async def test_sections_stream_as_events_with_their_text(data_dir: Path) -> None:
    events: list[Event] = []
    writer = Writer(1.0)
    with scripted_model(writer):
        result = await write(data_dir, on_event=events.append)
    texts = [e for e in events if isinstance(e, TokenDelta) and e.node.startswith("section[")]
    assert [e.node for e in texts] == [f"section[{i}]" for i in range(6)]
    assert [e.text for e in texts] == [s.text for s in result.sections]
    nodes = [e.node for e in events if isinstance(e, NodeFinished)]
    assert nodes == ["plan", *["write"] * 6, "assemble"]
    assert count_words(texts[0].text) == result.sections[0].words
    # the document is the model's replies under the plan's headings, and nothing else
    blocks = [f"## Era {i + 1}\n\n{reply}" for i, reply in enumerate(writer.replies)]
    assert len(blocks) == 6 and result.markdown == "\n\n".join(blocks)


class CutOffModel(ScriptedModel):
    """A scripted model whose replies to `cut(prompt)` prompts stop with finish_reason
    "length", as a reply that ran into max_tokens does."""

    def __init__(self, replies: Callable[[list[dict[str, Any]]], str], cut: Callable[[str], bool]):
        super().__init__(replies)
        self.cut = cut

    async def acompletion(self, model: str, messages: Any, *args: Any, **kw: Any) -> Any:
        response = await super().acompletion(model, messages, *args, **kw)
        if self.cut(messages[-1]["content"]):
            response.choices[0].finish_reason = "length"
        return response


CUT_OFF = " And then the keeper climbed the"


@pytest.mark.parametrize("finish", ["length", "stop"])
async def test_a_sentence_cut_off_by_max_tokens_is_dropped(data_dir: Path, finish: str) -> None:
    writer = Writer(1.0)
    original = writer.__call__

    def reply(messages: list[dict[str, Any]]) -> str:
        text = original(messages)
        return text + CUT_OFF if "Now write section 1 of" in messages[-1]["content"] else text

    model = CutOffModel(reply, cut=lambda prompt: finish == "length" and "section 1 of" in prompt)
    with registered_provider(model):
        result = await write(data_dir)
    first = result.sections[0]
    if finish == "length":
        assert first.text == writer.replies[0] and CUT_OFF.strip() not in result.markdown
    else:  # a reply that ended on its own keeps its last words
        assert first.text == (writer.replies[0] + CUT_OFF).strip()
    assert first.extensions == 0 and first.within_tolerance


async def test_looping_sentences_are_dropped_before_counting(data_dir: Path) -> None:
    loop = "The lamp of tower 7 was lit again. " * 40
    writer = Writer(1.0)
    original = writer.__call__

    def looping(messages: list[dict[str, Any]]) -> str:
        prompt = messages[-1]["content"]
        if "Now write section 1 of" in prompt:
            return writer.prose(150) + " " + loop
        return original(messages)

    with scripted_model(looping):
        kept = await write(data_dir)
    with scripted_model(looping):
        raw = await write(data_dir, drop_repeats=False)
    first, first_raw = kept.sections[0], raw.sections[0]
    assert first.repeats_dropped == 39 and first.text.count("tower 7") == 1
    assert first.extensions >= 1 and first.within_tolerance
    assert first_raw.repeats_dropped == 0 and first_raw.text.count("tower 7") > 10


@pytest.mark.parametrize("mode", ["sequential", "parallel"])
async def test_every_section_measured_is_kept_for_the_next_run(data_dir: Path, mode: str) -> None:
    store = InMemoryStore()
    with scripted_model(Writer(1.0), delay_s=0.02):
        result = await write(data_dir, mode=mode, store=store)
    kept = [
        item
        for namespace in await store.alist_namespaces()
        if namespace[-2:] == ("agent_write", "calibration")
        for item in await store.asearch(namespace)
    ]
    assert len(kept) == 1
    assert len(kept[0].value["samples"]) == len(result.sections) == 6


async def test_calls_are_sampled_with_a_seed_and_measured_per_temperature(data_dir: Path) -> None:
    # every call (outline, sections, summaries) carries the config's temperature and seed, and
    # the words-per-call samples are kept under the model and temperature they were taken at
    store = InMemoryStore()
    with scripted_model(Writer(1.0)) as sampled:
        await write(data_dir, store=store)
    with scripted_model(Writer(1.0)) as greedy:
        await write(data_dir, store=store, temperature=0.0, seed=None)
    assert sampled.calls and greedy.calls
    assert {(c.params.get("temperature"), c.params.get("seed")) for c in sampled.calls} == {
        (0.8, 0)
    }
    assert {c.params.get("temperature") for c in greedy.calls} == {0.0}
    assert all("seed" not in c.params for c in greedy.calls)
    kept = [
        item.key
        for namespace in await store.alist_namespaces()
        if namespace[-2:] == ("agent_write", "calibration")
        for item in await store.asearch(namespace)
    ]
    assert sorted(kept) == ["fake/writer", "fake/writer@t0.8"]


async def test_headings_the_model_writes_inside_a_section_are_demoted(data_dir: Path) -> None:
    # seen on the embedded model: a `## ` line of its own mid-section read as an extra section
    writer = Writer(1.0)
    original = writer.__call__

    def heading_inside(messages: list[dict[str, Any]]) -> str:
        reply = original(messages)
        if "Now write section 2 of" in messages[-1]["content"]:
            half = len(reply) // 2
            cut = reply.index(". ", half) + 2
            return f"{reply[:cut]}\n\n## The keepers again\n\n{reply[cut:]}"
        return reply

    with scripted_model(heading_inside):
        result = await write(data_dir)
    headings = [line for line in result.markdown.splitlines() if line.startswith("#")]
    assert len(headings) == len(result.plan) > 1
    assert "The keepers again" in result.sections[1].text
    assert "## The keepers again" not in result.markdown
