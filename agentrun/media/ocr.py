"""On-screen text of frames, read by Tesseract through pytesseract.

Optional: agentrun imports without pytesseract, and `available()` says whether OCR can run (the
package and the `tesseract` program, e.g. Debian's tesseract-ocr); callers that can do without
on-screen text check it and skip. Reading when it cannot run raises `ConfigError` saying what to
install. Frames are read in grey, enlarged so that text is tall enough for Tesseract; words
under `min_confidence` (shapes and textures read as letters) are dropped.
"""

from __future__ import annotations

import functools
import importlib.util
import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agentrun.errors import ConfigError
from agentrun.media.container import VIDEO_HINT
from agentrun.media.frames import Frame
from agentrun.media.timed_text import TimedText, TimedWord, merge_repeats

if TYPE_CHECKING:
    from PIL import Image as PILImage

TESSERACT_HINT = "install the tesseract program (Debian: apt install tesseract-ocr)"
MIN_HEIGHT_PX = 720  # smaller frames are enlarged to this height before reading
TIMEOUT_S = 30


@functools.cache
def available() -> bool:
    """Whether pytesseract and the tesseract program are both installed."""
    if importlib.util.find_spec("pytesseract") is None:
        return False
    import pytesseract

    return shutil.which(pytesseract.pytesseract.tesseract_cmd) is not None


def _pytesseract() -> Any:
    if importlib.util.find_spec("pytesseract") is None:
        raise ConfigError(f"on-screen text needs pytesseract: {VIDEO_HINT}")
    import pytesseract

    return pytesseract


def prepared(image: PILImage.Image) -> PILImage.Image:
    """The image in grey, enlarged (never shrunk) to at least MIN_HEIGHT_PX high."""
    from PIL import Image as PIL

    grey = image.convert("L")
    if grey.height >= MIN_HEIGHT_PX:
        return grey
    scale = MIN_HEIGHT_PX / grey.height
    return grey.resize((round(grey.width * scale), MIN_HEIGHT_PX), PIL.Resampling.BICUBIC)


def read_words(
    image: PILImage.Image, language: str = "eng", min_confidence: float = 0.6
) -> list[tuple[str, float]]:
    """The words Tesseract reads in `image`, in reading order, with confidences (0..1)."""
    tesseract = _pytesseract()
    try:
        data = tesseract.image_to_data(
            prepared(image), lang=language, output_type=tesseract.Output.DICT, timeout=TIMEOUT_S
        )
    except tesseract.TesseractNotFoundError:
        raise ConfigError(f"on-screen text needs Tesseract: {TESSERACT_HINT}") from None
    except tesseract.TesseractError as exc:
        raise ConfigError(
            f"tesseract failed ({str(exc.message).strip()}); check that the language data "
            f"for {language!r} is installed (Debian: apt install tesseract-ocr-{language})"
        ) from None
    words = []
    for text, confidence in zip(data["text"], data["conf"], strict=True):
        score = float(confidence) / 100
        if text.strip() and score >= min_confidence:
            words.append((text.strip(), score))
    return words


def read_text(
    frames: Sequence[Frame],
    *,
    end: float | None = None,
    language: str = "eng",
    min_confidence: float = 0.6,
) -> list[TimedText]:
    """The text on screen in each frame, from its timestamp until the next frame's (the last
    until `end`, else its own time); text that stays the same across frames is one record."""
    records = []
    for position, frame in enumerate(frames):
        words = read_words(frame.image, language, min_confidence)
        if not words:
            continue
        until = frames[position + 1].timestamp if position + 1 < len(frames) else end
        stop = max(frame.timestamp, until if until is not None else frame.timestamp)
        timed = tuple(TimedWord(word, frame.timestamp, stop, score) for word, score in words)
        text = " ".join(word for word, _ in words)
        records.append(TimedText("ocr", frame.timestamp, stop, text, timed))
    return merge_repeats(records)
