"""Small videos with known content, for testing and evaluating the video workflows offline.

A seeded generator draws scenes (a coloured shape drifting over a plain background, with a
caption such as "RIVER 42" in large black letters on a white band) that change at known times,
and writes them with PyAV (H.264 where PyAV's ffmpeg has libx264, else MPEG-4 Part 2; VP8 for
.webm). Where `espeak-ng` is installed, each scene also says a sentence ("look at the red circle
near the window"), mixed into an AAC (Opus for .webm) audio track. The same seed gives the same
scenes, sentences and file; the ground truth is returned as `SceneEvent`s. A 60-second video at
320x240 and 2 frames a second is about 200 KB, most of it speech.

Text is drawn with Pillow's bundled font (`ImageFont.load_default(size)`), so it looks the same
on every machine and Tesseract reads it.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from agentrun.errors import ConfigError, InputFileError, UsageError
from agentrun.media.audio import SAMPLE_RATE, pcm_chunks
from agentrun.media.container import MediaLimits, open_media, require_av

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from av.container import OutputContainer
    from PIL import Image as PILImage
    from PIL import ImageFont

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (214, 39, 40),
    "green": (30, 150, 40),
    "blue": (31, 90, 200),
    "yellow": (235, 190, 0),
    "orange": (250, 120, 10),
    "purple": (130, 60, 170),
    "black": (25, 25, 25),
    "brown": (140, 80, 30),
}
SHAPES = ("circle", "square", "triangle", "star")
# Each background differs from the next by 55-88 a channel on average, so every cut shows.
BACKGROUNDS = (
    (235, 235, 235), (120, 160, 220), (240, 225, 140), (110, 170, 120), (245, 190, 200),
    (150, 130, 190),
)  # fmt: skip
CAPTION_WORDS = (
    "RIVER", "GARDEN", "WINDOW", "MORNING", "MARKET", "SUMMER", "CANDLE", "PARROT", "ISLAND",
    "PLANET", "ROCKET", "TICKET", "FOREST", "BRIDGE", "CASTLE", "PENCIL", "BASKET", "MIRROR",
)  # fmt: skip
SPOKEN_PLACES = (
    "window", "garden", "river", "table", "door", "water", "bridge", "station", "house", "car",
)  # fmt: skip
VOICE = ("en-us+f2", "165")  # espeak-ng voice and words a minute PocketSphinx hears best
SPEECH_DELAY_S = 0.3  # from a scene's start to its sentence
AUDIO_BIT_RATE = 24_000
SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".webm"})
VideoCodec = Literal["libx264", "mpeg4", "libvpx"]
AudioCodec = Literal["aac", "libopus"]


@dataclass(frozen=True)
class SceneEvent:
    """One scene of a synthetic video: what is on screen from `start` to `end` seconds, and
    the words spoken from `speech_start` to `speech_end` (empty without speech)."""

    start: float
    end: float
    colour: str
    shape: str
    text: str
    spoken: tuple[str, ...]
    speech_start: float | None = None
    speech_end: float | None = None


@dataclass(frozen=True)
class SyntheticVideo:
    """A written synthetic video and its ground truth."""

    path: Path
    events: tuple[SceneEvent, ...]
    duration: float
    fps: float
    size: tuple[int, int]
    has_speech: bool

    @property
    def change_times(self) -> list[float]:
        """When each scene after the first begins."""
        return [event.start for event in self.events[1:]]


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def plan_scenes(
    seed: int, duration_s: float, fps: float, scene_s: tuple[float, float]
) -> list[SceneEvent]:
    """Scenes of `scene_s` seconds (min, max), on frame boundaries, each unlike the last."""
    rng = random.Random(seed)
    frames_total = round(duration_s * fps)
    shortest, longest = (max(1, round(s * fps)) for s in scene_s)
    events: list[SceneEvent] = []
    frame = 0
    previous: tuple[str, str] = ("", "")
    while frame < frames_total:
        length = rng.randint(shortest, longest)
        if frames_total - (frame + length) < shortest:
            length = frames_total - frame
        colour, shape = previous
        while (colour, shape) == previous or colour == previous[0] or shape == previous[1]:
            colour, shape = rng.choice(sorted(COLOURS)), rng.choice(SHAPES)
        previous = (colour, shape)
        word = rng.choice([w for w in CAPTION_WORDS if not events or w not in events[-1].text])
        caption = f"{word} {rng.randint(10, 99)}"
        spoken = ("look", "at", "the", colour, shape, "near", "the", rng.choice(SPOKEN_PLACES))
        events.append(
            SceneEvent(frame / fps, (frame + length) / fps, colour, shape, caption, spoken)
        )
        frame += length
    return events


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _shape_points(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if shape == "triangle":
        return [(cx + r * math.sin(a), cy - r * math.cos(a)) for a in (0, 2.094, 4.189)]
    # a five-pointed star: outer and inner corners alternate
    return [
        (cx + (r if i % 2 == 0 else r * 0.45) * math.sin(i * math.pi / 5),
         cy - (r if i % 2 == 0 else r * 0.45) * math.cos(i * math.pi / 5))
        for i in range(10)
    ]  # fmt: skip


def draw_scene(
    event: SceneEvent, background: tuple[int, int, int], size: tuple[int, int], offset: float
) -> PILImage.Image:
    """One frame of a scene; `offset` (0..1) is how far the shape has drifted across."""
    from PIL import Image, ImageDraw

    width, height = size
    band = height * 0.28
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    radius = min(width, height - band) * 0.28
    cx = width * (0.3 + 0.4 * offset)
    cy = (height - band) / 2
    colour = COLOURS[event.colour]
    box = (cx - radius, cy - radius, cx + radius, cy + radius)
    if event.shape == "circle":
        draw.ellipse(box, fill=colour)
    elif event.shape == "square":
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon(_shape_points(event.shape, cx, cy, radius), fill=colour)
    draw.rectangle((0, height - band, width, height), fill=(255, 255, 255))
    draw.text(
        (width / 2, height - band / 2),
        event.text,
        font=_font(round(band * 0.45)),
        fill=(0, 0, 0),
        anchor="mm",
    )
    return image


def _speak(text: str, folder: Path) -> npt.NDArray[np.int16]:
    """`text` spoken by espeak-ng, as 16 kHz mono samples."""
    import numpy as np

    wav = folder / "speech.wav"
    voice, speed = VOICE
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", speed, "-w", str(wav), text],
        check=True,
        capture_output=True,
        timeout=60,
    )
    with open_media(wav, MediaLimits()) as media:
        pcm = b"".join(data for _, data in pcm_chunks(media))
    return np.frombuffer(pcm, dtype=np.int16)


def _soundtrack(
    events: list[SceneEvent], duration_s: float
) -> tuple[npt.NDArray[np.int16], list[SceneEvent]]:
    """The whole audio track at 16 kHz, and the events with when their sentence is heard."""
    import numpy as np

    track = np.zeros(round(duration_s * SAMPLE_RATE), dtype=np.int16)
    timed: list[SceneEvent] = []
    with tempfile.TemporaryDirectory(prefix="agentrun-speech-") as folder:
        for event in events:
            samples = _speak(" ".join(event.spoken), Path(folder))
            first = round((event.start + SPEECH_DELAY_S) * SAMPLE_RATE)
            last = min(first + len(samples), round((event.end - 0.1) * SAMPLE_RATE))
            track[first:last] = samples[: last - first]
            timed.append(
                replace(event, speech_start=first / SAMPLE_RATE, speech_end=last / SAMPLE_RATE)
            )
    return track, timed


def _codecs(path: Path) -> tuple[VideoCodec, AudioCodec]:
    import av

    if path.suffix.lower() == ".webm":
        return "libvpx", "libopus"
    video: VideoCodec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    return video, "aac"


def _frames(
    events: Sequence[SceneEvent], size: tuple[int, int], fps: float
) -> Iterator[PILImage.Image]:
    for number, event in enumerate(events):
        background = BACKGROUNDS[number % len(BACKGROUNDS)]
        count = round((event.end - event.start) * fps)
        for i in range(count):
            yield draw_scene(event, background, size, i / count)


def _write(
    container: OutputContainer,
    path: Path,
    video_of: SyntheticVideo,
    track: npt.NDArray[np.int16] | None,
) -> None:
    from fractions import Fraction

    import av
    import numpy as np

    video_codec, audio_codec = _codecs(path)
    fps = video_of.fps
    video = container.add_stream(video_codec, rate=Fraction(fps).limit_denominator(1000))
    video.width, video.height = video_of.size
    video.pix_fmt = "yuv420p"
    video.codec_context.thread_count = 1  # one thread: the same bytes every time
    if video_codec == "libx264":
        video.codec_context.options = {"preset": "medium", "crf": "28"}
    audio = None
    if track is not None:
        audio = container.add_stream(audio_codec, rate=SAMPLE_RATE, layout="mono")
        audio.bit_rate = AUDIO_BIT_RATE
    for index, image in enumerate(_frames(video_of.events, video_of.size, fps)):
        frame = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
        frame.pts = index
        container.mux(video.encode(frame))
    container.mux(video.encode(None))
    if audio is not None and track is not None:
        sound = av.AudioFrame.from_ndarray(track.reshape(1, -1), format="s16", layout="mono")
        sound.rate = SAMPLE_RATE
        sound.pts = 0
        container.mux(audio.encode(sound))
        container.mux(audio.encode(None))


def write_synthetic_video(
    path: str | os.PathLike[str],
    *,
    seed: int = 0,
    duration_s: float = 60.0,
    size: tuple[int, int] = (320, 240),
    fps: float = 2.0,
    scene_s: tuple[float, float] = (3.0, 8.0),
    speech: bool | None = None,
) -> SyntheticVideo:
    """Write a synthetic video to `path` (.mp4, .mkv, .mov or .webm) and return its ground truth.

    `speech`: True needs espeak-ng, False writes no audio track, None speaks where it can. A
    sentence longer than its scene (with `scene_s` under 3 s) is cut at the scene's end.
    """
    require_av()
    file = Path(path)
    if file.suffix.lower() not in SUFFIXES:
        raise UsageError(f"{file}: write a {', '.join(sorted(SUFFIXES))} file")
    if size[0] % 2 or size[1] % 2 or min(size) < 64:
        raise UsageError(f"size must be even and at least 64x64 pixels, not {size}")
    if not fps > 0 or not 0 < scene_s[0] <= scene_s[1] or duration_s < scene_s[0]:
        raise UsageError("need fps > 0, 0 < scene_s[0] <= scene_s[1] <= duration_s")
    if speech and not espeak_available():
        raise ConfigError("spoken words need espeak-ng (Debian: apt install espeak-ng)")
    speaking = espeak_available() if speech is None else speech
    events = plan_scenes(seed, duration_s, fps, scene_s)
    track = None
    if speaking:
        track, events = _soundtrack(events, duration_s)
    video = SyntheticVideo(file, tuple(events), events[-1].end, fps, size, speaking)
    import av

    with av.open(str(file), mode="w") as container:
        _write(container, file, video, track)
    return video


def events_path(video: str | os.PathLike[str]) -> Path:
    """Where a synthetic video's ground truth is kept beside it: talk.mp4 -> talk.events.json."""
    return Path(video).with_suffix(".events.json")


