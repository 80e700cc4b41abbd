from tests.videos import gateway, silent_video, spoken_video

__all__ = ["gateway", "silent_video", "spoken_video"]
