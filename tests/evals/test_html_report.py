"""`agentrun eval ... --report FILE.html`: one self-contained page with the eval's plots (score by
length, depth or bucket; score against cost for the system and its baselines) and every item;
checked as text, and in headless Chromium (no console errors, nothing fetched)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from agentrun.agents import Gateway
from agentrun.agents.testing import scripted_model
from agentrun.cli import run as cli
from agentrun.evals.html_report import load_view, summary
from agentrun.evals.synthetic import generate
from tests.evals.test_long_doc_qa import Oracle
from tests.evals.test_longbench_write import EvalWriter
from tests.evals.test_navigation import first_listed


def qa_eval(out: Path, data_dir: Path, report: Path) -> None:
    gateway = Gateway(data_dir=data_dir)
    args = ["eval", "retrieve-then-reason", "--model", "fake/m", "--lengths", "400,900",
            "-n", "2", "--seed", "5", "--out-dir", str(out), "--report", str(report)]  # fmt: skip
    oracle: list[Oracle] = []
    with scripted_model(lambda messages: oracle[0](messages)):
        count = gateway.text_counter("fake/m")
        oracle.append(Oracle(generate([400, 900], 2, seed=5, count=count)))
        assert cli(args) == 0


def test_a_qa_eval_writes_its_plots_and_every_item(tmp_path: Path, data_dir: Path) -> None:
    report = tmp_path / "report.html"
    qa_eval(tmp_path / "out", data_dir, report)
    page = report.read_text(encoding="utf-8")
    assert report.stat().st_mode & 0o077 == 0
    assert page.count("<svg") == 3  # by length, by depth, against cost
    for title in ("F1 by length", "F1 by depth", "F1 against cost: rtr and its baselines"):
        assert all(char in page for char in title.split()[0])  # titles drawn as glyph paths
    view = load_view(tmp_path / "out")
    assert view.systems == ["rtr", "rtr-unverified", "direct"] and len(view.items) == 12
    assert set(view.facets) == {"length", "depth"}
    assert {item.facets["length"] for item in view.items} == {"400", "900"}
    totals = summary(view)
    assert totals["rtr"]["items"] == 4 and totals["rtr"]["score"] is not None
    assert page.count("everything recorded</summary>") == 12
    question = view.items[0].title
    assert question.replace("'", "&#x27;") in page
    assert not re.search(r"(src|href)=\"?https?:", page)  # nothing from elsewhere


def test_longbench_write_and_navigation_reports(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written = tmp_path / "lbw.html"
    with scripted_model(EvalWriter(1.0)):
        assert cli(["eval", "longbench-write", "--model", "fake/writer", "-n", "2",
                    "--max-length", "500", "--report", str(written)]) == 0  # fmt: skip
    page = written.read_text(encoding="utf-8")
    assert page.count("<svg") == 2 and "S_l" in page and "agentwrite" in page
    walked = tmp_path / "nav.html"
    args = ["eval", "navigation", "--model", "fake/eval", "-n", "2", "--min-hops", "4",
            "--max-hops", "6", "--strategies", "prep,react", "--out-dir", str(tmp_path / "nav"),
            "--report", str(walked)]  # fmt: skip
    with scripted_model(first_listed):
        assert cli(args) == 0
    view = load_view(tmp_path / "nav")
    assert view.metric == "success" and view.systems == ["prep", "react"]
    assert set(view.facets) == {"path length (hops)", "visibility"}
    assert walked.read_text(encoding="utf-8").count("<svg") == 3
    assert "html:" in capsys.readouterr().out


@pytest.mark.browser
def test_the_report_opens_in_a_browser_without_errors(tmp_path: Path, data_dir: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.server.test_pages import ARGS, CHROMIUM

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    report = tmp_path / "report.html"
    qa_eval(tmp_path / "out", data_dir, report)
    errors: list[Any] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1150, "height": 900})
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        assert page.locator("svg").count() == 3
        page.locator("tr.detail summary").first.click()
        assert "answers" in page.locator("tr.detail pre").first.inner_text()
        page.screenshot(path=str(tmp_path / "eval-report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert requests == [report.as_uri()]  # self-contained
