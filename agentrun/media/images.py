"""Image folders and lists of image paths as frame sequences, like frames sampled from a video.

A folder's png, jpg and webp files are taken in natural name order (frame2 before frame10); the
i-th image is at i / `rate` seconds (`rate` images per second, 1 by default, so 0..n-1). Images
are turned upright by their EXIF orientation and downscaled to `max_side`; an image that is
missing, not an image, damaged or too large is refused by name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from agentrun.errors import InputFileError, UsageError
from agentrun.media.container import MediaLimits, checked_file
from agentrun.media.frames import Frame, FrameSequence

if TYPE_CHECKING:
    from PIL import Image as PILImage

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp"})
_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> list[int | str]:
    """Sort key under which numbered names sort by number: frame2 < frame10."""
    return [int(part) if part.isdigit() else part.lower() for part in _DIGITS.split(name)]


def image_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The images in `folder` (not its subfolders), in natural name order."""
    directory = Path(folder)
    if not directory.is_dir():
        raise InputFileError(str(directory), "is not a folder; pass a folder of images")
    files = [
        entry
        for entry in directory.iterdir()
        if entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not files:
        raise InputFileError(str(directory), "holds no images (.png, .jpg, .jpeg or .webp)")
    return sorted(files, key=lambda entry: natural_key(entry.name))


def read_image(
    path: str | os.PathLike[str], max_side: int | None, limits: MediaLimits
) -> PILImage.Image:
    """An image file as upright RGB, its longer side at most `max_side`."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    file = checked_file(path, limits)
    try:
        with Image.open(file) as opened:
            pixels = opened.width * opened.height
            if limits.max_frame_pixels is not None and pixels > limits.max_frame_pixels:
                raise InputFileError(
                    str(file),
                    f"is {opened.width}x{opened.height}, over the {limits.max_frame_pixels:,} "
                    "pixel limit; scale it down or raise MediaLimits.max_frame_pixels",
                )
            if max_side is not None:
                opened.draft("RGB", (max_side, max_side))
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except UnidentifiedImageError:
        raise InputFileError(
            str(file), "is not an image Pillow can read; pass png, jpg or webp"
        ) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InputFileError(
            str(file), f"is a damaged image ({exc}); re-save or replace it"
        ) from None
    if max_side is not None:
        image.thumbnail((max_side, max_side))
    return image


def load_images(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    rate: float = 1.0,
    max_side: int | None = 768,
    limits: MediaLimits | None = None,
) -> FrameSequence:
    """A folder of images, or a list of image paths, as a sequence of frames `1 / rate` s apart."""
    limits = limits or MediaLimits()
    if not rate > 0:
        raise UsageError(f"rate must be positive (images per second), not {rate}")
    if isinstance(source, str | os.PathLike):
        paths, name = image_files(source), str(source)
    else:
        paths, name = [Path(p) for p in source], "images"
        if not paths:
            raise UsageError("load_images needs at least one image path")
    if limits.max_frames is not None and len(paths) > limits.max_frames:
        raise InputFileError(
            name,
            f"has {len(paths)} images, over the {limits.max_frames} frame limit; pass fewer or "
            "raise MediaLimits.max_frames",
        )
    frames = tuple(
        Frame(index / rate, read_image(path, max_side, limits), str(path), index)
        for index, path in enumerate(paths)
    )
    return FrameSequence(frames, name, len(frames) / rate)
