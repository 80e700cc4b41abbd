"""The eval runner on a scripted oracle: reports and plots written, resume, failures, the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.memory import InMemoryStore

from agentrun.agents import Gateway, GatewayConfig, RetryPolicy
from agentrun.agents import _litellm as lx
from agentrun.agents.testing import scripted_model
from agentrun.cli import run as cli
from agentrun.errors import ConfigError, EndpointUnreachableError, UsageError
from agentrun.evals import report
from agentrun.evals.datasets import QAItem
from agentrun.evals.long_doc_qa import EvalSettings, arun_eval, parse_length
from agentrun.evals.synthetic import generate

LENGTHS = [400, 900]
QUESTION = re.compile(r"Question: (.*)")


class Oracle:
    """Answers like a perfect reader of whatever text its prompt shows (or NONE); raises
    `failure` once, for the item `fail_once`."""

    def __init__(
        self, items: list[QAItem], fail_once: str | None = None, failure: Exception | None = None
    ) -> None:
        self.by_question = {item.question: item for item in items}
        self.fail_once = fail_once
        self.failure = failure or ConnectionError("provider fell over")

    def __call__(self, messages: list[dict[str, Any]]) -> str:
        prompt = str(messages[-1]["content"])
        found = QUESTION.search(prompt)
        assert found is not None
        item = self.by_question[found.group(1).strip()]
        if item.id == self.fail_once:
            self.fail_once = None
            raise self.failure
        body = prompt[: found.start()]
        if body.startswith("Evidence found so far:"):  # a chain-of-agents evidence worker
            chunk = body.split("\nText (", 1)[1]
            cited = [
                m for e in item.evidence if (m := re.search(rf"\[\d+\] {re.escape(e.text)}", chunk))
            ]
            return "\n".join(m.group().split(" ")[0] for m in cited) or "NONE"
        if body.startswith("Source text ("):  # a summarizing worker: keeps every fact it saw
            return " ".join(e.text for e in item.evidence if e.text in body) or "Nothing relevant."
        if body.startswith("Passage c"):
            quotes = [e.text for e in item.evidence if e.text in body]
            return json.dumps({"facts": [{"source": "c0", "quote": q} for q in quotes]})
        answer = item.gold if item.gold and item.gold in body else None
        if "brackets like [n]" in prompt:  # a citing answerer: the fact holding the answer
            fact = re.search(rf"\[(\d+)\] [^\n]*{re.escape(answer)}", body) if answer else None
            return f"{answer} [{fact.group(1)}]" if fact else "NONE"
        if body.startswith(("Facts:", "Text:")):
            return json.dumps({"answer": answer, "facts": [1] if answer else [], "reason": "-"})
        return answer or "NONE"


def settings(**options: Any) -> EvalSettings:
    options.setdefault("strategies", ["vanilla", "rag", "rtr", "direct"])
    return EvalSettings(model="fake/m", lengths=LENGTHS, questions=3, seed=5, **options)


async def run_eval(
    out: Path,
    data_dir: Path,
    oracle_fail: str | None = None,
    failure: Exception | None = None,
    context_window: int = 8192,
    **options: Any,
) -> tuple[dict[str, Any], int]:
    config = GatewayConfig(retry=RetryPolicy(max_attempts=1))
    oracle: list[Oracle] = []
    async with Gateway(config, data_dir=data_dir, cache=False) as gateway:
        script = scripted_model(lambda messages: oracle[0](messages), context_window=context_window)
        with script as fake:
            items = generate(LENGTHS, 3, seed=5, count=gateway.text_counter("fake/m"))
            oracle.append(Oracle(items, oracle_fail, failure))
            result = await arun_eval(
                settings(**options), out, gateway=gateway, store=InMemoryStore()
            )
    return result, len(fake.calls)


async def test_the_eval_writes_its_report_and_plot(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "eval"
    result, calls = await run_eval(out, data_dir)
    saved = json.loads((out / report.REPORT_FILE).read_text(encoding="utf-8"))
    assert saved["summary"] == result["summary"]
    assert (out / report.PLOT_FILE).read_bytes().startswith(b"\x89PNG")
    assert set(saved["summary"]) == {"vanilla", "rtr", "direct"}
    assert "no search index" in saved["failed_strategies"]["rag"]
    assert saved["kinds"] == {"single": 2, "multi_hop": 2, "absent": 2}
    for strategy in ("vanilla", "rtr", "direct"):  # a perfect reader scores perfectly
        assert saved["summary"][strategy]["em"] == 1.0
        assert saved["summary"][strategy]["abstention_accuracy"] == 1.0
        assert set(saved["by_length"][strategy]) == {"400", "900"}
    evidence = saved["summary"]["rtr"]["evidence"]
    assert evidence["gold_facts"] == 6 and evidence["gold_recall_verified"] == 1.0
    assert evidence["hallucinated_rate"] == 0.0 and evidence["facts_not_in_source"] == 0
    rows = report.ResultLog(out).read()
    assert len(rows) == 18 and calls > 0
    assert all(row["usage"]["prompt_tokens"] > 0 for row in rows)


async def test_chain_of_agents_strategies_run_through_the_eval(
    tmp_path: Path, data_dir: Path
) -> None:
    """A small window splits each document into several chunks; a perfect reader then scores
    perfectly through every chain-of-agents strategy, so each is wired to its own workflow."""
    out = tmp_path / "eval"
    strategies = ["coa", "coa-free", "merge", "hierarchical"]
    result, calls = await run_eval(out, data_dir, strategies=strategies, context_window=1100)
    assert set(result["summary"]) == set(strategies) and not result["failed_strategies"]
    rows = report.ResultLog(out).read()
    assert len(rows) == 4 * 6 and not any(row["error"] for row in rows)
    assert calls == sum(row["usage"]["model_calls"] for row in rows)  # every call accounted for
    for strategy in strategies:
        summary = result["summary"][strategy]
        assert summary["em"] == 1.0 and summary["abstention_accuracy"] == 1.0, strategy
        assert set(result["by_length"][strategy]) == {"400", "900"}
        mine = [row for row in rows if row["strategy"] == strategy]
        assert max(row["details"]["chunks"] for row in mine) >= 2, strategy
    coa_rows = [row for row in rows if row["strategy"] == "coa"]
    assert all(row["details"]["dropped_quotes"] == 0 for row in coa_rows)
    assert {row["details"]["reason"] for row in coa_rows} == {
        "answered from the evidence",
        "no worker found evidence for the question",  # the absent questions
    }
    # every gold sentence was quoted by the worker that read it and reached the manager
    assert result["summary"]["coa"]["gold_chain"] == {
        "gold": 6,
        "captured": 6,
        "reached_manager": 6,
    }
    assert "gold_chain" not in result["summary"]["coa-free"]  # free units are not traceable
    for row in coa_rows:  # what the manager read is kept, and it held the answer
        assert all(answer in row["details"]["manager_input"] for answer in row["answers"])
    assert all(row["details"]["evicted_quotes"] == 0 for row in coa_rows)
    for strategy, extra in (("coa", 1), ("coa-free", 1), ("merge", 0), ("hierarchical", 1)):
        row = next(
            r for r in rows
            if r["strategy"] == strategy and r["kind"] == "single" and r["target_tokens"] == 900
        )  # fmt: skip
        # coa: a worker per chunk, then the manager; merge: one answer per chunk, no manager;
        # hierarchical: a leaf per chunk (no merge level needed here), then the manager.
        assert row["usage"]["model_calls"] == row["details"]["chunks"] + extra, strategy


async def test_a_crashed_eval_keeps_finished_items_and_continues(
    tmp_path: Path, data_dir: Path
) -> None:
    out = tmp_path / "eval"
    target = "gen-s5-900-001-multi_hop"  # the fifth item
    with pytest.raises(EndpointUnreachableError):  # the provider is down: the eval stops
        await run_eval(out, data_dir, oracle_fail=target, strategies=["vanilla"])
    assert [row["item_id"] for row in report.ResultLog(out).read()] == [
        "gen-s5-400-000-single", "gen-s5-400-001-multi_hop", "gen-s5-400-002-absent",
        "gen-s5-900-000-single",
    ]  # fmt: skip
    second, calls = await run_eval(out, data_dir, strategies=["vanilla"])
    assert calls == 2  # only the items not finished before the crash
    assert second["summary"]["vanilla"]["scored"] == 6 and second["summary"]["vanilla"]["em"] == 1

    third, calls = await run_eval(out, data_dir, strategies=["vanilla"])
    assert calls == 0 and third["summary"] == second["summary"]


async def test_an_item_the_provider_rejects_is_recorded_then_retried(
    tmp_path: Path, data_dir: Path
) -> None:
    out = tmp_path / "eval"
    target = "gen-s5-900-001-multi_hop"
    rejected = lx.litellm().BadRequestError(message="bad input", model="m", llm_provider="fake")
    first, _ = await run_eval(
        out, data_dir, oracle_fail=target, failure=rejected, strategies=["vanilla"]
    )
    assert first["summary"]["vanilla"]["errors"] == 1
    assert first["summary"]["vanilla"]["scored"] == 5  # the error is not scored as abstention
    (failed,) = [row for row in report.ResultLog(out).read() if row["error"]]
    assert failed["item_id"] == target and "request was rejected" in failed["error"]

    second, calls = await run_eval(out, data_dir, strategies=["vanilla"])
    assert calls == 1 and second["summary"]["vanilla"]["errors"] == 0


async def test_a_cut_off_last_line_is_ignored(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "eval"
    out.mkdir()
    (out / report.RESULTS_FILE).write_text('{"strategy": "vanilla", "item_id": "gen-s5', "utf-8")
    result, calls = await run_eval(out, data_dir, strategies=["vanilla"])
    assert calls == 6 and result["summary"]["vanilla"]["scored"] == 6


async def test_only_strategies_that_cannot_run_is_a_config_error(
    tmp_path: Path, data_dir: Path
) -> None:
    with pytest.raises(ConfigError, match="rag: the memory store"):
        await run_eval(tmp_path / "eval", data_dir, strategies=["rag"])


def test_settings_and_lengths_are_checked() -> None:
    assert [parse_length(x) for x in ("4k", "128K", "3000")] == [4096, 131072, 3000]
    with pytest.raises(UsageError, match="not a token count"):
        parse_length("lots")
    with pytest.raises(ValueError, match="unknown strategies"):
        EvalSettings(strategies=["coa", "magic"])


def test_the_cli_runs_an_eval_and_prints_a_table(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway = Gateway(data_dir=data_dir)
    out = tmp_path / "cli-eval"
    args = ["eval", "retrieve-then-reason", "--model", "fake/m", "--lengths", "400",
            "-n", "2", "--seed", "5", "--out-dir", str(out)]  # fmt: skip
    oracle: list[Oracle] = []
    with scripted_model(lambda messages: oracle[0](messages)):
        oracle.append(Oracle(generate([400], 2, seed=5, count=gateway.text_counter("fake/m"))))
        assert cli(args) == 0
    captured = capsys.readouterr()
    assert "rtr-unverified" in captured.out and "recall" in captured.out
    assert "[6/6]" in captured.err
    assert json.loads((out / "report.json").read_text("utf-8"))["eval"] == "retrieve-then-reason"

    bad = ["eval", "long-doc-qa", "--strategies", "coa,magic", "--out-dir", str(out)]
    assert cli(bad) == 2
    assert "unknown strategies" in capsys.readouterr().err
    assert cli(["eval", "long-doc-qa", "--lengths", "4k,huge"]) == 2
    assert "not a token count" in capsys.readouterr().err


def test_the_cli_says_how_far_gold_facts_got_down_the_chain(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway = Gateway(data_dir=data_dir)
    args = ["eval", "long-doc-qa", "--model", "fake/m", "--lengths", "400", "-n", "3", "--seed",
            "5", "--strategies", "coa,vanilla", "--out-dir", str(tmp_path / "out")]  # fmt: skip
    oracle: list[Oracle] = []
    with scripted_model(lambda messages: oracle[0](messages)):
        oracle.append(Oracle(generate([400], 3, seed=5, count=gateway.text_counter("fake/m"))))
        assert cli(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "coa: of 3 gold facts, workers quoted 3 and 3 reached the manager" in lines
    assert not any(line.startswith("vanilla: of") for line in lines)
