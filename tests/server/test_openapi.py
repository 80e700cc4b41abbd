"""A client written from the OpenAPI document alone, as a new user would write one: every path,
field and content type it uses is looked up in `/openapi.json`, then it starts a run, streams
its events, answers its question and fetches its result with plain HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.server.conftest import ALICE


def operation(spec: dict[str, Any], method: str, wanted: str) -> tuple[str, dict[str, Any]]:
    """The path and operation whose summary mentions `wanted`."""
    for path, item in spec["paths"].items():
        op = item.get(method)
        if op and wanted in (op.get("summary", "") + op.get("description", "")).lower():
            return path, op
    raise AssertionError(f"no {method.upper()} operation about {wanted!r}")


def body_schema(spec: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    if "anyOf" in schema:
        schema = next(s for s in schema["anyOf"] if "$ref" in s)
    return spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]  # type: ignore[no-any-return]


def sse(text: str) -> list[tuple[str, str]]:
    """(event, data) pairs of a Server-Sent Events body."""
    found, event, data = [], "message", []
    for line in [*text.splitlines(), ""]:
        if not line:
            if data:
                found.append((event, "\n".join(data)))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
    return found


def test_a_client_from_the_openapi_document_runs_answers_and_fetches(server_url: str) -> None:
    spec = httpx.get(server_url + "/openapi.json").json()
    assert httpx.get(server_url + "/docs").status_code == 200
    scheme = next(iter(spec["components"]["securitySchemes"].values()))
    assert scheme == {"type": "http", "scheme": "bearer", "description": "The client's token."}
    auth = {"Authorization": f"Bearer {ALICE}"}

    list_path, _ = operation(spec, "get", "pipelines this server runs")
    pipeline = httpx.get(server_url + list_path, headers=auth).json()[0]
    start_path, start = operation(spec, "post", "start a run")
    fields = body_schema(spec, start)["properties"]
    assert {"pipeline", "inputs"} <= set(fields)
    body = {"pipeline": pipeline["name"], "inputs": {"topic": "ports"}}
    started = httpx.post(server_url + start_path, headers=auth, json=body)
    assert started.status_code == 202
    run_id = started.json()["id"]

    events_path, events = operation(spec, "get", "events")
    assert "text/event-stream" in events["responses"]["200"]["content"]
    stream = httpx.get(server_url + events_path.format(run_id=run_id), headers=auth, timeout=60)
    kinds = [event for event, _ in sse(stream.text)]
    assert kinds[-1] == "end" and "interrupt" in kinds
    ended = json.loads(sse(stream.text)[-1][1])
    assert ended["status"] == "waiting"

    get_path, get = operation(spec, "get", "a run's status")
    state_schema = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert {"status", "question", "outputs"} <= set(
        spec["components"]["schemas"][state_schema.rsplit("/", 1)[1]]["properties"]
    )
    state = httpx.get(server_url + get_path.format(run_id=run_id), headers=auth).json()
    question = state["question"]
    assert question["question"] == "Which harbour should the brief cover?"
    answer = question["answer_schema"]["enum"][1]

    resume_path, resume = operation(spec, "post", "continue a waiting")
    assert "answer" in body_schema(spec, resume)["properties"]
    resumed = httpx.post(server_url + resume_path.format(run_id=run_id), headers=auth,
                         json={"answer": answer})  # fmt: skip
    assert resumed.status_code == 202
    after = resumed.json()["events_after"]
    rest = httpx.get(server_url + events_path.format(run_id=run_id), params={"after": after},
                     headers=auth, timeout=60)  # fmt: skip
    assert [e for e, _ in sse(rest.text)][-2:] == ["result", "end"]
    final = httpx.get(server_url + get_path.format(run_id=run_id), headers=auth).json()
    assert final["status"] == "done"
    assert final["outputs"] == {"brief": "Wend harbour was built in 1871."}
