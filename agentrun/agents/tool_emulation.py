"""Tool calls for models without native ones, through structured output.

The request asks, in the model's structured-output mode (llama.cpp's JSON-schema grammar for the
embedded model), for `{"tool_calls": [{"name": ..., "arguments": ...}]}`, each name bound to its
own tool's argument schema, or, when the model may answer instead, `{"answer": "..."}`. The reply
becomes the same typed `ToolCall`s a native provider's reply does. Earlier calls and results in
the history are rewritten as the JSON the model writes and as user messages, which every chat
template renders.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from agentrun.agents import structured
from agentrun.agents.config import StructuredMode
from agentrun.agents.messages import Message, text_of
from agentrun.agents.tool_calls import ToolCall, chosen_tool, offered_or_flagged, spec_names
from agentrun.errors import UsageError

SCHEMA_NAME = "tool_reply"
_TOOL_FIELDS = ("tools", "tool_choice", "parallel_tool_calls")


class _Call(BaseModel):
    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)


class _Reply(BaseModel):
    tool_calls: list[_Call] = Field(default_factory=list)
    answer: str | None = None


def asks_for_json(request: Mapping[str, Any]) -> bool:
    """Whether the emulated request constrains the reply to the tool-reply schema (its text is
    then JSON, not for streaming to a reader)."""
    return bool(request.get("tools")) and request.get("tool_choice") != "none"


def emulated_request(
    request: Mapping[str, Any], mode: StructuredMode, model: str
) -> dict[str, Any]:
    """The request as a model without native tool calls gets it."""
    plain = {k: v for k, v in request.items() if k not in _TOOL_FIELDS}
    plain["messages"] = plain_messages(request["messages"])
    if not asks_for_json(request):
        return plain
    if request.get("response_format") is not None:
        raise UsageError(
            f"model {model!r} has no native tool calls, so they are asked for through the "
            "response format: pass either tools or response_format, not both"
        )
    specs: list[dict[str, Any]] = request["tools"]
    choice = request.get("tool_choice") or "auto"
    named = chosen_tool(choice)
    offered = [s for s in specs if s["function"]["name"] == named] if named else specs
    parallel = bool(request.get("parallel_tool_calls"))
    schema = reply_schema(offered, may_answer=choice == "auto", parallel=parallel)
    plain["messages"] = with_tool_instruction(plain["messages"], specs, choice, schema, mode)
    response_format = structured.format_for_schema(mode, SCHEMA_NAME, schema)
    if response_format is not None:
        plain["response_format"] = response_format
    return plain


def reply_schema(
    specs: Sequence[Mapping[str, Any]], *, may_answer: bool, parallel: bool = False
) -> dict[str, Any]:
    """`{"tool_calls": [...]}` with each call's arguments bound to its tool's schema (one call,
    unless `parallel`), or (when the model may answer instead) `{"answer": "..."}`."""
    defs: dict[str, Any] = {}
    calls = [
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "enum": [spec["function"]["name"]]},
                "arguments": _hoist_defs(spec["function"]["parameters"], f"t{index}_", defs),
            },
            "required": ["name", "arguments"],
        }
        for index, spec in enumerate(specs)
    ]
    calling: dict[str, Any] = {
        "type": "object",
        "properties": {
            "tool_calls": {
                "type": "array",
                "minItems": 1,
                **({} if parallel else {"maxItems": 1}),
                "items": calls[0] if len(calls) == 1 else {"anyOf": calls},
            }
        },
        "required": ["tool_calls"],
    }
    answering = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
    }
    schema: dict[str, Any] = {"anyOf": [calling, answering]} if may_answer else calling
    if defs:
        schema["$defs"] = defs
    return schema


def _hoist_defs(schema: Mapping[str, Any], prefix: str, defs: dict[str, Any]) -> dict[str, Any]:
    """The schema with its own `$defs` moved into `defs` under `prefix` (references follow), as
    a nested schema's `#/$defs/...` would otherwise point at the wrong root."""
    local = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    renamed = {
        f"#/{key}/{name}": f"#/$defs/{prefix}{name}"
        for key in ("$defs", "definitions")
        for name in local
    }

    def walk(node: Any) -> Any:
        if isinstance(node, Mapping):
            return {
                k: (renamed.get(v, v) if k == "$ref" and isinstance(v, str) else walk(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    for name, definition in local.items():
        defs[prefix + name] = walk(definition)
    return walk({k: v for k, v in schema.items() if k not in ("$defs", "definitions")})  # type: ignore[no-any-return]


def with_tool_instruction(
    messages: list[Message],
    specs: Sequence[Mapping[str, Any]],
    choice: str | dict[str, Any],
    schema: Mapping[str, Any],
    mode: StructuredMode,
) -> list[Message]:
    """The tools and the reply format, added to the system message."""
    lines = ["You can call these tools:"]
    for spec in specs:
        function = spec["function"]
        parameters = json.dumps(function["parameters"], separators=(",", ":"))
        lines.append(f"- {function['name']}: {function.get('description') or ''}".rstrip())
        lines.append(f"  arguments: {parameters}")
    call_form = '{"tool_calls": [{"name": "<tool>", "arguments": {...}}]}'
    several = " (several calls at once if useful)" if schema_allows_many(schema) else ""
    named = chosen_tool(choice)
    if named:
        lines.append(f"Call the tool {named}: reply with {call_form} only.")
    elif choice == "required":
        lines.append(f"Call a tool: reply with {call_form}{several} only.")
    else:
        lines.append(
            f"To call a tool, reply with {call_form}{several}; "
            'to answer without tools, reply with {"answer": "<your answer>"}. JSON only.'
        )
    if mode in ("prompt", "json_object"):
        lines.append(f"The reply must match this JSON schema: {json.dumps(schema)}")
    note = "\n".join(lines)
    if messages and messages[0].get("role") == "system":
        first = messages[0]
        return [{**first, "content": f"{text_of([first])}\n\n{note}"}, *messages[1:]]
    return [{"role": "system", "content": note}, *messages]


def schema_allows_many(schema: Mapping[str, Any]) -> bool:
    calling = schema["anyOf"][0] if "anyOf" in schema else schema
    return "maxItems" not in calling["properties"]["tool_calls"]


def plain_messages(messages: Sequence[Message]) -> list[Message]:
    """Tool calls and results as plain messages: calls as the JSON the model writes, results as
    user messages naming the tool."""
    names: dict[str, str] = {}
    plain: list[Message] = []
    for message in messages:
        calls = message.get("tool_calls")
        if calls:
            names.update({call["id"]: call["function"]["name"] for call in calls})
            written = [
                {"name": call["function"]["name"], "arguments": _arguments(call)} for call in calls
            ]
            content = json.dumps({"tool_calls": written}, ensure_ascii=False)
            plain.append({"role": "assistant", "content": content})
        elif message.get("role") == "tool":
            name = names.get(message.get("tool_call_id", ""), message.get("tool_call_id", "tool"))
            plain.append(
                {"role": "user", "content": f"Tool {name} returned:\n{text_of([message])}"}
            )
        else:
            plain.append(message)
    return plain


def _arguments(call: Mapping[str, Any]) -> Any:
    raw = call["function"].get("arguments") or "{}"
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def emulated_reply(text: str, request: Mapping[str, Any]) -> tuple[str, list[ToolCall]]:
    """The answer text and the tool calls in an emulated reply. A reply that is not the tool-reply
    JSON (a model given no schema, or cut off) stays text; an answer cut off mid-string keeps what
    was written."""
    if not asks_for_json(request):
        return text, []
    try:
        reply = _Reply.model_validate_json(structured.extract_json(text))
    except ValidationError:
        return _cut_answer(text), []
    names = spec_names(request["tools"])
    calls = [
        offered_or_flagged(
            ToolCall.parse(f"call_{uuid.uuid4().hex[:24]}", c.name, c.arguments), names
        )
        for c in reply.tool_calls
    ]
    if not calls and reply.answer is None:
        return text, []
    return reply.answer or "", calls


def _new_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _cut_answer(text: str) -> str:
    """The answer of a reply cut off inside `{"answer": "...`, else the reply as it is."""
    for ending in ('"}', "}"):
        try:
            value = json.loads(text.strip() + ending)
        except json.JSONDecodeError:
            continue
        answer = value.get("answer") if isinstance(value, dict) else None
        if isinstance(answer, str):
            return answer
    return text
