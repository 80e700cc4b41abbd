"""What the server refuses: requests without a valid token, one client's runs and memory to
another, bodies over their limits, runs past the bound, paths in names; tokens stay unlogged."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import httpx
import pytest

from agentrun.agents.fake_server import FakeOpenAIServer
from agentrun.cli import run as cli
from agentrun.client import Client, ServerBusyError, ServerError
from agentrun.server.auth import Authenticator
from agentrun.server.config import ServerSettings
from tests.server.conftest import ALICE, BOB, TOKENS, live_server, slow_pipeline

NOTES = (
    "The lighthouse at Saltmere was first lit in 1844 by keeper Ann Rowe.\n\n"
    "Its lamp burned whale oil until 1871, when paraffin replaced it."
)


def test_a_missing_or_wrong_token_is_refused(server_url: str) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token-of-this-server"},
                    {"Authorization": f"Basic {ALICE}"}):  # fmt: skip
        for method, path in (("GET", "/runs"), ("POST", "/runs"), ("GET", "/pipelines"),
                             ("GET", "/memory/search?query=x")):  # fmt: skip
            response = httpx.request(method, server_url + path, headers=headers, json={})
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["www-authenticate"] == "Bearer"
    cookies = {"agentrun_token": "not-a-token-of-this-server"}
    assert httpx.get(server_url + "/runs", cookies=cookies).status_code == 401
    assert httpx.get(server_url + "/runs", cookies={"agentrun_token": ALICE}).status_code == 200
    assert httpx.get(server_url + "/healthz").status_code == 200


def test_a_client_sees_neither_the_runs_nor_the_memory_of_another(server_url: str) -> None:
    with Client(server_url, ALICE) as alice, Client(server_url, BOB) as bob:
        run = alice.run("ask")
        assert bob.runs() == [] and [r.id for r in alice.runs()] == [run.id]
        paths = (("GET", ""), ("GET", "/events"), ("POST", "/resume"), ("POST", "/cancel"),
                 ("GET", "/graph"), ("GET", "/graph.svg"))  # fmt: skip
        for method, path in paths:
            response = bob._http.request(method, f"/runs/{run.id}{path}", json={"answer": "Wend"})
            assert response.status_code == 404, path
        assert alice.get(run.id).status == "waiting"  # Bob's answer went nowhere

        alice.add_document("saltmere.md", NOTES)
        hits = alice.search("When was the lighthouse first lit?")
        assert hits and "1844" in hits[0]["text"] and hits[0]["source"] == "saltmere.md"
        assert bob.search("When was the lighthouse first lit?") == []
        assert bob._request("GET", "/memory/documents") == []
        mine = alice.run("recall", {"query": "lighthouse keeper"})
        theirs = bob.run("recall", {"query": "lighthouse keeper"})
        assert mine.status == theirs.status == "done"
        assert "Ann Rowe" in mine.outputs["found"]
        assert theirs.outputs == {"found": "[]"}


def test_bodies_over_their_limits_are_refused(served: Path, data_dir: Path) -> None:
    settings = ServerSettings(data_dir=data_dir, tokens=TOKENS, max_body_bytes=2000,
                              max_document_bytes=4000)  # fmt: skip
    headers = {"Authorization": f"Bearer {ALICE}"}
    with live_server(served, settings) as url:
        big = {"pipeline": "ask", "inputs": {"topic": "x" * 3000}}
        response = httpx.post(url + "/runs", json=big, headers=headers)
        assert response.status_code == 413 and "2000 bytes" in response.json()["detail"]

        def chunks() -> object:  # no Content-Length: counted as it arrives
            yield b'{"pipeline": "ask", "inputs": {"topic": "'
            for _ in range(10):
                yield b"y" * 300
            yield b'"}}'

        streamed = httpx.post(url + "/runs", content=chunks(), headers=headers)  # type: ignore[arg-type]
        assert streamed.status_code == 413
        document = httpx.post(url + "/memory/documents?name=a.md", content=b"z" * 5000,
                              headers=headers)  # fmt: skip
        assert document.status_code == 413
        assert Client(url, ALICE).runs() == []  # nothing started


def test_runs_past_the_bound_get_429_with_retry_after(served: Path, data_dir: Path) -> None:
    settings = ServerSettings(data_dir=data_dir, tokens=TOKENS, max_runs=1, retry_after_s=7)
    with FakeOpenAIServer(reply="ok", latency_s=0.5) as model:
        (served / "slow.yaml").write_text(slow_pipeline(model.url, steps=2), encoding="utf-8")
        with live_server(served, settings) as url, Client(url, ALICE) as client:
            first = client.start("slow")
            with pytest.raises(ServerBusyError) as busy:
                client.start("slow")
            assert busy.value.retry_after_s == 7 and busy.value.status == 429
            response = client._http.post("/runs", json={"pipeline": "ask"})
            assert response.status_code == 429 and response.headers["retry-after"] == "7"
            list(client.stream(first.id))
            assert client.run("ask").status == "waiting"  # room again


def test_names_never_reach_the_file_system(server_url: str, served: Path) -> None:
    outside = served.parent / "outside.yaml"
    outside.write_text((served / "ask.yaml").read_text().replace("name: ask", "name: outside"))
    with Client(server_url, ALICE) as client:
        for name in ("../outside", str(outside), "outside", "ask.yaml"):
            with pytest.raises(ServerError) as refused:
                client.run(name)
            assert refused.value.status == 404
        assert client._http.get("/runs/..%2F..%2Fetc").status_code == 404
        response = client._http.post("/memory/documents?name=../escape.md", content=b"text")
        assert response.status_code == 422
    assert not (served.parent / "escape.md").exists()


def test_tokens_are_compared_whole_and_never_logged(
    served: Path, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    auth = Authenticator(TOKENS)
    assert auth.caller(ALICE).name == "alice" and auth.caller(BOB).name == "bob"  # type: ignore[union-attr]
    assert auth.caller(ALICE[:-1]) is None and auth.caller(ALICE + "x") is None
    assert auth.caller("") is None
    caplog.set_level(logging.DEBUG)
    with live_server(served, ServerSettings(data_dir=data_dir, tokens=TOKENS)) as url:
        client = Client(url, ALICE)
        client.run("ask")
        httpx.get(url + "/runs", headers={"Authorization": f"Bearer {BOB}x"})
        assert ALICE not in repr(client)
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert ALICE not in logged and BOB not in logged


def test_the_command_refuses_unsafe_settings(
    served: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("AGENTRUN_SERVER_TOKEN", raising=False)
    assert cli(["serve", str(served)]) == 2
    assert "no tokens" in capsys.readouterr().err
    assert cli(["serve", str(served), "--no-auth", "--host", "0.0.0.0"]) == 2
    assert "loopback" in capsys.readouterr().err
    tokens = tmp_path / "tokens"
    tokens.write_text(f"alice {ALICE}\n", encoding="utf-8")
    os.chmod(tokens, 0o644)
    assert cli(["serve", str(served), "--tokens-file", str(tokens)]) == 2
    assert "chmod 600" in capsys.readouterr().err
    os.chmod(tokens, 0o600)
    tokens.write_text("alice short\n", encoding="utf-8")
    assert cli(["serve", str(served), "--tokens-file", str(tokens)]) == 2
    assert "at least 16 characters" in capsys.readouterr().err
    monkeypatch.setenv("AGENTRUN_SERVER_TOKEN", ALICE)
    assert cli(["serve", str(tmp_path / "missing")]) == 2
