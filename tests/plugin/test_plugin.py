"""The example plugin (examples/plugin), installed into the environment as a user would:
found by name, run from YAML, from the CLI without YAML and from Python, stopped at its review
and resumed with an answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentrun.agents.testing import scripted_model
from agentrun.errors import EXIT_WAITING, SpecError
from agentrun.graphs import registry
from agentrun.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "examples" / "plugin"
AGENTRUN = str(Path(sys.executable).with_name("agentrun"))
TEXT = "Saltmere is a harbour town. Boats leave the harbour at dawn; the lighthouse guides them."
#: Scripted replies for the plugin's two model calls, by the prompt they answer.
FAKE = ["--set", "models.default.model=fake/brief", "--set", "models.default.replies=replies.yaml"]


@pytest.fixture(scope="module")
def installed() -> Iterator[None]:
    """The plugin installed into this environment (editable), uninstalled afterwards."""
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--no-deps", "--no-build-isolation", "-e", str(PLUGIN)],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    registry._plugins.cache_clear()
    # this process started before the install, so it never read the install's path file
    sys.path.append(str(PLUGIN / "src"))
    try:
        yield
    finally:
        subprocess.run([*pip, "uninstall", "-y", "agentrun-keyword-brief"],
                       check=True, capture_output=True, timeout=120)  # fmt: skip
        registry._plugins.cache_clear()
        registry._loaded.pop("keyword-brief", None)
        sys.path.remove(str(PLUGIN / "src"))


def agentrun(*args: str, data_dir: Path, cwd: Path = PLUGIN) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AGENTRUN_DATA_DIR": str(data_dir)}
    return subprocess.run([AGENTRUN, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_the_plugin_is_listed_and_shown(installed: None, data_dir: Path) -> None:
    listed = agentrun("workflows", "ls", data_dir=data_dir)
    assert listed.returncode == 0, listed.stderr
    assert "keyword-brief" in listed.stdout and "plugin agentrun-keyword-brief" in listed.stdout
    shown = agentrun("workflows", "show", "keyword-brief", data_dir=data_dir)
    assert json.loads(shown.stdout)["inputs"]["required"] == ["text"]


def test_it_runs_from_yaml_and_its_config_is_checked_against_its_model(
    installed: None, data_dir: Path, tmp_path: Path
) -> None:
    text = tmp_path / "text.md"
    text.write_text(TEXT, encoding="utf-8")
    run = agentrun("run", "keyword_brief.yaml", "--input", f"text=@{text}", *FAKE,
                   data_dir=data_dir)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "keywords: harbour, boats, lighthouse" in run.stdout
    assert "brief: A harbour town whose boats and lighthouse shaped its life." in run.stdout

    bad = tmp_path / "bad.yaml"
    spec = (
        (PLUGIN / "keyword_brief.yaml").read_text().replace("{max_tokens: 48}", "{max_tokns: 48}")
    )
    bad.write_text(spec, encoding="utf-8")
    with pytest.raises(
        SpecError, match=r"config\.max_tokns: unknown key .*did you mean 'max_tokens'"
    ):
        Pipeline.load(bad)


def test_it_runs_without_yaml_stops_at_its_review_and_resumes_with_an_answer(
    installed: None, data_dir: Path
) -> None:
    waiting = agentrun("run", "--workflow", "keyword-brief", "--input", f"text={TEXT}",
                       "--set", "config.review_keywords=true", "--thread-id", "k1", *FAKE,
                       data_dir=data_dir)  # fmt: skip
    assert waiting.returncode == EXIT_WAITING, waiting.stderr
    assert "Keep these keywords?" in waiting.stderr and "resume k1 --answer" in waiting.stderr
    done = agentrun("resume", "k1", "--answer", '["harbour", "dawn"]', data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    assert "brief: A harbour town" in done.stdout
    record = json.loads((data_dir / "runs" / "k1" / "result.json").read_text())
    assert record["outputs"]["brief"].startswith("A harbour town")


async def test_it_runs_from_python_with_usage_by_node(installed: None, data_dir: Path) -> None:
    from agentrun import get_workflow

    workflow_class = get_workflow("keyword-brief")
    with scripted_model(["harbour, boats", "A harbour town."]):
        result = await workflow_class({"model": "fake/k"}).arun(TEXT, keywords=2)
    assert result.keywords == ["harbour", "boats"] and result.output == "A harbour town."
    assert result.counts == {"harbour": 2, "boats": 1}  # the plugin's own tool counted them
    assert set(result.usage_by_node) == {"pick", "brief"}


def test_its_own_tool_is_found_by_name_in_a_pipeline(
    installed: None, data_dir: Path, tmp_path: Path
) -> None:
    from agentrun.tools import registry as tools

    tools._plugins.cache_clear()
    spec = tmp_path / "count.yaml"
    spec.write_text(
        "version: agentrun/v1\nname: count\nnodes:\n"
        "  - id: count\n    tool:\n      name: keywords.count\n"
        f"      args: {{text: {TEXT!r}, keywords: [harbour, lighthouse, fog]}}\n",
        encoding="utf-8",
    )
    result = Pipeline.load(spec).run(data_dir=data_dir)
    assert tools.tool_source("keywords.count").startswith("plugin")
    assert result.results["count"] == {"harbour": 2, "lighthouse": 1, "fog": 0}
