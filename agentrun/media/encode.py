"""Frames made ready for a vision model: resized within its limits, encoded, labelled by time.

Providers bound an image's longest side and its pixel count, and bill by size, so each frame is
shrunk (aspect kept, never enlarged) before it is encoded as JPEG (small) or PNG (lossless).
A call carries at most `max_frames` frames; more are thinned evenly. Each image part is preceded
by a text part with its timestamp, such as "[00:01:05]", so the model can say when things happen.
The parts themselves are built by `agentrun.agents.messages`, like every other image part.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from agentrun.agents.messages import Image, Message, content_parts, user
from agentrun.errors import UsageError
from agentrun.media.frames import Frame, evenly_spaced, shrunk_size

if TYPE_CHECKING:
    from PIL import Image as PILImage


@dataclass(frozen=True)
class ImageLimits:
    """How a model wants its images: size bounds, file format and the `detail` hint."""

    max_side: int | None = 768
    max_pixels: int | None = None
    format: Literal["jpeg", "png"] = "jpeg"
    quality: int = 80
    detail: Literal["auto", "low", "high"] | None = None

    def __post_init__(self) -> None:
        if self.max_side is not None and self.max_side < 1:
            raise UsageError(f"max_side must be at least 1 pixel, not {self.max_side}")
        if self.max_pixels is not None and self.max_pixels < 1:
            raise UsageError(f"max_pixels must be at least 1, not {self.max_pixels}")
        if not 1 <= self.quality <= 95:
            raise UsageError(f"JPEG quality must be between 1 and 95, not {self.quality}")


def fitted_size(width: int, height: int, limits: ImageLimits) -> tuple[int, int]:
    """The largest size within `limits` with the aspect of width x height (never larger)."""
    return shrunk_size(width, height, limits.max_side, limits.max_pixels)


def fit_image(image: PILImage.Image, limits: ImageLimits) -> PILImage.Image:
    """`image` as RGB, shrunk to fit `limits`."""
    from PIL import Image as PIL

    rgb = image if image.mode == "RGB" else image.convert("RGB")
    size = fitted_size(rgb.width, rgb.height, limits)
    return rgb if size == rgb.size else rgb.resize(size, PIL.Resampling.LANCZOS)


def encode_image(image: PILImage.Image, limits: ImageLimits) -> bytes:
    """`image` fitted to `limits` and encoded in their format."""
    buffer = io.BytesIO()
    fitted = fit_image(image, limits)
    if limits.format == "jpeg":
        fitted.save(buffer, format="JPEG", quality=limits.quality, optimize=True)
    else:
        fitted.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def frame_image(frame: Frame, limits: ImageLimits) -> Image:
    """A frame as the gateway's `Image`, ready to become an `image_url` part."""
    mime = "image/jpeg" if limits.format == "jpeg" else "image/png"
    return Image(encode_image(frame.image, limits), detail=limits.detail, mime_type=mime)


def timestamp_label(seconds: float) -> str:
    """`[HH:MM:SS]`, with tenths when the time is not a whole second: `[00:01:05.5]`."""
    tenths = round(seconds * 10)
    whole, fraction = divmod(tenths, 10)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    label = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"[{label}.{fraction}]" if fraction else f"[{label}]"


def frame_parts(
    frames: Sequence[Frame], limits: ImageLimits | None = None, max_frames: int | None = None
) -> list[str | Image]:
    """A timestamp label then the image, for each frame (thinned evenly to `max_frames`);
    pass them on to `agentrun.agents.user(...)` after the prompt text."""
    limits = limits or ImageLimits()
    chosen = evenly_spaced(frames, max_frames) if max_frames is not None else list(frames)
    parts: list[str | Image] = []
    for frame in chosen:
        parts.extend([timestamp_label(frame.timestamp), frame_image(frame, limits)])
    return parts


def frame_content(
    frames: Sequence[Frame], limits: ImageLimits | None = None, max_frames: int | None = None
) -> list[dict[str, Any]]:
    """The frames as OpenAI-style content parts: a text part with the time before each image."""
    return content_parts(*frame_parts(frames, limits, max_frames))


def frames_message(
    prompt: str,
    frames: Sequence[Frame],
    limits: ImageLimits | None = None,
    max_frames: int | None = None,
) -> Message:
    """A user message: `prompt`, then each frame's time and image."""
    return user(prompt, *frame_parts(frames, limits, max_frames))