def save_events(video: SyntheticVideo, path: str | os.PathLike[str] | None = None) -> Path:
    """Write a video's ground truth as JSON (beside it by default), for evals and checks."""
    target = Path(path) if path is not None else events_path(video.path)
    data = {
        "video": video.path.name, "duration": video.duration, "fps": video.fps,
        "size": list(video.size), "has_speech": video.has_speech,
        "events": [asdict(event) for event in video.events],
    }  # fmt: skip
    target.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return target


def load_events(path: str | os.PathLike[str]) -> tuple[SceneEvent, ...]:
    """The scenes of a ground-truth file written by `save_events`."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        return tuple(
            SceneEvent(**{**event, "spoken": tuple(event["spoken"])}) for event in data["events"]
        )
    except FileNotFoundError:
        raise InputFileError(
            str(file),
            "no such file; write a video and its events with "
            "`python -m agentrun.media.synthetic VIDEO.mp4`",
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputFileError(str(file), f"is not a ground-truth file of events ({exc})") from None


def main(
    path: Path,
    seed: int = 0,
    duration: float = 60.0,
    speech: bool | None = None,
) -> None:
    """Write a synthetic video and its ground truth (<name>.events.json) beside it."""
    video = write_synthetic_video(path, seed=seed, duration_s=duration, speech=speech)
    events = save_events(video)
    print(f"{video.path}: {len(video.events)} scenes, {video.duration:g} s; events: {events}")


if __name__ == "__main__":
    import typer

    typer.run(main)
