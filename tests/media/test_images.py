"""Image folders and lists of image paths become frame sequences like sampled video."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from agentrun.errors import InputFileError, UsageError
from agentrun.media import MediaLimits, load_images


def write_images(folder: Path, names: list[str], size: tuple[int, int] = (40, 30)) -> None:
    folder.mkdir(exist_ok=True)
    for number, name in enumerate(names):
        Image.new("RGB", size, (number * 20, 0, 0)).save(folder / name)


def test_a_folder_is_read_in_natural_name_order_at_the_given_rate(tmp_path: Path) -> None:
    write_images(tmp_path / "shots", ["frame10.png", "frame2.jpg", "frame1.webp", "Frame3.PNG"])
    (tmp_path / "shots" / "notes.txt").write_text("not an image")
    (tmp_path / "shots" / "sub").mkdir()
    frames = load_images(tmp_path / "shots", rate=0.5)
    assert [Path(f.source).name for f in frames] == [
        "frame1.webp",
        "frame2.jpg",
        "Frame3.PNG",
        "frame10.png",
    ]
    assert frames.timestamps == [0.0, 2.0, 4.0, 6.0]
    assert frames.duration == 8.0
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert frames.source == str(tmp_path / "shots")


def test_a_list_keeps_its_order_and_numbers_the_frames(tmp_path: Path) -> None:
    write_images(tmp_path, ["b.png", "a.png", "c.png"])
    frames = load_images([tmp_path / "b.png", tmp_path / "a.png", str(tmp_path / "c.png")])
    assert frames.timestamps == [0.0, 1.0, 2.0]
    assert [Path(f.source).name for f in frames] == ["b.png", "a.png", "c.png"]
    assert all(f.image.mode == "RGB" for f in frames)


def test_images_are_downscaled_and_turned_upright(tmp_path: Path) -> None:
    picture = Image.new("RGB", (400, 200), (0, 90, 0))
    exif = picture.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    picture.save(tmp_path / "phone.jpg", exif=exif)
    (frame,) = load_images([tmp_path / "phone.jpg"], max_side=100)
    assert frame.image.size == (50, 100)


def test_bad_image_inputs_name_the_file(tmp_path: Path) -> None:
    write_images(tmp_path, ["good.png"])
    (tmp_path / "fake.png").write_text("plain text, not a picture")
    damaged = (tmp_path / "good.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(damaged[: len(damaged) // 2])
    cases = {
        tmp_path / "fake.png": "not an image",
        tmp_path / "cut.png": "damaged image",
        tmp_path / "gone.png": "no such file",
    }
    for path, reason in cases.items():
        with pytest.raises(InputFileError, match=reason) as raised:
            load_images([tmp_path / "good.png", path])
        assert str(raised.value).startswith(str(path))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputFileError, match="holds no images"):
        load_images(empty)
    with pytest.raises(InputFileError, match="pixel limit"):
        load_images([tmp_path / "good.png"], limits=MediaLimits(max_frame_pixels=100))
    with pytest.raises(InputFileError, match="over the 1 frame limit"):
        load_images(tmp_path, limits=MediaLimits(max_frames=1))
    with pytest.raises(UsageError, match="rate must be positive"):
        load_images(tmp_path, rate=0)
