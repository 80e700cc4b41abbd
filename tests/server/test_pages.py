"""The web pages in headless Chromium: they load without console errors, the run page follows a
run while it streams, and answering its question there resumes the run. Screenshots are kept
in the test's folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentrun.agents.fake_server import FakeOpenAIServer
from agentrun.client import Client
from agentrun.server.config import ServerSettings
from tests.server.conftest import ALICE, TOKENS, live_server

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("AGENTRUN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]  # fmt: skip

REVIEW = """\
version: agentrun/v1
name: review
models:
  default: {{model: openai/fake, api_base: '{url}', context_window: 4096}}
nodes:
  - id: research
    agent: {{prompt: "Research the harbours of the coast."}}
  - id: outline
    agent: {{prompt: "Outline a brief on the harbours."}}
  - id: harbour
    human:
      question: "Which harbour should the brief cover?"
      schema: {{type: string, enum: [Saltmere, Wend]}}
  - id: brief
    agent: {{prompt: "Write the brief on {{{{ state.harbour }}}}."}}
edges:
  - {{from: research, to: outline}}
  - {{from: outline, to: harbour}}
  - {{from: harbour, to: brief}}
outputs:
  brief: "{{{{ state.brief }}}}"
"""


def reply(body: dict[str, Any]) -> str:
    prompt = str(body["messages"][-1]["content"])
    if prompt.startswith("Write the brief on"):
        return (
            prompt.removeprefix("Write the brief on ").rstrip(".") + " harbour was built in 1871."
        )
    return "Notes <b>not markup</b>: " + prompt


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set AGENTRUN_CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


class Console:
    """Console errors and uncaught exceptions of a page."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.errors.append(
            message.text))  # fmt: skip
        page.on("pageerror", lambda error: self.errors.append(str(error)))


def sign_in(page: Any, url: str) -> None:
    page.goto(url + "/ui/runs")
    page.wait_for_url("**/ui/login")
    page.fill("#token", ALICE)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/runs")


def test_the_run_page_follows_a_run_and_its_form_resumes_it(
    browser: Any, served: Path, data_dir: Path, tmp_path: Path
) -> None:
    with FakeOpenAIServer(reply=reply, latency_s=1.0) as model:
        (served / "review.yaml").write_text(REVIEW.format(url=model.url), encoding="utf-8")
        with (
            live_server(served, ServerSettings(data_dir=data_dir, tokens=TOKENS)) as url,
            Client(url, ALICE) as client,
        ):
            page = browser.new_page(viewport={"width": 1100, "height": 1000})
            console = Console(page)
            sign_in(page, url)
            run = client.start("review")
            page.goto(f"{url}/ui/runs/{run.id}")
            page.wait_for_selector("#timeline svg text >> text=research")
            assert page.inner_text("#run-status") == "running"
            page.wait_for_selector("#timeline svg text >> text=outline")  # came live
            page.screenshot(path=str(tmp_path / "run-page-streaming.png"), full_page=True)

            page.wait_for_selector("#question:not([hidden])")
            assert page.inner_text("#question-text") == "Which harbour should the brief cover?"
            assert page.inner_text("#run-status") == "waiting"
            assert "research" in page.inner_text("#calls")
            assert page.locator("#calls b").count() == 0  # model text shown as text
            assert console.errors == []
            page.fill("#answer", "Atlantis")
            page.click("#answer-form button")
            page.wait_for_selector("#answer-error >> text=is not one of")
            assert len(console.errors) == 1 and "status of 422" in console.errors[0]
            console.errors.clear()  # the browser logs the refusal itself; nothing else
            assert client.get(run.id).status == "waiting"
            page.screenshot(path=str(tmp_path / "run-page-question.png"), full_page=True)

            page.fill("#answer", "Wend")
            page.click("#answer-form button")
            page.wait_for_selector("#run-status >> text=done", timeout=30_000)
            page.wait_for_selector("#outputs >> text=Wend harbour was built in 1871.")
            page.wait_for_selector("#timeline svg text >> text=brief")
            assert client.get(run.id).outputs == {"brief": "Wend harbour was built in 1871."}
            assert page.locator("#graph").evaluate("image => image.naturalWidth") > 0
            assert "research --> outline" in page.text_content("#mermaid")
            page.screenshot(path=str(tmp_path / "run-page.png"), full_page=True)

            page.goto(url + "/ui/runs")
            page.wait_for_selector(f"#runs a >> text={run.id}")
            page.screenshot(path=str(tmp_path / "runs-page.png"), full_page=True)
            assert console.errors == []
