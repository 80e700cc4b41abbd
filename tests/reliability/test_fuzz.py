"""Fuzzing at CI size: generated specs, `--set` and `--input` values and documents through the
CLI end in a run or one clear error, never a traceback (`benchmarks/fuzz.py`)."""

from __future__ import annotations

from pathlib import Path

from benchmarks import fuzz


def test_generated_cases_end_in_a_run_or_a_clear_error(tmp_path: Path) -> None:
    report = fuzz.fuzz(200, tmp_path, documents=False)
    figures = report.figures()
    assert figures["cases"] >= 200
    assert set(figures["by_target"]) == {"spec", "set", "input", "document"}
    assert figures["tracebacks"] == figures["unclear_errors"] == 0, report.to_json()
    assert figures["ok"] > 0 and figures["clear_errors"] > 0  # both outcomes were reached


def test_the_named_documents_end_in_a_run_or_a_clear_error(tmp_path: Path) -> None:
    """Each kind of document the issue names, the large ones smaller than in the benchmark."""
    report = fuzz.FuzzReport()
    fuzzer = fuzz.Fuzzer(tmp_path, report)
    for name, content in fuzz.named_documents(megabytes=1, lines=20_000).items():
        fuzzer.run_document(name, content)
    outcomes = {case.target: case.verdict for case in report.cases}
    assert set(outcomes.values()) <= {"ok", "clear error"}, report.to_json()
    assert outcomes["empty"] == outcomes["binary"] == "clear error"
    assert outcomes["20,000 short lines"] == outcomes["right-to-left and zero-width"] == "ok"


def test_the_judge_tells_a_traceback_and_an_unclear_error_from_a_clear_one() -> None:
    assert fuzz.verdict(1, "", "error: unexpected KeyError: 'x' (run with --debug)")[0] == (
        "traceback"
    )
    assert fuzz.verdict(1, "", "Traceback (most recent call last):\n")[0] == "traceback"
    assert fuzz.verdict(2, "", "error: something went wrong\n")[0] == "no location"
    assert fuzz.verdict(2, "", "error: a.yaml:3:1: bad value\n")[0] == "no fix"
    clear = "error: a.yaml:3:1: invalid YAML: found unexpected end; check the quotes\n"
    assert fuzz.verdict(2, "", clear)[0] == "clear error"
    assert fuzz.verdict(0, "answer: 42\n", "")[0] == "ok"
