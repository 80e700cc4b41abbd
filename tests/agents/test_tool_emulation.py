"""Tool calls emulated through structured output, for models without native ones (the embedded
model by default): the schema sent, the reply parsed, the history rewritten."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel

from agentrun.agents import Gateway, GatewayConfig, ModelConfig, RetryPolicy
from agentrun.agents.messages import tool_result
from agentrun.agents.testing import scripted_model
from agentrun.agents.tool_calls import ToolCall
from agentrun.agents.tool_emulation import reply_schema
from agentrun.errors import UsageError
from tests.agents.tool_specs import ADD, WEATHER


def emulating(mode: str = "llama_cpp_schema") -> GatewayConfig:
    model = ModelConfig(model="fake/m", tool_calling="emulated", structured_output=mode)  # type: ignore[arg-type]
    return GatewayConfig(models={"e": model})


def calls_reply(*calls: tuple[str, dict[str, Any]]) -> str:
    return json.dumps({"tool_calls": [{"name": n, "arguments": a} for n, a in calls]})


async def test_the_request_asks_for_calls_through_the_schema(data_dir: Path) -> None:
    with scripted_model([calls_reply(("get_weather", {"city": "Paris"}))]) as fake:
        async with Gateway(emulating(), data_dir=data_dir) as gateway:
            reply = await gateway.acomplete("e", "Weather in Paris?", tools=[WEATHER, ADD])
    (call,) = reply.tool_calls
    assert (call.name, call.arguments, call.error) == ("get_weather", {"city": "Paris"}, None)
    assert call.id.startswith("call_") and reply.finish_reason == "tool_calls"
    assert reply.text == ""
    sent = fake.calls[0]
    assert "tools" not in sent.params and "tool_choice" not in sent.params
    schema = sent.params["response_format"]["schema"]
    assert sent.params["response_format"]["type"] == "json_object"
    jsonschema.validate({"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]}, schema)
    jsonschema.validate({"answer": "It is sunny."}, schema)
    system = sent.messages[0]
    assert system["role"] == "system"
    assert "get_weather: The weather in a city." in system["content"]
    assert '"answer"' in system["content"]


@pytest.mark.parametrize(
    "wrong",
    [
        {"tool_calls": [{"name": "add", "arguments": {"city": "Paris"}}]},
        {"tool_calls": [{"name": "get_weather", "arguments": {"a": 1}}]},
        {"tool_calls": [{"name": "search", "arguments": {}}]},
        {"tool_calls": []},
        {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}] * 2},
        {"reply": "hi"},
    ],
)
def test_the_schema_binds_each_name_to_its_own_arguments(wrong: dict[str, Any]) -> None:
    schema = reply_schema([WEATHER, ADD], may_answer=True)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wrong, schema)


def test_parallel_calls_lift_the_one_call_limit() -> None:
    two = {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}] * 2}
    jsonschema.validate(two, reply_schema([ADD], may_answer=False, parallel=True))


def test_nested_definitions_of_several_tools_stay_resolvable() -> None:
    class Point(BaseModel):
        x: float

    class Box(BaseModel):
        corner: Point

    def tool(name: str, model: type[BaseModel]) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": name, "parameters": model.model_json_schema()},
        }

    class Place(BaseModel):
        at: Point  # a second `Point` definition under the same name

    schema = reply_schema([tool("draw", Box), tool("go", Place)], may_answer=False)
    jsonschema.validate(
        {"tool_calls": [{"name": "draw", "arguments": {"corner": {"x": 1}}}]}, schema
    )
    with pytest.raises(jsonschema.ValidationError):
        bad = {"tool_calls": [{"name": "go", "arguments": {"at": {"x": "far"}}}]}
        jsonschema.validate(bad, schema)
    assert sorted(schema["$defs"]) == ["t0_Point", "t1_Point"]


async def test_an_answer_is_plain_text_and_streams_once_parsed(data_dir: Path) -> None:
    pieces: list[str] = []
    with scripted_model([json.dumps({"answer": "It is sunny in Paris."})]):
        async with Gateway(emulating(), data_dir=data_dir) as gateway:
            reply = await gateway.acomplete("e", "Weather?", tools=[WEATHER], on_text=pieces.append)
    assert reply.text == "It is sunny in Paris." and reply.tool_calls == ()
    assert pieces == ["It is sunny in Paris."]
    assert reply.finish_reason == "stop"


async def test_an_answer_cut_off_keeps_what_was_written(data_dir: Path) -> None:
    with scripted_model(['{"answer": "It is sunny in Pa']):
        async with Gateway(emulating(), data_dir=data_dir) as gateway:
            reply = await gateway.acomplete("e", "Weather?", tools=[WEATHER])
    assert reply.text == "It is sunny in Pa" and reply.tool_calls == ()


async def test_a_reply_that_is_not_the_schema_stays_text(data_dir: Path) -> None:
    with scripted_model(["I do not know."]):
        async with Gateway(emulating("prompt"), data_dir=data_dir) as gateway:
            reply = await gateway.acomplete("e", "Weather?", tools=[WEATHER])
    assert reply.text == "I do not know." and reply.tool_calls == ()


async def test_prompt_mode_puts_the_schema_in_the_prompt(data_dir: Path) -> None:
    reply_text = "Sure:\n```json\n" + calls_reply(("add", {"a": 2, "b": "3"})) + "\n```"
    with scripted_model([reply_text]) as fake:
        async with Gateway(emulating("prompt"), data_dir=data_dir) as gateway:
            reply = await gateway.acomplete("e", "2+3?", tools=[ADD], tool_choice="required")
    assert "response_format" not in fake.calls[0].params
    assert "must match this JSON schema" in fake.calls[0].messages[0]["content"]
    assert "Call a tool" in fake.calls[0].messages[0]["content"]
    (call,) = reply.tool_calls
    assert call.arguments == {"a": 2, "b": "3"}  # validated by the tool, not the gateway


async def test_a_named_choice_offers_that_tool_only(data_dir: Path) -> None:
    with scripted_model([calls_reply(("add", {"a": 1, "b": 1}))]) as fake:
        async with Gateway(emulating(), data_dir=data_dir) as gateway:
            await gateway.acomplete("e", "Sum?", tools=[WEATHER, ADD], tool_choice="add")
    schema = fake.calls[0].params["response_format"]["schema"]
    jsonschema.validate({"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 1}}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"answer": "2"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"tool_calls": [{"name": "get_weather", "arguments": {"city": "x"}}]}, schema
        )
    assert "Call the tool add" in fake.calls[0].messages[0]["content"]


async def test_choice_none_sends_no_schema_and_streams(data_dir: Path) -> None:
    pieces: list[str] = []
    with scripted_model(["plain words"]) as fake:
        async with Gateway(emulating(), data_dir=data_dir) as gateway:
            reply = await gateway.acomplete(
                "e", "Hi", tools=[WEATHER], tool_choice="none", on_text=pieces.append
            )
    assert "response_format" not in fake.calls[0].params
    assert fake.calls[0].messages == [{"role": "user", "content": "Hi"}]
    assert reply.text == "plain words" and pieces == ["plain ", "words"]


async def test_history_is_rewritten_as_json_calls_and_user_results(data_dir: Path) -> None:
    script = [calls_reply(("get_weather", {"city": "Paris"})), json.dumps({"answer": "Sunny."})]
    with scripted_model(script) as fake:
        async with Gateway(emulating(), data_dir=data_dir) as gateway:
            first = await gateway.acomplete("e", "Paris?", tools=[WEATHER])
            history = [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Paris?"},
                first.message(),
                tool_result(first.tool_calls[0], "sunny, 21 C"),
            ]
            final = await gateway.acomplete("e", history, tools=[WEATHER])
    assert final.text == "Sunny."
    seen = fake.calls[1].messages
    assert seen[0]["content"].startswith("Be brief.\n\nYou can call these tools:")
    assert seen[2] == {
        "role": "assistant",
        "content": calls_reply(("get_weather", {"city": "Paris"})),
    }
    assert seen[3] == {"role": "user", "content": "Tool get_weather returned:\nsunny, 21 C"}


async def test_response_format_and_emulated_tools_do_not_mix(data_dir: Path) -> None:
    with scripted_model([]) as fake:
        async with Gateway(emulating(), data_dir=data_dir) as gateway:
            with pytest.raises(UsageError, match="either tools or response_format"):
                await gateway.acomplete(
                    "e", "Hi", tools=[WEATHER], response_format={"type": "json_object"}
                )
    assert fake.calls == []


async def test_a_fallback_to_an_emulating_model_gets_the_emulated_request(
    data_dir: Path,
) -> None:
    config = GatewayConfig(
        models={
            "main": ModelConfig(model="fake/main", fallbacks=["e"]),
            "e": ModelConfig(
                model="fake/e", tool_calling="emulated", structured_output="llama_cpp_schema"
            ),
        },
        retry=RetryPolicy(max_attempts=1),
    )

    def reply(messages: list[dict[str, Any]], model: str) -> str | BaseException:
        if model == "main":
            return ConnectionError("main is down")
        return calls_reply(("get_weather", {"city": "Oslo"}))

    with scripted_model(reply) as fake:
        async with Gateway(config, data_dir=data_dir) as gateway:
            result = await gateway.acomplete("main", "Oslo?", tools=[WEATHER])
    assert [c.params.get("tools") is not None for c in fake.calls] == [True, False]
    assert result.model == "e" and result.tool_calls[0].arguments == {"city": "Oslo"}


def test_token_counts_see_the_history_as_the_model_does(data_dir: Path) -> None:
    call = ToolCall.parse("c1", "get_weather", {"city": "a city with a rather long name"})
    history = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        tool_result(call, "sunny"),
    ]
    gateway = Gateway(data_dir=data_dir)  # the embedded model's own tokenizer and template
    with_call = gateway.count_tokens("local/smollm2", history)
    without = gateway.count_tokens("local/smollm2", [history[0], history[2]])
    arguments = gateway.count_text("local/smollm2", call.raw_arguments)
    assert with_call - without > arguments
