"""Synthetic videos shared by the media tests: written once a session, they take about a second."""

from __future__ import annotations

import pytest

from agentrun.media.synthetic import SyntheticVideo, espeak_available, write_synthetic_video


@pytest.fixture(scope="session")
def silent_video(tmp_path_factory: pytest.TempPathFactory) -> SyntheticVideo:
    """60 s at 320x240 and 2 frames a second, scenes of 3-8 s, no audio track."""
    folder = tmp_path_factory.mktemp("silent")
    return write_synthetic_video(folder / "scenes.mp4", seed=3, speech=False)


@pytest.fixture(scope="session")
def spoken_video(tmp_path_factory: pytest.TempPathFactory) -> SyntheticVideo:
    """20 s with a sentence spoken in each scene (skipped without espeak-ng)."""
    if not espeak_available():
        pytest.skip("espeak-ng is not installed (Debian: apt install espeak-ng)")
    folder = tmp_path_factory.mktemp("spoken")
    return write_synthetic_video(folder / "spoken.mp4", seed=5, duration_s=20.0, speech=True)
