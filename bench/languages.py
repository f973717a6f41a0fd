"""Whole-file language detection and the invented-text checks: what they cost, what they do to
English accuracy.

    python bench/languages.py [--quick] [--repeats 3]

The multilingual ``base`` model (bundled, CPU int8, 2 threads, the service's defaults). Rows:

- detection: a 2 min English file and a file of four languages one after another, transcribed
  with no language (detected over the whole file, span by span) against the same audio with
  its language given (the baseline, no detection; the four-language file as its four parts,
  each alone); target ≤ 1.15;
- accuracy: WER on jfk.flac and the espeak-ng paragraph, with the checks (what the service
  returns) against the engine's own segments (the baseline); target: not worse.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchkit import audio, report
from benchkit.report import Row, fmt, print_table

from audiotext import audio as decoding
from audiotext.config import Settings
from audiotext.engine import EngineRegistry, TranscribeOptions
from audiotext.engine.base import Engine
from audiotext.pipeline import transcribe_audio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from wer import wer  # the tests' WER, one definition

TARGET_DETECTION = 1.15
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
SPANS = {
    "de": ("de", "Guten Morgen zusammen. Heute sprechen wir über das Budget für das nächste "
           "Jahr. Die Abteilung braucht drei neue Mitarbeiter."),
    "es": ("es", "Buenos días a todos. Hoy vamos a hablar del presupuesto del año que viene. "
           "El departamento necesita tres personas nuevas."),
    "fr": ("fr+m1", "Bonjour à tous. Nous allons parler du budget de l'année prochaine, des "
           "nouvelles embauches et du calendrier des projets."),
    "en": ("en-us", "Good morning everyone. Today we will talk about the budget for next "
           "year. The department needs three new people."),
}  # fmt: skip


def four_languages(folder: Path) -> Path:
    parts = []
    for language, (voice, text) in SPANS.items():
        raw, part = folder / f"{language}-raw.wav", folder / f"{language}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text], check=True)
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", str(part), "pad", "0", "1"],
                       check=True)  # fmt: skip
        parts.append(str(part))
    mixed = folder / "four-languages.wav"
    subprocess.run(["sox", *parts, str(mixed)], check=True)
    return mixed


def timed(engine: Engine, file: Path, language: str | None) -> float:
    samples = decoding.decode(file)
    started = time.perf_counter()
    transcribe_audio(engine, samples, TranscribeOptions(model="base", language=language))
    return time.perf_counter() - started


def raw_text(engine: Engine, file: Path) -> str:
    segments, _ = engine.transcribe(decoding.decode(file), TranscribeOptions(model="base"))
    return " ".join(s.text.strip() for s in segments if s.text.strip())


def main() -> int:
    repeats = report.repeats(__doc__)
    engine = EngineRegistry(Settings(cpu_threads=2)).get()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        english = audio.speech(2)
        mixed = four_languages(Path(tmp))
        timed(engine, audio.jfk(), "en")  # load the model
        parts = [(Path(tmp) / f"{language}.wav", language) for language in SPANS]
        for name, file, pieces in (
            ("2 min English", english, [(english, "en")]),
            ("four languages, 50 s (baseline: each part alone, given)", mixed, parts),
        ):
            given, detected = [], []
            for _ in range(repeats):
                given.append(sum(timed(engine, piece, language) for piece, language in pieces))
                detected.append(timed(engine, file, None))
            base, measured = statistics.median(given), statistics.median(detected)
            rows.append(
                Row(f"{name}: s, language detected", fmt(base), fmt(measured),
                    fmt(measured / base), f"≤ {TARGET_DETECTION:.2f}",
                    measured / base <= TARGET_DETECTION)
            )  # fmt: skip
        for name, file, truth in (
            ("jfk.flac", audio.jfk(), JFK_TEXT),
            ("espeak-ng paragraph, 2 min", english, None),
        ):
            checked = transcribe_audio(
                engine, decoding.decode(file), TranscribeOptions(model="base")
            ).text
            # The paragraph said over and over, cut at 2 min: as many times as fit.
            said = round(audio.duration(file) / audio.duration(audio.CACHE / "paragraph.wav"))
            reference = truth or " ".join([audio.PARAGRAPH] * said)
            before, after = wer(reference, raw_text(engine, file)), wer(reference, checked)
            rows.append(
                Row(f"{name}: WER, checked (baseline: the engine's own)", fmt(before, 3),
                    fmt(after, 3), "-", "not worse", after <= before + 0.005)
            )  # fmt: skip
    print_table(f"Languages over the whole file (base model), median of {repeats}", rows)
    return report.exit_code(rows)


if __name__ == "__main__":
    sys.exit(main())
