"""Speech in a video's audio track, recognised offline by PocketSphinx, as timestamped text.

Optional: agentrun imports without pocketsphinx, and `available()` says whether recognition can
run. PocketSphinx ships its US English acoustic model, language model and dictionary inside the
package (`pocketsphinx.get_model_path()`), which `Decoder()` loads by default: nothing is
downloaded. The track is decoded and resampled to 16 kHz mono by PyAV (`agentrun.media.audio`),
split into utterances by PocketSphinx's voice activity detector (`Endpointer`), and each
utterance is decoded whole (at most `max_utterance_s` seconds, so memory stays bounded).
PocketSphinx is small and fast rather than accurate: expect the gist, not a transcript.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from collections.abc import Iterator
from typing import Any

from agentrun.errors import ConfigError
from agentrun.media.audio import BYTES_PER_SAMPLE, SAMPLE_RATE, has_audio, pcm_chunks
from agentrun.media.container import VIDEO_HINT, MediaFile, MediaLimits, open_media, require_av
from agentrun.media.timed_text import TimedText, TimedWord

_ALTERNATE = re.compile(r"\(\d+\)$")  # "read(2)": the dictionary's second pronunciation
BYTES_PER_S = SAMPLE_RATE * BYTES_PER_SAMPLE


@functools.cache
def available() -> bool:
    """Whether PyAV and pocketsphinx are both installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("av", "pocketsphinx"))


def _decoder() -> Any:
    if importlib.util.find_spec("pocketsphinx") is None:
        raise ConfigError(f"speech recognition needs pocketsphinx: {VIDEO_HINT}")
    import pocketsphinx

    return pocketsphinx.Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")


def transcribe(
    path: str | os.PathLike[str],
    *,
    limits: MediaLimits | None = None,
    max_utterance_s: float = 20.0,
) -> list[TimedText]:
    """The utterances spoken in the file's first audio track (none without one), in order."""
    require_av()
    decoder = _decoder()
    with open_media(path, limits or MediaLimits()) as media:
        if not has_audio(media):
            return []
        return [
            record
            for start, pcm in _utterances(media, max_utterance_s)
            if (record := _recognise(decoder, pcm, start)) is not None
        ]


def _utterances(media: MediaFile, max_utterance_s: float) -> Iterator[tuple[float, bytes]]:
    """(start time, PCM) of each stretch of speech the voice activity detector finds."""
    from pocketsphinx import Endpointer

    endpointer = Endpointer(sample_rate=SAMPLE_RATE)
    size = endpointer.frame_bytes
    pending = bytearray()
    speech = bytearray()
    origin: float | None = None
    start = 0.0
    continued = False  # the speech goes on past a cut made at max_utterance_s
    for chunk_start, data in pcm_chunks(media):
        origin = chunk_start if origin is None else origin
        pending += data
        while len(pending) >= size:
            voiced = endpointer.process(bytes(pending[:size]))
            del pending[:size]
            if voiced is None:
                continue
            if not speech and not continued:
                start = origin + endpointer.speech_start
            speech += voiced
            continued = endpointer.in_speech
            if not continued or len(speech) >= max_utterance_s * BYTES_PER_S:
                yield start, bytes(speech)
                start += len(speech) / BYTES_PER_S
                speech.clear()
    # end_stream needs at least one sample: when the audio filled its last frame exactly, one
    # sample of silence (after the end) closes the stream instead.
    voiced = endpointer.end_stream(bytes(pending) or bytes(BYTES_PER_SAMPLE))
    if voiced is not None:
        speech += voiced
    if speech:
        yield start, bytes(speech)


def _recognise(decoder: Any, pcm: bytes, start: float) -> TimedText | None:
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    if decoder.hyp() is None:
        return None
    frame_rate = float(decoder.config["frate"])
    words = tuple(
        TimedWord(
            _ALTERNATE.sub("", segment.word),
            start + segment.start_frame / frame_rate,
            start + (segment.end_frame + 1) / frame_rate,
            segment.prob,  # the word's posterior probability
        )
        for segment in decoder.seg()
        if not segment.word.startswith(("<", "[")) and segment.word != "<sil>"
    )
    if not words:
        return None
    text = " ".join(word.word for word in words)
    return TimedText("speech", start, words[-1].end, text, words)
