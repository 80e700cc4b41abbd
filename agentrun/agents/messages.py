"""Chat messages, and images turned into OpenAI-style `image_url` parts.

A message's content may be a string or a list of parts. Besides OpenAI's own part shapes, a part
may be an `Image` (or a `{"type": "image", "image": ...}` dict) holding a path, raw bytes or a URL;
every VLM behind LiteLLM then receives a standard `image_url` part.

Tool use travels in OpenAI's shape too: an assistant message with `tool_calls` (`ToolCall`s or
their dicts) and one `{"role": "tool", "tool_call_id": ..., "content": ...}` result per call.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic_core import to_jsonable_python

from agentrun.agents.tool_calls import ToolCall
from agentrun.errors import InputFileError, UsageError

Message = dict[str, Any]
ImageSource = str | bytes | os.PathLike[str]


@dataclass(frozen=True)
class Image:
    """An image for a VLM: a file path, raw bytes, or an http(s)/data URL."""

    source: ImageSource
    detail: Literal["auto", "low", "high"] | None = None
    mime_type: str | None = None

    def to_part(self) -> dict[str, Any]:
        image_url: dict[str, Any] = {"url": _to_url(self.source, self.mime_type)}
        if self.detail:
            image_url["detail"] = self.detail
        return {"type": "image_url", "image_url": image_url}


def _sniff_mime(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def _data_url(data: bytes, mime_type: str | None) -> str:
    mime = mime_type or _sniff_mime(data)
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _to_url(source: ImageSource, mime_type: str | None) -> str:
    if isinstance(source, bytes):
        return _data_url(source, mime_type)
    text = os.fspath(source)
    if isinstance(source, str) and text.startswith(("http://", "https://", "data:")):
        return text
    path = Path(text)
    if not path.is_file():
        raise InputFileError(text, "image file not found; pass an existing path, bytes or a URL")
    guessed = mime_type or mimetypes.guess_type(path.name)[0]
    return _data_url(path.read_bytes(), guessed)


def _normalize_part(part: Any) -> Any:
    if isinstance(part, Image):
        return part.to_part()
    if isinstance(part, str):
        return {"type": "text", "text": part}
    if isinstance(part, dict) and part.get("type") == "image":
        return Image(part["image"], detail=part.get("detail")).to_part()
    return part


def normalize_messages(messages: Sequence[Message] | str) -> list[Message]:
    """Copy `messages` into LiteLLM's shape; a bare string becomes one user message."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    normalized: list[Message] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message:
            raise UsageError(f"messages[{index}] must be a dict with 'role' and 'content'")
        content = message.get("content")
        if isinstance(content, list | tuple):
            message = {**message, "content": [_normalize_part(p) for p in content]}
        elif isinstance(content, Image):
            message = {**message, "content": [content.to_part()]}
        if message.get("tool_calls"):
            message = {**message, "tool_calls": _normalize_calls(index, message["tool_calls"])}
        if message["role"] == "tool":
            message = _normalize_tool_result(index, message)
        normalized.append(message)
    return normalized


def _normalize_calls(index: int, calls: Any) -> list[dict[str, Any]]:
    """An assistant message's tool calls as OpenAI dicts (arguments as a JSON text)."""
    if not isinstance(calls, list | tuple):
        raise UsageError(f"messages[{index}].tool_calls must be a list of tool calls")
    normalized: list[dict[str, Any]] = []
    for position, call in enumerate(calls):
        if isinstance(call, ToolCall):
            normalized.append(call.to_openai())
            continue
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not call.get("id") or not function.get("name"):
            raise UsageError(
                f"messages[{index}].tool_calls[{position}] needs an 'id' and a 'function' with "
                "a 'name' (pass the reply's ToolCall objects, or Completion.message())"
            )
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments or {}, ensure_ascii=False)
        normalized.append(
            {**call, "type": "function", "function": {**function, "arguments": arguments}}
        )
    return normalized


def _normalize_tool_result(index: int, message: Message) -> Message:
    if not isinstance(message.get("tool_call_id"), str) or not message["tool_call_id"]:
        raise UsageError(
            f"messages[{index}] is a tool result without 'tool_call_id' (the id of the call it "
            "answers); build it with tool_result(call, content)"
        )
    content = message.get("content")
    if isinstance(content, str | list):
        return message
    return {**message, "content": result_text(content)}


def result_text(value: Any) -> str:
    """A tool's result as the text a model reads: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(to_jsonable_python(value, fallback=str), ensure_ascii=False)


def text_of(messages: Sequence[Message]) -> str:
    """All text in the messages, tool calls included, for counting tokens (image parts are not
    text)."""
    pieces: list[str] = []
    for message in messages:
        for call in message.get("tool_calls") or []:
            function = call.get("function", {}) if isinstance(call, dict) else {}
            pieces.append(f"{function.get('name', '')} {function.get('arguments', '')}")
        content = message.get("content")
        if isinstance(content, str):
            pieces.append(content)
        elif isinstance(content, list):
            pieces.extend(
                p.get("text", "")
                for p in content
                if isinstance(p, dict) and p.get("type") == "text"
            )
    return "\n".join(pieces)


def image_count(messages: Sequence[Message]) -> int:
    return sum(
        1
        for message in messages
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if isinstance(part, dict) and part.get("type") == "image_url"
    )


def system(text: str) -> Message:
    return {"role": "system", "content": text}


def content_parts(*parts: str | Image) -> list[dict[str, Any]]:
    """OpenAI-style content parts: strings become text parts, images `image_url` parts."""
    return [_normalize_part(p) for p in parts]


def user(*parts: str | Image) -> Message:
    if len(parts) == 1 and isinstance(parts[0], str):
        return {"role": "user", "content": parts[0]}
    return {"role": "user", "content": content_parts(*parts)}


def assistant(text: str | None, tool_calls: Sequence[ToolCall] = ()) -> Message:
    """A reply for the history; with `tool_calls`, the calls the results that follow answer."""
    if not tool_calls:
        return {"role": "assistant", "content": text or ""}
    return {
        "role": "assistant",
        "content": text or None,
        "tool_calls": [call.to_openai() for call in tool_calls],
    }


def tool_result(call: ToolCall | str, content: Any) -> Message:
    """The result of one tool call (the call or its id), for the message after the calls."""
    call_id = call if isinstance(call, str) else call.id
    return {"role": "tool", "tool_call_id": call_id, "content": result_text(content)}
