"""Long-video input: frames sampled from videos or image folders, in time order.

Decoding needs the `video` extra (`pip install "agentrun[video]"`: PyAV, pytesseract,
pocketsphinx); importing this package does not. Bad input files raise `InputFileError`.
"""

from agentrun.media.container import MediaLimits
from agentrun.media.frames import Frame, FrameSequence, Segment, evenly_spaced
from agentrun.media.images import load_images
from agentrun.media.video import Sampling, iter_video_frames, load_video

__all__ = [
    "Frame",
    "FrameSequence",
    "MediaLimits",
    "Sampling",
    "Segment",
    "evenly_spaced",
    "iter_video_frames",
    "load_images",
    "load_video",
]
