"""The client's event stream against a scripted server: what proxies and keep-alives add."""

from __future__ import annotations

import httpx

from agentrun.client import Client
from agentrun.graphs.events import NodeFinished, NodeStarted

STARTED = '{"kind": "node_started", "node": "step1"}'
FINISHED = '{"kind": "node_finished", "node": "step1"}'


def test_keep_alive_comments_between_events_are_not_events() -> None:
    body = (
        f"id: 1\nevent: node_started\ndata: {STARTED}\n\n"
        ": ping - 2026-12-07 16:00:00\n\n"  # sent every 15 s while a run is quiet
        f"id: 2\nevent: node_finished\ndata: {FINISHED}\n\n"
        'event: end\ndata: {"status": "finished", "error": null}\n\n'
    )

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    client = Client("http://agentrun.test")
    client._http = httpx.Client(base_url=client.url, transport=httpx.MockTransport(serve))
    with client:
        events = list(client.stream("run-1"))
    assert [type(event) for event in events] == [NodeStarted, NodeFinished]
    assert [event.node for event in events] == ["step1", "step1"]
