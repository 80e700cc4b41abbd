"""Model and document text reaches the terminal literally: no markup, no emoji codes, and
control characters shown as escapes, never sent raw (they could recolour, clear or retitle the
terminal, or overwrite what was printed before)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrun.cli import run as cli

REPLY = "root:x:0:0 [bold]x[/bold] :smile: \x1b[31mred\x1b[0m \x1b]0;t\x07 a\rb\bc"
#: How the reply is shown: every character as written, control characters as Python escapes.
SHOWN = "root:x:0:0 [bold]x[/bold] :smile: \\x1b[31mred\\x1b[0m \\x1b]0;t\\x07 a\\rb\\x08c"
#: What must never be printed: raw control characters, and what rich would make of the codes.
RAW = ("\x1b", "\x07", "\r", "\x08", "\u274c", "\U0001f604")

HEAD = """\
version: agentrun/v1
name: echo
models:
  default: {model: fake/p, replies: replies.yaml}
"""


def write_pipeline(tmp_path: Path, body: str) -> Path:
    (tmp_path / "replies.yaml").write_text(f"- {json.dumps(REPLY)}\n", encoding="utf-8")
    path = tmp_path / "pipeline.yaml"
    path.write_text(HEAD + body, encoding="utf-8")
    return path


def assert_literal(printed: str) -> None:
    for raw in RAW:
        assert raw not in printed, f"{raw!r} printed as is"


def test_streamed_text_and_outputs_are_printed_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_pipeline(
        tmp_path,
        "nodes:\n  - id: a\n    agent: {prompt: hi}\noutputs:\n  answer: '{{ state.a }}'\n",
    )
    assert cli(["run", str(path), "--thread-id", "t1"]) == 0
    captured = capsys.readouterr()
    assert f"a | {SHOWN}" in captured.err  # streamed
    assert f"answer: {SHOWN}\n" in captured.out  # the outputs
    assert_literal(captured.out + captured.err)

    assert cli(["runs", "show", "t1"]) == 0
    shown = capsys.readouterr().out
    assert "root:x:0:0 [bold]x[/bold] :smile:" in shown
    assert_literal(shown)


def test_an_error_carrying_model_text_is_printed_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_pipeline(
        tmp_path,
        "nodes:\n  - id: a\n    agent: {prompt: hi}\n"
        "  - id: b\n    tool: {name: file.read, args: {path: '{{ state.a }}'}}\n"
        "edges:\n  - {from: a, to: b}\n",
    )
    assert cli(["run", str(path), "--no-stream", "--thread-id", "t2"]) != 0
    err = capsys.readouterr().err
    assert "error: node b: file.read: " in err and f"{SHOWN[-40:]}: no such file" in err
    assert_literal(err)

    assert cli(["runs", "show", "t2"]) == 0
    shown = capsys.readouterr().out
    assert "root:x:0:0 [bold]x[/bold] :smile:" in shown
    assert_literal(shown)


def test_memory_search_and_ls_print_documents_and_names_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # the table of `ls` keeps each path on one line
    document = tmp_path / "notes [bold]x :smile: \x1b[31m.md"
    document.write_text(f"Harbour notes.\n\n{REPLY}\n", encoding="utf-8")
    assert cli(["memory", "ingest", str(document)]) == 0
    assert cli(["memory", "search", "harbour notes", "--full"]) == 0
    assert cli(["memory", "ls"]) == 0
    out = capsys.readouterr().out
    assert SHOWN.replace("a\\rb", "a b") in out  # search shows chunks with whitespace joined
    assert "notes [bold]x :smile: \\x1b[31m.md" in out
    assert_literal(out)


def test_logged_events_show_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from agentrun.logs import configure_cli_logging, get_logger

    logger = logging.getLogger("agentrun")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    try:
        configure_cli_logging(1)
        get_logger("agentrun.test").warning(f"provider said {REPLY}", detail=REPLY)
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
    err = capsys.readouterr().err
    assert "provider said" in err and "\\x1b[31mred" in err
    assert_literal(err)
