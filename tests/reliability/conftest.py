"""The reliability suite at CI size: the benchmarks' own code on fewer runs (marked
`reliability`; `pytest -m reliability` runs only these, `-m "not reliability"` skips them)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reliability/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.reliability)
