"""Structured output: a pydantic model in, a validated instance out.

The JSON schema is sent the strongest way the provider allows (`json_schema` response format,
llama.cpp's schema-constrained `json_object`, plain JSON mode, or only in the prompt); replies
that do not validate are re-asked with the validation error, a bounded number of times.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agentrun.agents.config import StructuredMode
from agentrun.agents.messages import Message

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def schema_of(output: type[BaseModel]) -> dict[str, Any]:
    return output.model_json_schema()


def response_format(mode: StructuredMode, output: type[BaseModel]) -> dict[str, Any] | None:
    return format_for_schema(mode, output.__name__, schema_of(output))


def format_for_schema(
    mode: StructuredMode, name: str, schema: dict[str, Any]
) -> dict[str, Any] | None:
    """The response format that asks for `schema` in `mode` (None: the prompt carries it)."""
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": False},
        }
    if mode == "llama_cpp_schema":
        return {"type": "json_object", "schema": schema}
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def instruction(output: type[BaseModel]) -> str:
    schema = json.dumps(schema_of(output), separators=(",", ":"))
    return f"Reply with one JSON object only, matching this JSON schema: {schema}"


def with_instruction(messages: list[Message], output: type[BaseModel]) -> list[Message]:
    """Append the schema instruction to the last user message (small models follow it best
    there, and their own system prompt stays in place)."""
    note = instruction(output)
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            updated = {**message, "content": f"{content}\n\n{note}"}
        else:
            updated = {**message, "content": [*(content or []), {"type": "text", "text": note}]}
        return [*messages[:index], updated, *messages[index + 1 :]]
    return [*messages, {"role": "user", "content": note}]


def extract_json(text: str) -> str:
    """The JSON object inside a reply that may wrap it in a code fence or prose."""
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        return text[start : end + 1]
    return text.strip()


def parse(text: str, output: type[T]) -> T:
    """Validate a reply; raises pydantic's ValidationError with the details to re-ask with."""
    return output.model_validate_json(extract_json(text))


def reask_messages(messages: list[Message], reply: str, error: ValidationError) -> list[Message]:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in error.errors()
    )
    return [
        *messages,
        {"role": "assistant", "content": reply},
        {
            "role": "user",
            "content": (
                f"That reply did not match the schema ({problems}). "
                "Reply again with only the corrected JSON object."
            ),
        },
    ]
