"""On-screen text read by Tesseract from the synthetic video's captions."""

from __future__ import annotations

import pytest

pytest.importorskip("av", reason="video input needs the video extra (PyAV)")

from PIL import Image

from agentrun.errors import ConfigError
from agentrun.media import Frame, Sampling, load_video, ocr
from agentrun.media.synthetic import SyntheticVideo

needs_tesseract = pytest.mark.skipif(
    not ocr.available(), reason="tesseract is not installed (Debian: apt install tesseract-ocr)"
)
#: Share of the captions' words that must be read. Measured on seeds 0-9 (one frame a scene, 10-12
#: scenes of two words each): every word was read, none missed; 0.9 leaves room for a Tesseract
#: version that reads one caption differently without letting a broken reader pass.
MIN_WORD_ACCURACY = 0.9


@needs_tesseract
def test_most_captions_are_read_in_their_scene(silent_video: SyntheticVideo) -> None:
    frames = load_video(silent_video.path, Sampling(fps=None, scene_threshold=0.1))
    records = ocr.read_text(frames, end=frames.duration)
    found = total = 0
    for event in silent_video.events:
        seen = " ".join(r.text for r in records if event.start <= r.start < event.end).split()
        total += len(event.text.split())
        found += sum(word in seen for word in event.text.split())
    assert found / total >= MIN_WORD_ACCURACY
    assert all(0.6 <= w.confidence <= 1 for r in records for w in r.words)


@needs_tesseract
def test_text_that_stays_on_screen_is_one_record(silent_video: SyntheticVideo) -> None:
    first = silent_video.events[0]
    frames = load_video(silent_video.path, Sampling(fps=1.0, scene_threshold=None))
    in_first_scene = [f for f in frames if f.timestamp < first.end]
    records = ocr.read_text(in_first_scene, end=first.end)
    captions = [r for r in records if first.text in r.text]
    assert len(captions) == 1
    assert (captions[0].start, captions[0].end) == (0.0, first.end)


@needs_tesseract
def test_a_blank_frame_has_no_text() -> None:
    blank = Frame(0.0, Image.new("RGB", (320, 240), (240, 240, 240)), "blank", 0)
    assert ocr.read_text([blank]) == []


def test_a_missing_tesseract_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pytesseract = pytest.importorskip("pytesseract")
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    ocr.available.cache_clear()
    try:
        assert not ocr.available()
        blank = Image.new("RGB", (64, 64))
        with pytest.raises(ConfigError, match="apt install tesseract-ocr"):
            ocr.read_words(blank)
    finally:
        ocr.available.cache_clear()
