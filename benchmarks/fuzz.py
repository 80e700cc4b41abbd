"""Fuzzing the CLI with Hypothesis: generated specs, `--set` and `--input` values, documents.

Every case runs the `agentrun` command (in this process, as `agentrun.cli.run(argv)`) and is
judged by what a user would see: exit code 0 (or 4, a question), or an error that is one clear
line: no traceback and no "unexpected" error, a location (file:line, or the option, input or
file it is about) and a fix (what is expected, or what to do). Generated cases:

- `spec`: an example pipeline, mutated (values replaced by any YAML value, keys dropped or
  added, the text cut or spliced), validated with `agentrun validate`;
- `set`: `agentrun validate EXAMPLE --set PATH=VALUE` with real and made-up paths;
- `input`: `agentrun run` of two examples on scripted models with any text as an input;
- `document`: chain-of-agents on scripted models over any bytes given as `@file`.

Then the documents named in the issue (empty, binary, 50 MB, invalid UTF-8, a million short
lines, deep nesting, NUL bytes, right-to-left and zero-width characters) each run as their own
`agentrun` process, whose time and peak memory are measured.

    .venv/bin/python benchmarks/fuzz.py [--cases 2000] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentrun.cli import run as cli
from benchmarks.workloads import DEMO_TEXT, EXAMPLES, ROOT

#: Text with what breaks naive code: NUL and control characters, right-to-left and zero-width
#: marks, surrogate-free astral characters.
TRICKY = "\x00\x1b\r\t\u202e\u2066\u200b\u200f\ufeff\U0001f600é中"
TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from(TRICKY), max_size=200)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
#: A location: file:line[:col], a path, or the option, input, file or field it is about.
LOCATED = re.compile(
    r"(\.ya?ml:\d+|(^|\s)[\w.~-]*/[^\s:]+:|:\d+:\d+|--[a-z][\w-]+|input '|@|node \w+|"
    r"workflow [\w-]+|field|'[\w./-]+'|\bmodel\b|no such file|file)",
    re.I,
)
#: How the CLI reports an exception it has no clear message for.
UNEXPECTED = re.compile(r"error: unexpected \w+: ")
#: A fix: what is expected, or what to do.
FIX = re.compile(
    r"\b(expected|must|use|did you mean|pass|set|allowed|only|one of|needs?|should|give|"
    r"add|remove|choose|check|raise|free|name|at most|at least|try|not a valid|valid|"
    r"is required|takes|export|resume|shorten|cannot|no such|declare|write|convert|starts with|"
    r"a pipeline is)\b",
    re.I,
)
EXAMPLE_SPECS = sorted(EXAMPLES.glob("*.yaml"))
FAKE_BRIEF = ["--set", "models.default.model=fake/brief",
              "--set", "models.default.replies=replies/research_brief.yaml",
              "--set", "memory.backend=memory"]  # fmt: skip
FAKE_COA = ["--set", "models.default.model=fake/coa",
            "--set", "models.default.replies=replies/chain_of_agents.yaml",
            "--set", "memory.backend=memory"]  # fmt: skip


@dataclass
class Case:
    target: str
    code: int
    verdict: str
    seconds: float
    message: str = ""


@dataclass
class FuzzReport:
    cases: list[Case] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        verdicts = Counter(case.verdict for case in self.cases)
        by_target = {
            target: dict(Counter(c.verdict for c in self.cases if c.target == target))
            for target in dict.fromkeys(c.target for c in self.cases)
        }
        docs = self.documents
        return {
            "cases": len(self.cases),
            "by_target": by_target,
            "ok": verdicts["ok"],
            "clear_errors": verdicts["clear error"],
            "tracebacks": verdicts["traceback"] + sum(d["verdict"] == "traceback" for d in docs),
            "unclear_errors": verdicts["no location"] + verdicts["no fix"]
            + sum(d["verdict"] in ("no location", "no fix") for d in docs),
            "max_case_seconds": max((c.seconds for c in self.cases), default=0.0),
            "documents": len(docs),
            "documents_max_seconds": max((d["seconds"] for d in docs), default=0.0),
            "documents_max_rss_mb": max((d["max_rss_mb"] for d in docs), default=0.0),
        }  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        unclear = [asdict(c) for c in self.cases if c.verdict not in ("ok", "clear error")]
        return {"benchmark": "fuzz", "figures": self.figures(), "documents": self.documents,
                "unclear_or_crashed": unclear[:50]}  # fmt: skip


def verdict(code: int, out: str, err: str) -> tuple[str, str]:
    """How a user would judge this outcome, and the error line it is judged on."""
    text = out + err
    errors = [line for line in err.split("\n") if line.startswith("error:")]
    message = err[err.find("error:") :] if errors else ""  # the error and its indented lines
    if "Traceback" in text or any(UNEXPECTED.match(line) for line in errors):
        return "traceback", message or text[-500:]
    if code in (0, 4):
        return "ok", ""
    if not errors:
        return "no location", text[-300:]
    if not LOCATED.search(message):
        return "no location", message
    if not FIX.search(message):
        return "no fix", message
    return "clear error", message


def agentrun(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(argv)
    return code, out.getvalue(), err.getvalue()


class Fuzzer:
    def __init__(self, scratch: Path, report: FuzzReport) -> None:
        self.scratch = scratch
        self.report = report
        self.count = 0

    def case(self, target: str, argv: list[str]) -> None:
        self.count += 1
        started = time.perf_counter()
        code, out, err = agentrun(["--data-dir", str(self.scratch / "data"), *argv])
        seconds = time.perf_counter() - started
        kind, message = verdict(code, out, err)
        self.report.cases.append(Case(target, code, kind, seconds, message))

    def file(self, name: str, content: bytes) -> Path:
        path = self.scratch / "cases" / f"{self.count}-{name}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return path

    # --- targets --------------------------------------------------------------------------------

    def spec(self, data: st.DataObject) -> None:
        example = data.draw(st.sampled_from(EXAMPLE_SPECS))
        text = example.read_text(encoding="utf-8")
        how = data.draw(st.sampled_from(["value", "drop", "add", "cut", "splice"]))
        if how in ("value", "drop", "add"):
            spec = yaml.safe_load(text)
            path = _path_in(spec, data)
            _mutate(spec, path, how, data)
            text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
        elif how == "cut":
            text = text[: data.draw(st.integers(0, len(text)))]
        else:
            at = data.draw(st.integers(0, len(text)))
            text = text[:at] + data.draw(TEXT) + text[at:]
        copy = self.file("spec.yaml", text.encode("utf-8", "surrogatepass"))
        self.case("spec", ["validate", str(copy)])

    def set_value(self, data: st.DataObject) -> None:
        example = data.draw(st.sampled_from(EXAMPLE_SPECS))
        spec = yaml.safe_load(example.read_text(encoding="utf-8"))
        real = ".".join(str(part) for part in _path_in(spec, data))
        key = data.draw(st.sampled_from([real, real + ".x", "nodes.99.id", "a..b", ""]) | TEXT)
        value = data.draw(TEXT | st.sampled_from(["[[[[[[[[", "{a: 1, a: 2}", "!!python/tuple [1]",
                                                  "&a [*a]", "1e999", "- - - -"]))  # fmt: skip
        self.case("set", ["validate", str(example), "--set", f"{key}={value}"])

    def input_value(self, data: st.DataObject) -> None:
        value = data.draw(TEXT)
        if data.draw(st.booleans()):
            argv = ["run", str(EXAMPLES / "research_brief.yaml"), *FAKE_BRIEF,
                    "--input", f"topic={value}", "--no-stream"]  # fmt: skip
        else:
            argv = ["run", str(EXAMPLES / "agent_write.yaml"), "--set",
                    "models.default.model=fake/w", "--set",
                    "models.default.replies=replies/agent_write.yaml", "--set",
                    "memory.backend=memory", "--input", f"target_words={value}",
                    "--set", "workflow.config.section_words=250", "--no-stream"]  # fmt: skip
        self.case("input", argv)

    def document(self, data: st.DataObject) -> None:
        content = data.draw(
            st.binary(max_size=4000)
            | TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))
            | st.builds(lambda t, n: (t * n).encode(), TEXT, st.integers(1, 200))
        )
        self.run_document("document", content)

    def run_document(self, target: str, content: bytes) -> None:
        """Chain-of-agents on scripted models over `content` given as `@file`."""
        path = self.file("doc.txt", content)
        argv = ["run", str(EXAMPLES / "chain_of_agents.yaml"), *FAKE_COA,
                "--input", f"document=@{path}", "--no-stream"]  # fmt: skip
        self.case(target, argv)


def _path_in(value: Any, data: st.DataObject) -> list[Any]:
    """A random path to a node of a parsed spec (possibly the root)."""
    path: list[Any] = []
    while isinstance(value, dict | list) and value and data.draw(st.integers(0, 3)) > 0:
        key = data.draw(st.sampled_from(list(value) if isinstance(value, dict) else
                                        list(range(len(value)))))  # fmt: skip
        path.append(key)
        value = value[key]
    return path


def _mutate(spec: Any, path: list[Any], how: str, data: st.DataObject) -> None:
    parent = spec
    for part in path[:-1]:
        parent = parent[part]
    if not path or not isinstance(parent, dict | list):
        return
    last = path[-1]
    if how == "value":
        parent[last] = data.draw(VALUES)
    elif how == "drop":
        del parent[last]
    elif isinstance(parent, dict):
        parent[data.draw(TEXT)] = data.draw(VALUES)


def run_target(name: str, method: Callable[[st.DataObject], None], cases: int) -> None:
    @settings(max_examples=cases, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.data())
    def generated(data: st.DataObject) -> None:
        method(data)

    generated()


# --- the named documents, each in its own process ----------------------------------------------


def named_documents(megabytes: int = 50, lines: int = 1_000_000) -> dict[str, bytes]:
    """The documents the issue names, the large ones at the given sizes."""
    rng = random.Random(0)
    line = b"Keeper Ashby rang the bell at nine.\n"
    rtl_line = "\u202eKeeper\u200b Ashby\u2066 rang\u200f the bell.\ufeff "
    demo = DEMO_TEXT.read_bytes() + b"\n"
    return {
        "empty": b"",
        "binary": bytes(rng.randrange(256) for _ in range(64 * 1024)),
        f"{megabytes} MB": demo * (megabytes * 1024 * 1024 // len(demo) + 1),
        "invalid UTF-8": DEMO_TEXT.read_bytes()[:5000] + b"\xff\xfe\xc3\x28" + line,
        f"{lines:,} short lines": b"".join(b"l%d\n" % i for i in range(lines)),
        "deep nesting": b"[" * 100_000 + b"]" * 100_000,
        "NUL bytes": line * 50 + b"\x00" * 100 + line * 50,
        "right-to-left and zero-width": rtl_line.encode() * 500,
    }


#: `agentrun` that writes its peak resident memory (VmHWM, kB) to the file named first. The
#: peak the parent sees through wait4 is no good: a child inherits the parent's high-water mark.
PEAK_WRAPPER = """
import atexit, re, sys
from pathlib import Path
out = Path(sys.argv.pop(1))
def peak():
    status = Path("/proc/self/status").read_text()
    out.write_text(re.search(r"VmHWM:\\s+(\\d+)", status).group(1))
