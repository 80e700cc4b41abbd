"""Speech recognised by PocketSphinx in a synthetic clip spoken by espeak-ng."""

from __future__ import annotations

import pytest

pytest.importorskip("av", reason="video input needs the video extra (PyAV)")

from agentrun.media import speech
from agentrun.media.synthetic import SyntheticVideo

needs_pocketsphinx = pytest.mark.skipif(not speech.available(), reason="pocketsphinx is missing")
#: Recall of the spoken words (every word, and the colour, shape and place of each sentence).
#: Measured on 20 s clips of seeds 0-7: all words 0.62-0.81 (mean 0.73), content words 0.17-0.56
#: (mean 0.40); this clip (seed 5): 0.78 and 0.42. PocketSphinx's small general model hears
#: espeak's synthetic voice poorly: the bounds check that recognition works and is aligned,
#: not that it is good.
MIN_RECALL_ALL = 0.5
MIN_RECALL_CONTENT = 0.25


@needs_pocketsphinx
def test_spoken_words_are_recovered_at_their_times(spoken_video: SyntheticVideo) -> None:
    utterances = speech.transcribe(spoken_video.path)
    assert len(utterances) == len(spoken_video.events)
    for heard, event in zip(utterances, spoken_video.events, strict=True):
        assert event.speech_start is not None and event.speech_end is not None
        assert abs(heard.start - event.speech_start) < 0.3
        assert heard.end <= event.speech_end + 0.3
        assert all(heard.start <= w.start < w.end <= heard.end for w in heard.words)
    heard_words = [w.word for u in utterances for w in u.words]
    spoken = [w for e in spoken_video.events for w in e.spoken]
    content = [w for e in spoken_video.events for w in (e.colour, e.shape, e.spoken[-1])]
    assert sum(w in heard_words for w in spoken) / len(spoken) >= MIN_RECALL_ALL
    assert sum(w in heard_words for w in content) / len(content) >= MIN_RECALL_CONTENT


@needs_pocketsphinx
def test_a_video_without_audio_has_no_speech(silent_video: SyntheticVideo) -> None:
    assert speech.transcribe(silent_video.path) == []


@needs_pocketsphinx
def test_audio_that_fills_its_last_frame_exactly_ends_the_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pocketsphinx import Endpointer

    from agentrun.media.audio import SAMPLE_RATE

    frame = Endpointer(sample_rate=SAMPLE_RATE).frame_bytes
    silence = bytes(frame * 50)  # nothing left over for end_stream

    def chunks(media: object) -> list[tuple[float, bytes]]:
        return [(0.0, silence)]

    monkeypatch.setattr(speech, "pcm_chunks", chunks)
    assert list(speech._utterances(object(), max_utterance_s=10.0)) == []  # type: ignore[arg-type]
