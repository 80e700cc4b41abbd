"""A loopback OpenAI-compatible server for tests and benchmarks.

It answers `/v1/chat/completions` (plain and streamed) with configurable latency, random errors,
scripted status codes with Retry-After, malformed bodies and scripted tool calls
(`FakeReply(tool_calls=[...])`), and records every request it saw.
Point any model at it with `openai/<name>` and `api_base=server.url`.

Run it in its own process with `python -m agentrun.agents.fake_server --port 8900`; flags script
the failures too (`--status-code 429 --retry-after 2 --fail-first 1`, `--error-rate 0.1`,
`--latency-s 0.05`, `--malformed-rate`; see `--help`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from agentrun.agents.messages import text_of
from agentrun.agents.tokens import count_cl100k
from agentrun.agents.tool_calls import ToolCall, as_tool_calls


@dataclass(frozen=True)
class FakeReply:
    """A reply: `text` (empty: the server's default reply), or tool calls (`ToolCall`s or
    `{"name", "arguments", "id"?}` dicts; `arguments` as a dict or a JSON text sent as it is)."""

    text: str = ""
    tool_calls: Sequence[ToolCall | Mapping[str, Any]] = ()

    def calls(self) -> list[ToolCall]:
        return as_tool_calls(self.tool_calls)


@dataclass(frozen=True)
class FakeError:
    status: int
    retry_after: float | None = None
    message: str = "scripted failure"


@dataclass(frozen=True)
class FakeMalformed:
    """A 200 whose body is not a chat completion: cut-off JSON (the default), an empty body
    (`""`), or JSON of another shape (`'{"object": "list", "data": []}'`)."""

    body: str = '{"choices": [ this is not json'


@dataclass(frozen=True)
class FakeDisconnect:
    """The connection is dropped (reset) without any response."""


@dataclass(frozen=True)
class FakeHang:
    """No answer for `seconds` (past the client's time-out), then the usual reply."""

    seconds: float = 30.0


Action = FakeReply | FakeError | FakeMalformed | FakeDisconnect | FakeHang


@dataclass(frozen=True)
class RecordedRequest:
    at: float
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakeOpenAIServer:
    """Configure, `start()` (or use as a context manager), read `.requests`, `stop()`."""

    reply: str | Callable[[dict[str, Any]], str] = "ok"
    latency_s: float = 0.0
    error_rate: float = 0.0
    error_status: int = 500
    retry_after: float | None = None
    malformed_rate: float = 0.0
    #: With `fault_rate`, that share of requests gets one of `faults`, chosen at random.
    faults: Sequence[Action] = ()
    fault_rate: float = 0.0
    seed: int = 0
    port: int = 0
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._script: deque[Action] = deque()
        self._lock = threading.Lock()
        self._random = random.Random(self.seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._record = True
        self.in_flight = 0
        self.max_in_flight = 0
        #: The action each request got, in order.
        self.served: list[Action] = []

    # --- control -----------------------------------------------------------------------------

    def script(self, actions: Iterable[Action]) -> None:
        """Queue actions consumed one per request before the default behaviour resumes."""
        with self._lock:
            self._script.extend(actions)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.served.clear()
            self.max_in_flight = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake OpenAI server did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        future.result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        loop.run_until_complete(self._start_site())
        ready.set()
        loop.run_forever()
        loop.close()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        return app

    async def _start_site(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1])

    # --- handlers ----------------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    def _next_action(self) -> Action:
        with self._lock:
            if self._script:
                return self._script.popleft()
        if self.faults and self.fault_rate and self._random.random() < self.fault_rate:
            return self._random.choice(list(self.faults))
        if self.error_rate and self._random.random() < self.error_rate:
            return FakeError(self.error_status, self.retry_after)
        if self.malformed_rate and self._random.random() < self.malformed_rate:
            return FakeMalformed()
        return FakeReply("")

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        except ConnectionResetError:  # the client gave up (a time-out): nobody to answer
            return web.Response(status=499)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if self._record:
            self.requests.append(
                RecordedRequest(time.monotonic(), request.path, body, dict(request.headers))
            )
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        action = self._next_action()
        if self._record:
            self.served.append(action)
        if isinstance(action, FakeDisconnect):
            if request.transport is not None:
                request.transport.abort()  # a reset: the client sees the connection drop
            raise web.HTTPInternalServerError()  # never sent: the transport is gone
        if isinstance(action, FakeHang):
            await asyncio.sleep(action.seconds)
            action = FakeReply("")
        if isinstance(action, FakeError):
            headers = (
                {"retry-after": f"{action.retry_after:g}"} if action.retry_after is not None else {}
            )
            payload = {
                "error": {"message": action.message, "type": "fake_error", "code": action.status}
            }
            return web.json_response(payload, status=action.status, headers=headers)
        if isinstance(action, FakeMalformed):
            if body.get("stream"):
                return await self._broken_stream(request, action.body)
            return web.Response(text=action.body, content_type="application/json")
        calls = [call.to_openai() for call in action.calls()]
        text = action.text
        if not text and not calls:
            text = self.reply(body) if callable(self.reply) else self.reply
        prompt_tokens = count_cl100k(text_of(body.get("messages", [])))
        completion_tokens = count_cl100k(text_of([{"content": text, "tool_calls": calls}]))
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if body.get("stream"):
            return await self._stream(request, body, text, calls, usage)
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:
            message["tool_calls"] = calls
        return web.json_response(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if calls else "stop",
                    }
                ],
                "usage": usage,
            }
        )

    async def _stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        text: str,
        calls: list[dict[str, Any]],
        usage: dict[str, int],
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        ident = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        base = {"id": ident, "object": "chat.completion.chunk", "created": int(time.time()),
                "model": body.get("model", "fake")}  # fmt: skip
        for delta in _deltas(text, calls):
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        finish = "tool_calls" if calls else "stop"
        final = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
        await response.write(f"data: {json.dumps(final)}\n\n".encode())
        if (body.get("stream_options") or {}).get("include_usage"):
            await response.write(
                f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n".encode()
            )
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _broken_stream(self, request: web.Request, data: str) -> web.StreamResponse:
        """A stream that ends without `[DONE]`: `data` as its one event (none if empty)."""
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        if data:
            await response.write(f"data: {data}\n\n".encode())
        await response.write_eof()
        return response


