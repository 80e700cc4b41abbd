"""Synthetic videos and a scripted VLM for the long-video tests (a video takes 1-2 s to write)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentrun.agents import Gateway, GatewayConfig
from agentrun.media.synthetic import SyntheticVideo, espeak_available, write_synthetic_video

#: The model name the scripted VLM answers to in these tests.
VLM = "fake/vlm"


@pytest.fixture(scope="session")
def silent_video(tmp_path_factory: pytest.TempPathFactory) -> SyntheticVideo:
    """60 s, 320x240, scenes of 3-8 s, no audio."""
    pytest.importorskip("av", reason="video input needs the video extra (PyAV)")
    folder = tmp_path_factory.mktemp("silent")
    return write_synthetic_video(folder / "scenes.mp4", seed=3, speech=False)


@pytest.fixture(scope="session")
def spoken_video(tmp_path_factory: pytest.TempPathFactory) -> SyntheticVideo:
    """20 s with a sentence spoken in each scene (skipped without espeak-ng)."""
    pytest.importorskip("av", reason="video input needs the video extra (PyAV)")
    if not espeak_available():
        pytest.skip("espeak-ng is not installed (Debian: apt install espeak-ng)")
    folder = tmp_path_factory.mktemp("spoken")
    return write_synthetic_video(folder / "spoken.mp4", seed=5, duration_s=20.0, speech=True)


@pytest.fixture
def gateway(data_dir: Path) -> Iterator[Gateway]:
    with Gateway(GatewayConfig(), data_dir=data_dir, cache=False) as opened:
        yield opened


def copy_of(video: SyntheticVideo, folder: Path) -> Path:
    """The same video under another name (its content, hence its fingerprint, unchanged)."""
    target = folder / f"copy-{video.path.name}"
    target.write_bytes(video.path.read_bytes())
    return target


def resources(gateway: Gateway, **extra: Any) -> dict[str, Any]:
    from langgraph.checkpoint.memory import InMemorySaver

    from agentrun.memory import in_memory_store

    return {"gateway": gateway, "store": in_memory_store(), "checkpointer": InMemorySaver()} | extra
