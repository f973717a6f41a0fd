"""No invented text: silence, noise and tones give none, with and without VAD; long silences
inside and after speech stay silent; decoder loops are cut, real repetition is kept."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from audiotext import audio
from audiotext.engine import Engine, Segment
from audiotext.engine.hallucination import checked, confidence, invented, without_loop

from helpers import SPOKEN_TEXT, transcribed
from wer import wer

REPEATED_SECONDS = 180
NOT_SPEECH = {
    "silence": ["trim", "0", "20"],
    "white-noise": ["synth", "20", "whitenoise", "vol", "0.5"],
    "pink-noise": ["synth", "20", "pinknoise", "vol", "0.5"],
    "tone": ["synth", "20", "sine", "440", "vol", "0.5"],
    "sweep": ["synth", "20", "sine", "300:3000", "vol", "0.4"],
}


def segment(text: str, start: float, end: float, **values: float) -> Segment:
    return Segment(id=7, start=start, end=end, text=text, **values)  # type: ignore[arg-type]


def test_stock_phrases_over_no_speech_are_dropped_and_said_ones_kept() -> None:
    assert invented(segment(" Thank you.", 0, 2, no_speech_prob=0.5, avg_logprob=-0.4))
    assert invented(segment(" You", 0, 2, no_speech_prob=0.1, avg_logprob=-0.9))
    assert not invented(segment(" Thank you.", 0, 2, no_speech_prob=0.05, avg_logprob=-0.2))
    assert invented(segment(" 2.5kg 5.5kg", 0, 9, no_speech_prob=0.81, avg_logprob=-0.47))
    assert not invented(segment(" Ask not.", 0, 2, no_speech_prob=0.2, avg_logprob=-0.6))
    # base's sign-off over a tone sweep, and the same words said with confidence.
    assert invented(segment(" That's all.", 0, 2, no_speech_prob=0.44, avg_logprob=-1.18))
    assert not invented(segment(" That's all.", 0, 2, no_speech_prob=0.05, avg_logprob=-0.3))


def test_a_decoder_loop_is_cut_and_flagged_and_real_repetition_is_kept() -> None:
    loop = segment(" I think so." + " the end of it" * 12, 0.0, 6.0)
    cut = without_loop(loop)
    assert cut is not None and cut.repetition_cut and cut.confidence == "low"
    assert cut.text == " I think so. the end of it"
    said = segment(" We need to finish the report." * 5, 0.0, 15.0, compression_ratio=3.1)
    assert without_loop(said) is None  # two words a second: someone said it five times
    doubtful = segment(" We need to finish the report." * 5, 0.0, 15.0, avg_logprob=-1.1)
    assert without_loop(doubtful) is not None
    tone = " I don't know how to do it, but" * 3
    assert invented(segment(tone, 0, 20, no_speech_prob=0.33, avg_logprob=-0.94))
    assert not invented(segment(tone, 0, 20, no_speech_prob=0.1, avg_logprob=-0.3))
    twice = " I don't know what to do with it, but I don't know what to do with it."
    assert invented(segment(twice, 0, 20, no_speech_prob=0.32, avg_logprob=-1.11))
    assert not invented(segment(twice, 0, 20, no_speech_prob=0.32, avg_logprob=-0.9))


def test_every_segment_says_how_far_it_can_be_trusted() -> None:
    assert confidence(segment(" a", 0, 1, avg_logprob=-0.2, no_speech_prob=0.05)) == "high"
    assert confidence(segment(" a", 0, 1, avg_logprob=-0.7)) == "medium"
    assert confidence(segment(" a", 0, 1, compression_ratio=2.2)) == "medium"
    assert confidence(segment(" a", 0, 1, avg_logprob=-1.3)) == "low"
    kept = list(checked(iter([segment(" You", 0, 1, avg_logprob=-0.9), segment(" Hi", 1, 2)])))
    assert [(s.id, s.text, s.confidence) for s in kept] == [(0, " Hi", "high")]


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("not-speech")
    files = {}
    for name, effect in NOT_SPEECH.items():
        files[name] = folder / f"{name}.wav"
        subprocess.run(
            ["sox", "-R", "-n", "-r", "16000", "-c", "1", str(files[name]), *effect], check=True
        )
    speech = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-s", "140", "-w", str(speech), SPOKEN_TEXT], check=True)
    mono = folder / "speech-16k.wav"
    subprocess.run(["sox", str(speech), "-r", "16000", "-c", "1", str(mono)], check=True)
    silence = folder / "silence-30.wav"
    subprocess.run(
        ["sox", "-n", "-r", "16000", "-c", "1", str(silence), "trim", "0", "30"], check=True
    )
    files["gaps"] = folder / "gaps.wav"
    parts = [mono, silence, mono, silence, mono]
    subprocess.run(["sox", *map(str, parts), str(files["gaps"])], check=True)
    files["trailing"] = folder / "trailing.wav"
    subprocess.run(["sox", str(mono), str(files["trailing"]), "pad", "0", "120"], check=True)
    files["repeated"] = folder / "repeated.wav"
    seconds = float(
        subprocess.run(["soxi", "-D", str(mono)], capture_output=True, text=True).stdout
    )
    times = int(REPEATED_SECONDS / seconds) + 1
    subprocess.run(
        ["sox", str(mono), str(files["repeated"]), "repeat", str(times - 1),
         "trim", "0", str(REPEATED_SECONDS)],
        check=True,
    )  # fmt: skip
    files["repeated-times"] = Path(str(times))
    return files


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "vad", "name"),
    [
        *(("tiny.en", vad, name) for vad in (True, False) for name in NOT_SPEECH),
        *(("base", False, name) for name in ("silence", "tone", "sweep")),
    ],
)
def test_what_is_not_speech_gives_no_text(
    engine: Engine, recordings: dict[str, Path], name: str, vad: bool, model: str
) -> None:
    result = transcribed(engine, recordings[name], model=model, vad_filter=vad)
    assert result.text == "", [(s.text, s.no_speech_prob, s.avg_logprob) for s in result.segments]


@pytest.mark.slow
def test_silences_inside_and_after_speech_stay_silent(
    engine: Engine, recordings: dict[str, Path]
) -> None:
    gaps = transcribed(engine, recordings["gaps"])
    assert wer(" ".join([SPOKEN_TEXT] * 3), gaps.text) <= 0.15, gaps.text
    length = (audio.probe(recordings["gaps"]).duration or 0) - 60
    spoken = length / 3
    for gap in ((spoken, spoken + 30), (2 * spoken + 30, 2 * spoken + 60)):
        inside = [s for s in gaps.segments if gap[0] + 1 < s.start and s.end < gap[1] - 1]
        assert not inside, inside
    trailing = transcribed(engine, recordings["trailing"], vad_filter=False)
    assert wer(SPOKEN_TEXT, trailing.text) <= 0.15, trailing.text
    assert all(s.start < spoken + 1 for s in trailing.segments), trailing.segments


@pytest.mark.slow
def test_one_phrase_said_again_and_again_is_all_kept(
    engine: Engine, recordings: dict[str, Path]
) -> None:
    # Every 30 s window holds the phrase seven times: it compresses as well as a decoder
    # loop does, and none of it may be cut. (Whisper's own fallback then samples at higher
    # temperatures, so the words vary from run to run: measured 0.02 to 0.17 WER here.)
    result = transcribed(engine, recordings["repeated"], word_timestamps=False)
    times = int(str(recordings["repeated-times"]))
    assert not any(s.repetition_cut for s in result.segments)
    said = " ".join([SPOKEN_TEXT] * times)
    assert len(result.text.split()) >= 0.75 * len(said.split())  # nothing large left out
    assert wer(said, result.text) <= 0.3
