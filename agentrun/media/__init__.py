"""Long-video input: frames sampled from videos or image folders, made ready for vision models.

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
from agentrun.media.video import Sampling, iter_video_frames, load_video

__all__ = [
    "Frame",
    "FrameSequence",
    "ImageLimits",
    "MediaLimits",
    "Sampling",
    "Segment",
    "encode_image",
    "evenly_spaced",
    "fit_image",
    "frame_content",
    "frame_parts",
    "frames_message",
    "iter_video_frames",
    "load_images",
    "load_video",
    "timestamp_label",
]
