"""The video extra is optional: agentrun.media imports without it and says how to install it."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from agentrun.errors import ConfigError


def test_without_the_video_extra_decoding_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("av", "pytesseract", "pocketsphinx"):
        monkeypatch.setitem(sys.modules, name, None)  # import and find_spec now fail
    media = importlib.import_module("agentrun.media")
    from agentrun.media import ocr, speech

    ocr.available.cache_clear()
    speech.available.cache_clear()
    try:
        assert not ocr.available() and not speech.available()
        video = tmp_path / "clip.mp4"
        video.write_bytes(b"\x00" * 64)
        for read in (media.load_video, speech.transcribe):
            with pytest.raises(ConfigError, match=r'pip install "agentrun\[video\]"'):
                read(video)
        with pytest.raises(ConfigError, match="pytesseract"):
            ocr.read_words(object())  # type: ignore[arg-type]
    finally:
        ocr.available.cache_clear()
        speech.available.cache_clear()
