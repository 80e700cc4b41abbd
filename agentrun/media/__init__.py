"""Long-video input: frames sampled from videos or image folders, made ready for vision models,
and the text a video carries (on screen and spoken) as timestamped records.

Decoding needs the `video` extra (`pip install "agentrun[video]"`: PyAV, pytesseract,
pocketsphinx); importing this package does not. Bad input files raise `InputFileError`.
"""

from agentrun.media.container import MediaLimits
from agentrun.media.encode import (
    ImageLimits,
    encode_image,
    fit_image,
    frame_content,
    frame_parts,
    frames_message,
    timestamp_label,
)
from agentrun.media.frames import Frame, FrameSequence, Segment, evenly_spaced
from agentrun.media.images import load_images
from agentrun.media.timed_text import TimedText, TimedWord, merge_repeats
from agentrun.media.video import Sampling, iter_video_frames, load_video

__all__ = [
    "Frame",
    "FrameSequence",
    "ImageLimits",
    "MediaLimits",
    "Sampling",
    "Segment",
    "TimedText",
    "TimedWord",
    "encode_image",
    "evenly_spaced",
    "fit_image",
    "frame_content",
    "frame_parts",
    "frames_message",
    "iter_video_frames",
    "load_images",
    "load_video",
    "merge_repeats",
    "timestamp_label",
]
