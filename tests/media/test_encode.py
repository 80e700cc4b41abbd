"""Frames made model-ready: size limits, JPEG/PNG encoding, the frame cap and timestamped parts."""

from __future__ import annotations

import base64
import io
import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from agentrun.agents import Gateway
from agentrun.agents.testing import scripted_model
from agentrun.errors import UsageError
from agentrun.media import (
    Frame,
    ImageLimits,
    encode_image,
    frame_content,
    frames_message,
    timestamp_label,
)
from agentrun.media.encode import fitted_size


def frame_at(seconds: float, size: tuple[int, int] = (640, 360)) -> Frame:
    return Frame(seconds, Image.new("RGB", size, (200, 30, 30)), "clip.mp4", round(seconds))


def seconds_of(label: str) -> float:
    hours, minutes, seconds = label.strip("[]").split(":")
    return 3600 * int(hours) + 60 * int(minutes) + float(seconds)


def decoded(url: str) -> Image.Image:
    header, data = url.split(",", 1)
    assert header.endswith(";base64")
    return Image.open(io.BytesIO(base64.b64decode(data)))


@given(
    st.integers(1, 5000),
    st.integers(1, 5000),
    st.one_of(st.none(), st.integers(16, 2048)),
    st.one_of(st.none(), st.integers(256, 4_000_000)),
)
def test_fitted_size_stays_within_both_limits_keeping_the_aspect(
    width: int, height: int, max_side: int | None, max_pixels: int | None
) -> None:
    limits = ImageLimits(max_side=max_side, max_pixels=max_pixels)
    fitted_w, fitted_h = fitted_size(width, height, limits)
    assert fitted_w <= width and fitted_h <= height
    if max_side is not None:
        assert max(fitted_w, fitted_h) <= max(max_side, 1)
    if max_pixels is not None and min(fitted_w, fitted_h) > 1:
        assert fitted_w * fitted_h <= max_pixels
    if (fitted_w, fitted_h) != (width, height) and min(fitted_w, fitted_h) > 20:
        assert fitted_w / fitted_h == pytest.approx(width / height, rel=0.1)


def test_jpeg_and_png_encodings_respect_the_limits() -> None:
    picture = Image.new("RGB", (1920, 1080), (10, 120, 200))
    jpeg = encode_image(picture, ImageLimits(max_side=512, quality=70))
    assert jpeg.startswith(b"\xff\xd8")
    assert Image.open(io.BytesIO(jpeg)).size == (512, 288)
    png = encode_image(picture, ImageLimits(max_side=None, max_pixels=100_000, format="png"))
    assert png.startswith(b"\x89PNG")
    width, height = Image.open(io.BytesIO(png)).size
    assert width * height <= 100_000 and width / height == pytest.approx(16 / 9, rel=0.01)
    small = Image.new("RGB", (100, 50))
    assert Image.open(io.BytesIO(encode_image(small, ImageLimits()))).size == (100, 50)
    with pytest.raises(UsageError):
        ImageLimits(quality=100)


def test_lower_quality_gives_smaller_jpegs() -> None:
    noisy = Image.effect_noise((256, 256), 60).convert("RGB")
    assert len(encode_image(noisy, ImageLimits(quality=30))) < len(
        encode_image(noisy, ImageLimits(quality=90))
    )


@pytest.mark.parametrize(
    ("seconds", "label"),
    [(0, "[00:00:00]"), (65, "[00:01:05]"), (3723.5, "[01:02:03.5]"), (59.96, "[00:01:00]")],
)
def test_timestamp_labels(seconds: float, label: str) -> None:
    assert timestamp_label(seconds) == label


def test_content_parts_put_the_time_before_each_image() -> None:
    frames = [frame_at(0.0), frame_at(65.0)]
    parts = frame_content(frames, ImageLimits(max_side=320, detail="low"))
    assert [p["type"] for p in parts] == ["text", "image_url", "text", "image_url"]
    assert [parts[0]["text"], parts[2]["text"]] == ["[00:00:00]", "[00:01:05]"]
    image_url = parts[1]["image_url"]
    assert image_url["url"].startswith("data:image/jpeg;base64,")
    assert image_url["detail"] == "low"
    assert decoded(image_url["url"]).size == (320, 180)


def test_the_frame_cap_samples_evenly() -> None:
    frames = [frame_at(float(t), (64, 36)) for t in range(0, 100, 2)]
    parts = frame_content(frames, max_frames=5)
    times = [seconds_of(p["text"]) for p in parts if p["type"] == "text"]
    assert times[0] == 0 and times[-1] == 98 and len(times) == 5
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(abs(gap - 24.5) <= 2 for gap in gaps)
    assert sum(p["type"] == "image_url" for p in parts) == 5


async def test_a_frames_message_reaches_the_model_as_parts(data_dir: Path) -> None:
    message = frames_message(
        "What happens?", [frame_at(1.5), frame_at(3.0)], ImageLimits(format="png")
    )
    with scripted_model(["a red screen"]) as fake:
        async with Gateway(data_dir=data_dir) as gateway:
            await gateway.acomplete("fake/vlm", [message])
    parts = fake.calls[0].messages[0]["content"]
    assert parts[0] == {"type": "text", "text": "What happens?"}
    assert [p.get("text") for p in parts[1::2]] == ["[00:00:01.5]", "[00:00:03]"]
    assert all(p["image_url"]["url"].startswith("data:image/png") for p in parts[2::2])
