"""`agentrun eval ... --ray`: eval pairs answered by the workers of a two-node Ray cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentrun.agents import Gateway
from agentrun.agents.fake_server import FakeOpenAIServer
from agentrun.cli import run as cli
from agentrun.evals import report
from agentrun.evals.synthetic import generate
from tests.evals.test_long_doc_qa import Oracle
from tests.services import RayCluster

pytestmark = [pytest.mark.server, pytest.mark.ray]


def test_an_eval_runs_on_the_cluster(
    ray_cluster: RayCluster,
    cluster_model: FakeOpenAIServer,
    tmp_path: Path,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_API_BASE", cluster_model.url)
    counter = Gateway(data_dir=data_dir).text_counter("openai/gpt-4o-mini")
    oracle = Oracle(generate([400], 3, seed=5, count=counter))

    def reply(body: dict[str, Any]) -> str:
        return oracle(body["messages"])

    cluster_model.reset()
    cluster_model.reply = reply
    out = tmp_path / "eval"
    args = ["eval", "long-doc-qa", "--model", "openai/gpt-4o-mini", "--strategies",
            "vanilla,direct", "--lengths", "400", "-n", "3", "--seed", "5", "--out-dir", str(out),
            "--concurrency", "4", "--ray", ray_cluster.address]  # fmt: skip
    assert cli(args) == 0
    rows = report.ResultLog(out).read()
    assert len(rows) == 6 and all(row["error"] is None for row in rows)
    assert len(cluster_model.chat_requests()) >= 6  # answered by the workers, not a cache
    saved = json.loads((out / report.REPORT_FILE).read_text(encoding="utf-8"))
    assert saved["summary"]["vanilla"]["em"] == 1.0 and saved["summary"]["direct"]["em"] == 1.0
