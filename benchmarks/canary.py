"""Secrets canary: runs given a canary API key and token, then every file they left is searched.

The key reaches a run the ways a user gives one: by environment (`api_key_env`), by YAML
(`api_key:` in the spec, or `--set models.default.api_key=...`, both refused), and as an MCP
server's header and environment (`${NAME}` read from the environment). Each run goes through the
CLI (`-vv`, so the logs are on, and `--events FILE`) against the fake OpenAI server: one that
answers, one retried after a 500, one whose provider echoes the key in a 401 (as some do), and a
resume. Then the canary is searched in every byte the runs left: the data directory (run records,
checkpoints, result files, the cache, blobs), the events files, and stdout and stderr.

    .venv/bin/python benchmarks/canary.py [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentrun.agents.fake_server import FakeError, FakeOpenAIServer
from agentrun.cli import run as cli
from benchmarks.workloads import ROOT
from tests.tools.test_mcp import serving_http

KEY = "canary-key-4f1c9a7e2d0b8c3a"  # not shaped like any provider's key: found by value
TOKEN = "tok-canary-88e2b5d1c0a9f7"
MCP_SERVER = ROOT / "tests" / "tools" / "mcp_server.py"


@dataclass
class Canary:
    runs: dict[str, int] = field(default_factory=dict)  # run: exit code
    output: list[str] = field(default_factory=list)  # stdout and stderr of every run
    scratch: Path = Path()

    def figures(self) -> dict[str, Any]:
        specs = self.scratch / "specs"  # the user's own files: by-yaml.yaml holds the key
        files = [p for p in self.scratch.rglob("*") if p.is_file() and specs not in p.parents]
        leaks = [str(path.relative_to(self.scratch)) for path in files if _holds(path.read_bytes())]
        leaks += [f"output of run {i}" for i, text in enumerate(self.output) if _holds(text)]
        return {"runs": len(self.runs), "exit_codes": self.runs, "files_scanned": len(files),
                "files": sorted(str(p.relative_to(self.scratch)) for p in files),
                "bytes_scanned": sum(p.stat().st_size for p in files) + len("".join(self.output)),
                "canary_hits": len(leaks), "leaks": leaks}  # fmt: skip


def _holds(data: bytes | str) -> bool:
    text = data if isinstance(data, str) else data.decode("latin-1")
    return KEY in text or TOKEN in text


def spec_text(api_base: str, mcp_url: str, key_line: str) -> str:
    """An agent on the fake server that calls an HTTP and a stdio MCP server's tools."""
    return (
        "version: agentrun/v1\nname: canary\n"
        f"models:\n  default:\n    model: openai/canary\n    api_base: {api_base}\n"
        f"    {key_line}\n    max_tokens: 64\n"
        "memory: {backend: memory}\n"
        "mcp_servers:\n"
        f"  web:\n    url: {mcp_url}\n    headers: {{X-Api-Key: '${{AGENTRUN_CANARY_TOKEN}}'}}\n"
        f"  calc:\n    command: {sys.executable}\n    args: [{MCP_SERVER}]\n"
        "    env: {TEST_TOKEN: '${AGENTRUN_CANARY_TOKEN}'}\n"
        "nodes:\n"
        "  - id: echo\n    tool:\n      name: web.echo\n      args: {text: harbour}\n"
        "  - id: add\n    tool:\n      name: calc.add\n      args: {a: 2, b: 3}\n"
        "  - id: answer\n    agent:\n      prompt: 'Say {{ state.echo }} {{ state.add }}.'\n"
        "edges:\n  - from: echo\n    to: add\n  - from: add\n    to: answer\n"
        'outputs:\n  answer: "{{ state.answer }}"\n'
    )


def agentrun(argv: list[str], canary: Canary) -> int:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(["-vv", "--data-dir", str(canary.scratch / "data"), *argv])
    canary.output.append(out.getvalue() + err.getvalue())
    return code


def canary_runs(scratch: Path) -> Canary:
    canary = Canary(scratch=scratch)
    env = {"AGENTRUN_CANARY_KEY": KEY, "AGENTRUN_CANARY_TOKEN": TOKEN}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        with FakeOpenAIServer(reply="harbour 5") as server, serving_http() as (mcp_url, _):
            (scratch / "specs").mkdir()
            by_env = scratch / "specs" / "by-env.yaml"
            by_env.write_text(spec_text(server.url, mcp_url, "api_key_env: AGENTRUN_CANARY_KEY"))
            by_yaml = scratch / "specs" / "by-yaml.yaml"
            by_yaml.write_text(spec_text(server.url, mcp_url, f"api_key: {KEY}"))

            def run(name: str, *argv: str) -> None:
                events = scratch / f"events-{name}.jsonl"
                canary.runs[name] = agentrun([*argv, "--events", str(events)], canary)

            run("key from the environment", "run", str(by_env), "--thread-id", "env")
            server.script([FakeError(500), FakeError(503)])
            run("retried after a 500 and a 503", "run", str(by_env), "--no-cache")
            server.script([FakeError(401, message=f"Incorrect API key provided: {KEY}.")])
            run("a 401 that echoes the key", "run", str(by_env), "--no-cache",
                "--thread-id", "echoed")  # fmt: skip
            canary.runs["resumed"] = agentrun(["resume", "echoed"], canary)
            canary.runs["key in the YAML"] = agentrun(["validate", str(by_yaml)], canary)
            run("key in the YAML, run", "run", str(by_yaml))
            canary.runs["key by --set"] = agentrun(
                ["validate", str(by_env), "--set", f"models.default.api_key={KEY}"], canary
            )
            canary.runs["runs listed"] = agentrun(["runs", "ls"], canary)
            canary.runs["run shown"] = agentrun(["runs", "show", "echoed"], canary)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return canary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="agentrun-canary-") as scratch:
        figures = canary_runs(Path(scratch)).figures()
    scanned = f"{figures['files_scanned']} files and {figures['bytes_scanned']:,} bytes scanned"
    print(f"canary: {figures['runs']} runs, {scanned}, canary hits: {figures['canary_hits']}")
    for name, code in figures["exit_codes"].items():
        print(f"    {name}: exit {code}")
    for leak in figures["leaks"]:
        print(f"    LEAK: {leak}")
    if args.json:
        args.json.write_text(json.dumps({"benchmark": "canary", "figures": figures}, indent=2))


if __name__ == "__main__":
    main()