atexit.register(peak)
sys.argv[0] = "agentrun"
from agentrun.cli import main
main()
"""


def document_process(name: str, content: bytes, folder: Path) -> dict[str, Any]:
    """Chain-of-agents over `content` as its own `agentrun` process: its verdict, seconds and
    peak resident memory."""
    path = folder / (re.sub(r"\W+", "-", name) + ".txt")
    path.write_bytes(content)
    peak = folder / "peak-kb"
    argv = [sys.executable, "-c", PEAK_WRAPPER, str(peak), "--data-dir", str(folder / "data"),
            "run", str(EXAMPLES / "chain_of_agents.yaml"), *FAKE_COA,
            "--input", f"document=@{path}", "--no-stream"]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, cwd=ROOT, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    seconds = time.perf_counter() - started
    stdout, stderr = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    kind, message = verdict(done.returncode, stdout, stderr)
    return {"document": name, "bytes": len(content), "exit_code": done.returncode,
            "verdict": kind, "message": message[:300], "seconds": round(seconds, 2),
            "max_rss_mb": round(int(peak.read_text()) / 1024, 1)}  # fmt: skip


def fuzz(
    cases: int,
    scratch: Path,
    documents: bool = True,
    log: Any = None,
    megabytes: int = 50,
    lines: int = 1_000_000,
) -> FuzzReport:
    """`cases` generated cases (split across the targets), then the named documents (the large
    one of `megabytes`, the many-lines one of `lines`)."""
    report = FuzzReport()
    fuzzer = Fuzzer(scratch, report)
    shares = {"spec": 0.45, "set": 0.35, "input": 0.1, "document": 0.1}
    methods = {"spec": fuzzer.spec, "set": fuzzer.set_value, "input": fuzzer.input_value,
               "document": fuzzer.document}  # fmt: skip
    for target, share in shares.items():
        run_target(target, methods[target], max(1, int(cases * share)))
        if log is not None:
            found = Counter(c.verdict for c in report.cases if c.target == target)
            print(f"{target}: {dict(found)}", file=log, flush=True)
    if documents:
        folder = scratch / "named"
        folder.mkdir()
        for name, content in named_documents(megabytes, lines).items():
            report.documents.append(document_process(name, content, folder))
            if log is not None:
                print(f"document {name}: {report.documents[-1]}", file=log, flush=True)
    return report


def show(report: FuzzReport) -> str:
    f = report.figures()
    targets = ", ".join(f"{t} {sum(v.values())}" for t, v in f["by_target"].items())
    lines = [
        f"fuzz: {f['cases']} generated cases ({targets})",
        f"  tracebacks: {f['tracebacks']}",
        f"  errors without a location or a fix: {f['unclear_errors']}",
        f"  ran: {f['ok']}, refused with a clear error: {f['clear_errors']}, "
        f"slowest case {f['max_case_seconds']:.1f} s",
        f"  named documents: {f['documents']}, slowest {f['documents_max_seconds']:.1f} s, "
        f"peak memory {f['documents_max_rss_mb']:.0f} MB",
    ]  # fmt: skip
    for doc in report.documents:
        lines.append(f"    {doc['document']}: exit {doc['exit_code']}, {doc['seconds']} s, "
                     f"{doc['max_rss_mb']} MB: {doc['message'][:120] or 'ran'}")  # fmt: skip
    for case in report.to_json()["unclear_or_crashed"][:10]:
        lines.append(f"    [{case['verdict']}] {case['target']}: {case['message'][:200]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--no-documents", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="agentrun-fuzz-") as scratch:
        report = fuzz(args.cases, Path(scratch), not args.no_documents, log=sys.stderr)
    print(show(report))
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