def _deltas(text: str, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stream deltas: the text word by word, then each tool call with its arguments in two
    pieces (the first naming the call), as OpenAI streams them."""
    deltas: list[dict[str, Any]] = []
    if text or not calls:
        words = text.split(" ")
        deltas = [{"content": word + " "} for word in words[:-1]] + [{"content": words[-1]}]
    for index, call in enumerate(calls):
        arguments = call["function"]["arguments"]
        half = len(arguments) // 2
        head = {
            **call,
            "index": index,
            "function": {**call["function"], "arguments": arguments[:half]},
        }
        tail = {"index": index, "function": {"arguments": arguments[half:]}}
        deltas += [{"tool_calls": [head]}, {"tool_calls": [tail]}]
    return deltas


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agentrun.agents.fake_server",
        description="A loopback OpenAI-compatible server; prints its base URL, serves until ^C.",
    )
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--reply", default="ok", help="the text of every successful reply")
    parser.add_argument("--latency-s", type=float, default=None, help="delay of every answer")
    parser.add_argument("--latency-ms", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--status-code",
        type=int,
        default=None,
        help="status of the errors served (default 500); alone, every request gets it",
    )
    parser.add_argument(
        "--error-rate", type=float, default=None, help="share of requests that get the error"
    )
    parser.add_argument(
        "--fail-first", type=int, default=0, help="the first N requests get the error, then replies"
    )
    parser.add_argument("--retry-after", type=float, default=None, help="Retry-After of errors")
    parser.add_argument(
        "--malformed-rate", type=float, default=0.0, help="share of replies with a broken body"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random errors")
    return parser


def server_from_args(argv: list[str] | None = None) -> FakeOpenAIServer:
    """The server the command line describes (not started)."""
    parser = _parser()
    args = parser.parse_args(argv)
    for name in ("error_rate", "malformed_rate"):
        value = getattr(args, name)
        if value is not None and not 0.0 <= value <= 1.0:
            parser.error(f"--{name.replace('_', '-')} must be between 0 and 1, got {value:g}")
    status = args.status_code or 500
    if not 400 <= status <= 599:
        parser.error(f"--status-code must be an HTTP error status (400-599), got {status}")
    error_rate = args.error_rate
    if error_rate is None:
        # A status code on its own means "always fail"; with --fail-first only those fail.
        error_rate = 1.0 if args.status_code is not None and not args.fail_first else 0.0
    latency_s = args.latency_s if args.latency_s is not None else args.latency_ms / 1000
    server = FakeOpenAIServer(
        reply=args.reply,
        latency_s=latency_s,
        error_rate=error_rate,
        error_status=status,
        retry_after=args.retry_after,
        malformed_rate=args.malformed_rate,
        seed=args.seed,
        port=args.port,
    )
    server.script([FakeError(status, args.retry_after)] * args.fail_first)
    return server


def main(argv: list[str] | None = None) -> None:
    server = server_from_args(argv)
    server._record = False  # a long benchmark run must not grow memory
    server.start()
    print(server.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
