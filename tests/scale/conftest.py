"""A local Ray cluster of two nodes for the session: a head and a second node, each its own
`ray start` process on loopback, stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services import RayCluster, ray_executable


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    pytest.importorskip("ray")
    if ray_executable() is None:
        pytest.skip("the `ray` command is not installed")
    cluster = RayCluster(tmp_path_factory.mktemp("ray"), env={"FAKE_KEY": "sk-test"})
    try:
        yield cluster.start()
    finally:
        cluster.stop()
