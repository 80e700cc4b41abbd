"""Structured output: validated instances, bounded re-asks, schemas sent where supported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from agentrun.agents import Gateway, GatewayConfig, ModelConfig
from agentrun.agents.testing import scripted_model
from agentrun.errors import StructuredOutputError


class Person(BaseModel):
    name: str
    age: int


async def test_valid_reply_becomes_an_instance(data_dir: Path) -> None:
    with scripted_model(['```json\n{"name": "Ada", "age": 36}\n```']) as fake:
        async with Gateway(data_dir=data_dir) as gateway:
            person = await gateway.astructured("fake/m", "Who?", Person)
    assert person == Person(name="Ada", age=36)
    assert len(fake.calls) == 1
    assert "JSON schema" in fake.calls[0].messages[-1]["content"]


async def test_invalid_reply_is_re_asked_with_the_error(data_dir: Path) -> None:
    script = ['{"name": "Ada", "age": "old"}', '{"name": "Ada", "age": 36}']
    with scripted_model(script) as fake:
        async with Gateway(data_dir=data_dir) as gateway:
            person = await gateway.astructured("fake/m", "Who?", Person)
    assert person.age == 36
    assert len(fake.calls) == 2
    reask = fake.calls[1].messages
    assert reask[-2] == {"role": "assistant", "content": '{"name": "Ada", "age": "old"}'}
    assert "age" in reask[-1]["content"] and "did not match" in reask[-1]["content"]


async def test_re_asks_are_bounded_then_a_clear_error(data_dir: Path) -> None:
    with scripted_model(["not json at all"], repeat_last=True) as fake:
        async with Gateway(data_dir=data_dir) as gateway:
            with pytest.raises(StructuredOutputError, match="did not match Person after 2 re-asks"):
                await gateway.astructured("fake/m", "Who?", Person, max_reasks=2)
    assert len(fake.calls) == 3


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("json_schema", "json_schema"),
        ("llama_cpp_schema", "json_object"),
        ("json_object", "json_object"),
    ],
)
async def test_schema_is_sent_as_the_mode_asks(data_dir: Path, mode: str, expected: str) -> None:
    config = GatewayConfig(models={"m": ModelConfig(model="fake/m", structured_output=mode)})  # type: ignore[arg-type]
    with scripted_model([json.dumps({"name": "Bo", "age": 3})]) as fake:
        async with Gateway(config, data_dir=data_dir) as gateway:
            await gateway.astructured("m", "Who?", Person)
    sent = fake.calls[0].params["response_format"]
    assert sent["type"] == expected
    if mode == "json_schema":
        assert sent["json_schema"]["schema"]["required"] == ["name", "age"]
    if mode == "llama_cpp_schema":
        assert sent["schema"]["properties"]["age"]["type"] == "integer"


def test_auto_mode_uses_the_provider_capabilities(data_dir: Path) -> None:
    gateway = Gateway(data_dir=data_dir)
    assert gateway.structured_mode("openai/gpt-4o-mini") == "json_schema"
    assert gateway.structured_mode("local/smollm2") == "llama_cpp_schema"
    with scripted_model([]):
        assert gateway.structured_mode("fake/m") == "prompt"
