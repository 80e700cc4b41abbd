"""`agentrun.Client`: runs on an `agentrun serve` server, from Python.

```python
from agentrun import Client

with Client("http://127.0.0.1:8321", token) as client:
    state = client.run("brief", {"topic": "tides"}, on_event=print)   # waits for the end
    if state.status == "waiting":
        state = client.resume(state.id, answer="Wend")
    print(state.outputs)
    for event in client.stream(state.id):   # the run's typed events, from the start
        ...
```

Events arrive as the same typed events the SDK streams (`agentrun.graphs.events`). An error
the server answers with is a `ServerError` naming its HTTP status and the server's reason; past
the server's bound on executing runs it is a `ServerBusyError` carrying `retry_after_s`. Needs
httpx and httpx-sse (the `server` extra).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from agentrun.errors import EXIT_CONFIG, EXIT_RUN_FAILED, EXIT_USAGE, AgentrunError
from agentrun.graphs.events import Event, parse_event
from agentrun.server.models import PipelineInfo, RunState, WorkflowInfo

EventHandler = Callable[[Event], None]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


_UNSET: Any = _Unset()


class ServerError(AgentrunError):
    """The server refused a request; `status` is the HTTP status, the message its reason."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"server answered {status}: {detail}")
        self.status = status
        self.detail = detail
        if status in (401, 403):
            self.exit_code = EXIT_CONFIG
        elif 400 <= status < 500:
            self.exit_code = EXIT_USAGE
        else:
            self.exit_code = EXIT_RUN_FAILED


class ServerBusyError(ServerError):
    """As many runs execute as the server allows; try again after `retry_after_s`."""

    def __init__(self, detail: str, retry_after_s: float) -> None:
        super().__init__(429, detail)
        self.retry_after_s = retry_after_s


class Client:
    """A client of one server; `token` is the bearer token it was given (None: `--no-auth`)."""

    def __init__(self, url: str, token: str | None = None, *, timeout_s: float = 30.0) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def __repr__(self) -> str:
        return f"Client({self.url!r})"  # never the token

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- runs ----------------------------------------------------------------------------------

    def start(
        self,
        pipeline: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        workflow: str | None = None,
        config: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> RunState:
        """Start a run of a served pipeline (or of `workflow=`); returns at once. Options:
        `stream_text`, `cache`, `max_cost_usd`, `max_input_tokens`."""
        body = {"pipeline": pipeline, "workflow": workflow, "inputs": dict(inputs or {}),
                "config": dict(config or {}), **options}  # fmt: skip
        return RunState.model_validate(self._request("POST", "/runs", json=body))

    def run(
        self,
        pipeline: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        workflow: str | None = None,
        config: Mapping[str, Any] | None = None,
        on_event: EventHandler | None = None,
        **options: Any,
    ) -> RunState:
        """Start a run and wait until it stops: done, waiting for an answer, or failed. Each
        event is passed to `on_event` as it happens."""
        started = self.start(pipeline, inputs, workflow=workflow, config=config, **options)
        return self._until_settled(started, on_event)

    def resume(
        self, run_id: str, answer: Any = _UNSET, *, on_event: EventHandler | None = None
    ) -> RunState:
        """Continue a waiting (with `answer`), failed or interrupted run, and wait until it
        stops again."""
        body = {} if answer is _UNSET else {"answer": answer}
        resumed = RunState.model_validate(
            self._request("POST", f"/runs/{run_id}/resume", json=body)
        )
        return self._until_settled(resumed, on_event)

    def get(self, run_id: str) -> RunState:
        """A run's state: status, pending question, outputs."""
        return RunState.model_validate(self._request("GET", f"/runs/{run_id}"))

    def cancel(self, run_id: str) -> RunState:
        """Stop an executing run (it is left interrupted, and can be resumed)."""
        return RunState.model_validate(self._request("POST", f"/runs/{run_id}/cancel"))

    def stream(self, run_id: str, *, after: int = 0) -> Iterator[Event]:
        """The run's events from the start (or from offset `after`), live until it stops."""
        import httpx
        from httpx_sse import connect_sse

        with connect_sse(
            self._http, "GET", f"/runs/{run_id}/events", params={"after": after},
            timeout=httpx.Timeout(self._http.timeout.connect, read=None),
        ) as source:  # fmt: skip
            if source.response.status_code != 200:
                source.response.read()
                _raise_for(source.response)
            for message in source.iter_sse():
                if message.event == "end":
                    return
                if message.data:  # a keep-alive comment arrives as an event without data
                    yield parse_event(message.data)

    def runs(self) -> list[RunState]:
        """This client's runs, newest first."""
        return [RunState.model_validate(item) for item in self._request("GET", "/runs")]

    def pipelines(self) -> list[PipelineInfo]:
        return [PipelineInfo.model_validate(item) for item in self._request("GET", "/pipelines")]

    def workflows(self) -> list[WorkflowInfo]:
        return [WorkflowInfo.model_validate(item) for item in self._request("GET", "/workflows")]

    # --- memory --------------------------------------------------------------------------------

    def add_document(self, name: str, text: str, *, namespace: str = "default") -> Any:
        """Put a document into this client's memory (chunked and embedded)."""
        return self._request(
            "POST", "/memory/documents", params={"name": name, "namespace": namespace},
            content=text.encode("utf-8"), headers={"Content-Type": "text/plain; charset=utf-8"},
        )  # fmt: skip

    def search(self, query: str, *, namespace: str = "default", limit: int = 5) -> Any:
        """The chunks of this client's memory closest in meaning to `query`."""
        params = {"query": query, "namespace": namespace, "limit": limit}
        return self._request("GET", "/memory/search", params=params)

    # --- plumbing ------------------------------------------------------------------------------

    def _until_settled(self, state: RunState, on_event: EventHandler | None) -> RunState:
        for event in self.stream(state.id, after=state.events_after):
            if on_event is not None:
                on_event(event)
        return self.get(state.id)

    def _request(self, method: str, path: str, **options: Any) -> Any:
        response = self._http.request(method, path, **options)
        if response.status_code >= 400:
            _raise_for(response)
        return response.json()


def _raise_for(response: Any) -> None:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    if not isinstance(detail, str):  # pydantic's list of problems: the first, by field
        first = detail[0] if isinstance(detail, list) and detail else {}
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
        detail = f"{where}: {first.get('msg', detail)}"
    if response.status_code == 429:
        raise ServerBusyError(detail, float(response.headers.get("Retry-After", "1")))
    raise ServerError(response.status_code, detail)


__all__ = ["Client", "ServerBusyError", "ServerError"]
