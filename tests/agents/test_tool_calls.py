"""Tool calls through the gateway: offered, parsed into one typed form, round-tripped, cached,
counted, and streamed, from a scripted provider and over HTTP."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from agentrun.agents import Gateway, GatewayConfig, ModelConfig
from agentrun.agents.fake_server import FakeOpenAIServer, FakeReply
from agentrun.agents.gateway import Completion
from agentrun.agents.messages import normalize_messages, tool_result
from agentrun.agents.testing import ScriptedToolCalls, scripted_model
from agentrun.agents.tool_calls import ToolCall
from agentrun.errors import UsageError
from tests.agents.tool_specs import ADD as ADD_SPEC
from tests.agents.tool_specs import WEATHER
from tests.conftest import fake_gateway

ADD = ADD_SPEC["function"]  # offered as a bare function dict


def weather(city: str, call_id: str | None = None) -> dict[str, Any]:
    return {"name": "get_weather", "arguments": {"city": city}, "id": call_id}


async def test_a_scripted_call_becomes_a_typed_tool_call(data_dir: Path) -> None:
    with scripted_model([ScriptedToolCalls([weather("Paris", "c1")])]) as fake:
        async with Gateway(data_dir=data_dir) as gateway:
            reply = await gateway.acomplete("fake/m", "Weather in Paris?", tools=[WEATHER])
    assert reply.tool_calls == (
        ToolCall("c1", "get_weather", {"city": "Paris"}, '{"city": "Paris"}'),
    )
    assert reply.finish_reason == "tool_calls" and reply.text == ""
    sent = fake.calls[0].params
    assert sent["tools"] == [WEATHER]
    assert "tool_choice" not in sent


async def test_parallel_calls_keep_their_order_ids_and_text(data_dir: Path) -> None:
    script = [
        ScriptedToolCalls(
            [weather("Paris", "a"), {"name": "add", "arguments": {"a": 1, "b": 2}, "id": "b"}],
            text="Looking both up.",
        )
    ]
    with scripted_model(script):
        async with Gateway(data_dir=data_dir) as gateway:
            reply = await gateway.acomplete("fake/m", "Both?", tools=[WEATHER, ADD])
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [
        ("a", "get_weather", {"city": "Paris"}),
        ("b", "add", {"a": 1, "b": 2}),
    ]
    assert reply.text == "Looking both up."


async def test_streamed_calls_are_merged_and_only_text_is_streamed(data_dir: Path) -> None:
    script = [ScriptedToolCalls([weather("Oslo", "a"), weather("Rome", "b")], text="On it.")]
    pieces: list[str] = []
    with scripted_model(script):
        async with Gateway(data_dir=data_dir) as gateway:
            reply = await gateway.acomplete(
                "fake/m", "Two cities?", tools=[WEATHER], on_text=pieces.append
            )
    assert "".join(pieces) == "On it."
    assert [(c.id, c.arguments) for c in reply.tool_calls] == [
        ("a", {"city": "Oslo"}),
        ("b", {"city": "Rome"}),
    ]
    assert reply.finish_reason == "tool_calls"


async def test_tool_results_round_trip_to_the_model(data_dir: Path) -> None:
    script = [ScriptedToolCalls([weather("Paris", "c1"), weather("Lima", "c2")]), "Sunny and wet."]
    with scripted_model(script) as fake:
        async with Gateway(data_dir=data_dir) as gateway:
            first = await gateway.acomplete("fake/m", "Paris and Lima?", tools=[WEATHER])
            history = [
                {"role": "user", "content": "Paris and Lima?"},
                first.message(),
                tool_result(first.tool_calls[0], {"sky": "sunny"}),
                tool_result(first.tool_calls[1], "rain"),
            ]
            final = await gateway.acomplete("fake/m", history, tools=[WEATHER])
    assert final.text == "Sunny and wet." and final.tool_calls == ()
    seen = fake.calls[1].messages
    assert seen[1]["role"] == "assistant" and not seen[1].get("content")
    assert seen[1]["tool_calls"] == [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        },
        {
            "id": "c2",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Lima"}'},
        },
    ]
    assert seen[2] == {"role": "tool", "tool_call_id": "c1", "content": '{"sky": "sunny"}'}
    assert seen[3] == {"role": "tool", "tool_call_id": "c2", "content": "rain"}


async def test_cached_replies_keep_their_tool_calls(data_dir: Path) -> None:
    script = [ScriptedToolCalls([weather("Paris", "c1")], text="Checking.")]
    with scripted_model(script) as fake:
        async with Gateway(data_dir=data_dir) as gateway:
            first = await gateway.acomplete("fake/m", "Paris?", tools=[WEATHER])
            again = await gateway.acomplete("fake/m", "Paris?", tools=[WEATHER])
    assert len(fake.calls) == 1
    assert again.cache_hit
    assert again.tool_calls == first.tool_calls and again.text == "Checking."
    assert again.finish_reason == "tool_calls"


async def test_the_cache_key_holds_the_tools_and_the_tool_results(data_dir: Path) -> None:
    with scripted_model(["one", "two", "three", "four", "five"]) as fake:
        async with Gateway(data_dir=data_dir) as gateway:
            await gateway.acomplete("fake/m", "Paris?")
            await gateway.acomplete("fake/m", "Paris?", tools=[WEATHER])
            await gateway.acomplete("fake/m", "Paris?", tools=[WEATHER], tool_choice="required")
            call = ToolCall.parse("c1", "get_weather", {"city": "Paris"})
            history = [
                {"role": "user", "content": "Paris?"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
            ]
            sunny = await gateway.acomplete("fake/m", [*history, tool_result(call, "sunny")])
            rainy = await gateway.acomplete("fake/m", [*history, tool_result(call, "rain")])
            sunny_again = await gateway.acomplete("fake/m", [*history, tool_result(call, "sunny")])
    assert len(fake.calls) == 5
    assert not rainy.cache_hit and sunny_again.cache_hit and sunny_again.text == sunny.text


async def test_the_ledger_counts_tool_calls(data_dir: Path) -> None:
    script = [ScriptedToolCalls([weather("A"), weather("B")]), ScriptedToolCalls([weather("C")])]
    with scripted_model(script):
        async with Gateway(data_dir=data_dir) as gateway:
            await gateway.acomplete("fake/m", "first", tools=[WEATHER], node="plan")
            await gateway.acomplete("fake/m", "second", tools=[WEATHER], node="act")
            await gateway.acomplete("fake/m", "second", tools=[WEATHER], node="act")  # cached
    records = gateway.ledger.records
    assert [r.tool_calls for r in records] == [2, 1, 1]
    assert gateway.ledger.total().tool_calls == 4
    assert gateway.ledger.by_node()["act"].tool_calls == 2


async def test_malformed_arguments_are_an_error_on_the_call_not_a_crash(data_dir: Path) -> None:
    script = [
        ScriptedToolCalls(
            [
                {"name": "get_weather", "arguments": '{"city": "Par', "id": "bad"},
                {"name": "get_weather", "arguments": "[1, 2]", "id": "list"},
                {"name": "get_weather", "arguments": "", "id": "empty"},
                {"name": "get_weather", "arguments": '{"city": "Rome"}', "id": "good"},
            ]
        )
    ]
    with scripted_model(script):
        async with Gateway(data_dir=data_dir) as gateway:
            reply = await gateway.acomplete("fake/m", "Weather?", tools=[WEATHER])
    bad, listed, empty, good = reply.tool_calls
    assert bad.arguments == {} and bad.raw_arguments == '{"city": "Par'
    assert bad.error is not None and "not valid JSON" in bad.error
    assert listed.error == "the arguments must be a JSON object, not a list"
    assert empty.error is None and empty.arguments == {}
    assert good.error is None and good.arguments == {"city": "Rome"}
    # the malformed call goes back to the model as the model wrote it
    assert reply.message()["tool_calls"][0]["function"]["arguments"] == '{"city": "Par'


async def test_a_call_of_a_tool_not_offered_is_flagged(data_dir: Path) -> None:
    script = [ScriptedToolCalls([{"name": "delete_everything", "arguments": {}}])]
    with scripted_model(script):
        async with Gateway(data_dir=data_dir) as gateway:
            reply = await gateway.acomplete("fake/m", "Go", tools=[WEATHER])
    (call,) = reply.tool_calls
    assert call.name == "delete_everything"
    assert call.error == "no tool 'delete_everything' is offered (tools: get_weather)"


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
        (
            {"type": "function", "function": {"name": "add"}},
            {"type": "function", "function": {"name": "add"}},
        ),
    ],
)
async def test_tool_choice_is_sent_in_openai_form(data_dir: Path, choice: Any, sent: Any) -> None:
    with scripted_model(["ok"]) as fake:
        async with Gateway(data_dir=data_dir) as gateway:
            await gateway.acomplete("fake/m", "Hi", tools=[WEATHER, ADD], tool_choice=choice)
    assert fake.calls[0].params["tool_choice"] == sent


async def test_bad_tool_requests_fail_before_any_call(data_dir: Path) -> None:
    with scripted_model([]) as fake:
        async with Gateway(data_dir=data_dir) as gateway:
            with pytest.raises(UsageError, match=r"'search', which is not offered"):
                await gateway.acomplete("fake/m", "Hi", tools=[WEATHER], tool_choice="search")
            with pytest.raises(UsageError, match="needs tools"):
                await gateway.acomplete("fake/m", "Hi", tool_choice="required")
            with pytest.raises(UsageError, match=r"tools\[1\]: the tool name 'get_weather'"):
                await gateway.acomplete("fake/m", "Hi", tools=[WEATHER, WEATHER])
            with pytest.raises(UsageError, match=r"tools\[0\]: the function needs a 'name'"):
                await gateway.acomplete("fake/m", "Hi", tools=[{"parameters": {}}])
    assert fake.calls == []


async def test_dotted_tool_names_travel_in_the_form_providers_accept(data_dir: Path) -> None:
    read = {"name": "files.read", "parameters": {"type": "object", "properties": {}}}
    earlier = ToolCall.parse("c0", "files.read", {"path": "a"})
    history = [
        {"role": "user", "content": "Read b"},
        {"role": "assistant", "content": None, "tool_calls": [earlier]},
        tool_result(earlier, "text of a"),
    ]
    script = [ScriptedToolCalls([{"name": "files_read", "arguments": {"path": "b"}}])]
    with scripted_model(script) as fake:
        async with Gateway(data_dir=data_dir) as gateway:
            reply = await gateway.acomplete(
                "fake/m", history, tools=[read], tool_choice="files.read"
            )
    sent = fake.calls[0]
    assert sent.params["tools"][0]["function"]["name"] == "files_read"
    assert sent.params["tool_choice"] == {"type": "function", "function": {"name": "files_read"}}
    assert sent.messages[1]["tool_calls"][0]["function"]["name"] == "files_read"
    assert reply.tool_calls[0].name == "files.read" and reply.tool_calls[0].error is None


async def test_two_tools_with_one_name_on_the_wire_are_refused(data_dir: Path) -> None:
    tools = [{"name": "files.read"}, {"name": "files_read"}]
    with scripted_model([]):
        async with Gateway(data_dir=data_dir) as gateway:
            with pytest.raises(UsageError, match="both travel as 'files_read'"):
                await gateway.acomplete("fake/m", "Hi", tools=tools)


def test_a_checkpointed_completion_rebuilds_its_tool_calls() -> None:
    completion = Completion(
        text="",
        model="m",
        requested_model="m",
        finish_reason="tool_calls",
        prompt_tokens=1,
        completion_tokens=2,
        cost_usd=0.0,
        latency_s=0.1,
        tool_calls=(ToolCall.parse("c1", "add", '{"a": 1'),),
    )
    data = json.loads(json.dumps(dataclasses.asdict(completion)))
    assert Completion.from_dict(data) == completion


def test_messages_with_tool_parts_are_checked_and_normalized() -> None:
    call = ToolCall.parse("c1", "add", {"a": 1})
    normalized = normalize_messages(
        [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": {"sum": 1}},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c2", "function": {"name": "add", "arguments": {"a": 2}}}],
            },
        ]
    )
    assert normalized[0]["tool_calls"] == [call.to_openai()]
    assert normalized[1]["content"] == '{"sum": 1}'
    assert normalized[2]["tool_calls"][0]["function"]["arguments"] == '{"a": 2}'
    with pytest.raises(UsageError, match=r"messages\[0\] is a tool result without 'tool_call_id'"):
        normalize_messages([{"role": "tool", "content": "x"}])
    with pytest.raises(UsageError, match=r"messages\[0\].tool_calls\[0\] needs an 'id'"):
        normalize_messages([{"role": "assistant", "tool_calls": [{"function": {"name": "a"}}]}])


def test_tool_mode_is_emulated_for_the_embedded_model_only_by_default(data_dir: Path) -> None:
    config = GatewayConfig(
        models={
            "small": ModelConfig(model="openai/small", api_base="http://x", tool_calling="emulated")
        }
    )
    gateway = Gateway(config, data_dir=data_dir)
    assert gateway.tool_mode("local/smollm2") == "emulated"
    assert gateway.tool_mode("openai/gpt-4o-mini") == "native"
    assert gateway.tool_mode("small") == "emulated"


async def test_the_fake_server_returns_tool_calls_over_http(
    fake_server: FakeOpenAIServer, data_dir: Path
) -> None:
    calls = [weather("Paris", "h1"), {"name": "add", "arguments": '{"a": 1, "b": ', "id": "h2"}]
    fake_server.script([FakeReply(tool_calls=calls), FakeReply(tool_calls=calls)])
    pieces: list[str] = []
    async with fake_gateway(fake_server, data_dir) as gateway:
        plain = await gateway.acomplete("m", "Both?", tools=[WEATHER, ADD], cache=False)
        streamed = await gateway.acomplete(
            "m", "Both?", tools=[WEATHER, ADD], cache=False, on_text=pieces.append
        )
    for reply in (plain, streamed):
        first, second = reply.tool_calls
        assert (first.id, first.name, first.arguments) == ("h1", "get_weather", {"city": "Paris"})
        assert second.raw_arguments == '{"a": 1, "b": ' and second.error is not None
        assert reply.finish_reason == "tool_calls"
    body = fake_server.chat_requests()[0].body
    assert [tool["function"]["name"] for tool in body["tools"]] == ["get_weather", "add"]
    assert "".join(pieces) == ""
