"""A local Ray cluster of two nodes for the session: a head and a second node, each its own
`ray start` process on loopback, stopped at the end. The nodes' environment has the model keys
(as a real cluster's would) and points `openai/` models at a fake server of the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentrun.agents.fake_server import FakeOpenAIServer
from tests.services import RayCluster, ray_executable


@pytest.fixture(scope="session")
def cluster_model() -> Iterator[FakeOpenAIServer]:
    """The fake server `openai/<name>` reaches on every node; reset it before use."""
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="session")
def ray_cluster(
    tmp_path_factory: pytest.TempPathFactory, cluster_model: FakeOpenAIServer
) -> Iterator[RayCluster]:
    pytest.importorskip("ray")
    if ray_executable() is None:
        pytest.skip("the `ray` command is not installed")
    env = {"FAKE_KEY": "sk-test", "OPENAI_API_KEY": "sk-test", "OPENAI_API_BASE": cluster_model.url}
    cluster = RayCluster(tmp_path_factory.mktemp("ray"), env=env)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
