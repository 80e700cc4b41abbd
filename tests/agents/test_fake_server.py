"""The fake server's standalone mode: failures scripted from the command line."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from agentrun.agents.fake_server import server_from_args

BODY = {"model": "x", "messages": [{"role": "user", "content": "ping"}]}


@contextmanager
def standalone(*flags: str) -> Iterator[str]:
    """The fake server in its own process, as `python -m agentrun.agents.fake_server`."""
    command = [sys.executable, "-m", "agentrun.agents.fake_server", "--port", "0", *flags]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_status_code_and_retry_after_for_the_first_requests() -> None:
    flags = ("--status-code", "429", "--retry-after", "2", "--fail-first", "1", "--reply", "hi")
    with standalone(*flags) as url:
        first = httpx.post(f"{url}/chat/completions", json=BODY, timeout=10)
        second = httpx.post(f"{url}/chat/completions", json=BODY, timeout=10)
    assert (first.status_code, first.headers["retry-after"]) == (429, "2")
    assert second.status_code == 200
    assert second.json()["choices"][0]["message"]["content"] == "hi"


def test_a_status_code_alone_fails_every_request_after_the_latency() -> None:
    with standalone("--status-code", "503", "--latency-s", "0.2") as url:
        started = time.monotonic()
        codes = [httpx.post(f"{url}/chat/completions", json=BODY).status_code for _ in range(3)]
        elapsed = time.monotonic() - started
    assert codes == [503, 503, 503]
    assert elapsed >= 0.6


def test_error_rate_and_malformed_rate_are_seeded() -> None:
    flags = ["--error-rate", "0.3", "--malformed-rate", "0.5", "--status-code", "502"]
    server = server_from_args([*flags, "--seed", "3"])
    assert (server.error_rate, server.error_status, server.malformed_rate) == (0.3, 502, 0.5)
    actions = [type(server._next_action()).__name__ for _ in range(60)]
    again = server_from_args([*flags, "--seed", "3"])
    assert actions == [type(again._next_action()).__name__ for _ in range(60)]
    assert {"FakeError", "FakeMalformed", "FakeReply"} == set(actions)


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--error-rate", "1.5"], "--error-rate must be between 0 and 1"),
        (["--status-code", "200"], "--status-code must be an HTTP error status"),
    ],
)
def test_bad_flags_are_one_clear_line(
    flags: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        server_from_args(flags)
    assert exited.value.code == 2
    assert needle in capsys.readouterr().err


def test_faults_are_drawn_from_the_mix_at_their_rate() -> None:
    from agentrun.agents.fake_server import FakeDisconnect, FakeError, FakeHang, FakeOpenAIServer

    mix = [FakeError(429), FakeDisconnect(), FakeHang(1)]
    server = FakeOpenAIServer(faults=mix, fault_rate=0.3, seed=1)
    actions = [server._next_action() for _ in range(1000)]
    faults = [action for action in actions if action in mix]
    assert 250 <= len(faults) <= 350
    assert {type(action).__name__ for action in faults} == {
        "FakeError",
        "FakeDisconnect",
        "FakeHang",
    }


def test_a_dropped_connection_and_a_hang_reach_the_client_as_such() -> None:
    from agentrun.agents.fake_server import FakeDisconnect, FakeHang, FakeOpenAIServer, FakeReply

    with FakeOpenAIServer(reply="hi") as server:
        server.script([FakeDisconnect(), FakeHang(2)])
        url = f"{server.url}/chat/completions"
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(url, json=BODY, timeout=10)
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(url, json=BODY, timeout=0.3)
        assert (
            httpx.post(url, json=BODY, timeout=10).json()["choices"][0]["message"]["content"]
            == "hi"
        )
    assert server.served == [FakeDisconnect(), FakeHang(2), FakeReply("")]
