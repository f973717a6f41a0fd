"""The language over the whole file: stretches at pauses, one language per span, each span
transcribed in its own; with the multilingual base model shipped in packages (offline)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from openai import AsyncOpenAI
from openai.types.audio import TranscriptionVerbose

from audiotext import audio
from audiotext.engine import Engine
from audiotext.engine.base import SAMPLE_RATE
from audiotext.engine.bundled import SPLIT_MODELS, bundled_model_path, bundled_names
from audiotext.engine.languages import Span, shares, spans, stretches

from helpers import transcribed
from wer import wer

S = SAMPLE_RATE
# espeak-ng voices Whisper base tells apart (its plain French voice is often heard as Thai).
SPEECH = {
    "de": ("de", "Guten Morgen zusammen. Heute sprechen wir über das Budget für das nächste "
           "Jahr. Die Abteilung braucht drei neue Mitarbeiter, und das Projekt muss bis zum "
           "Sommer fertig sein."),
    "es": ("es", "Buenos días a todos. Hoy vamos a hablar del presupuesto del año que viene. "
           "El departamento necesita tres personas nuevas, y el proyecto tiene que terminar "
           "antes del verano."),
    "fr": ("fr+m1", "Bonjour à tous. Nous allons parler du budget de l'année prochaine, des "
           "nouvelles embauches et du calendrier des projets. Le directeur présentera les "
           "résultats du trimestre."),
    "en": ("en-us", "Good morning everyone. Today we will talk about the budget for next year. "
           "The department needs three new people, and the project must be finished before "
           "the summer."),
}  # fmt: skip


def test_stretches_end_in_pauses_and_cover_the_file() -> None:
    # Speech every 3 s for 2 s, 60 s in all.
    regions = [(i * 3 * S, (i * 3 + 2) * S) for i in range(20)]
    cut = stretches(regions, 60 * S)
    assert cut[0][0] == 0 and cut[-1][1] == 60 * S
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cut))
    for start, end, voiced in cut[:-1]:
        assert (end / S) % 3 == 2.5  # halfway into a pause
        assert start <= voiced < end and 8 <= (end - voiced) / S <= 26
    assert stretches([], 10 * S) == []


def test_spans_merge_runs_and_an_unsure_stretch_keeps_its_neighbours_language() -> None:
    detected = [
        ((0, 10 * S), "de", 0.9),
        ((10 * S, 20 * S), "nl", 0.2),  # unsure: stays German
        ((20 * S, 30 * S), "de", 0.8),
        ((30 * S, 40 * S), "fr", 0.7),
    ]
    found = spans(detected)
    assert [(s.language, s.start, s.end) for s in found] == [
        ("de", 0, 30 * S),
        ("fr", 30 * S, 40 * S),
    ]
    assert spans([((0, S), "th", 0.3), ((S, 2 * S), "fr", 0.6)])[0].language == "fr"
    speech = [(0, 25 * S), (30 * S, 35 * S)]
    assert [(x.language, x.seconds) for x in shares(found, speech)] == [("de", 25.0), ("fr", 5.0)]


def test_base_is_joined_once_from_its_packages_and_checked(tmp_path: Path) -> None:
    assert "base" in bundled_names()
    path = bundled_model_path("base", tmp_path)
    assert path is not None and path.parent == tmp_path
    assert (path / "model.bin").stat().st_size == SPLIT_MODELS["base"].size
    assert {"config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in path.iterdir()}
    stamp = (path / "model.bin").stat().st_mtime_ns
    assert bundled_model_path("base", tmp_path) == path
    assert (path / "model.bin").stat().st_mtime_ns == stamp  # not joined again


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("languages")
    files = {}
    for language, (voice, text) in SPEECH.items():
        raw, padded = folder / f"{language}-raw.wav", folder / f"{language}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text], check=True)
        subprocess.run(
            ["sox", str(raw), "-r", "16000", "-c", "1", str(padded), "pad", "0", "1"], check=True
        )
        files[language] = padded
    mixed = folder / "mixed.wav"
    subprocess.run(["sox", *map(str, files.values()), str(mixed)], check=True)
    noise = folder / "noise.wav"
    subprocess.run(
        ["sox", "-R", "-n", "-r", "16000", "-c", "1", str(noise), "synth", "45", "pinknoise",
         "vol", "0.3"],
        check=True,
    )  # fmt: skip
    late = folder / "noise-then-french.wav"
    subprocess.run(["sox", str(noise), str(files["fr"]), str(late)], check=True)
    return {**files, "mixed": mixed, "late": late}


@pytest.mark.slow
def test_a_file_that_switches_language_is_transcribed_span_by_span(
    engine: Engine, spoken: dict[str, Path]
) -> None:
    mixed = transcribed(engine, spoken["mixed"], model="base")
    assert mixed.languages is not None
    assert {share.language for share in mixed.languages} == set(SPEECH)
    order = [s.language for s in mixed.segments]
    assert [lang for i, lang in enumerate(order) if i == 0 or order[i - 1] != lang] == list(SPEECH)
    offset = 0.0
    for language in SPEECH:
        length = audio.probe(spoken[language]).duration or 0.0
        span = " ".join(
            s.text.strip()
            for s in mixed.segments
            if s.language == language and offset - 0.5 <= s.start < offset + length
        )
        alone = transcribed(engine, spoken[language], model="base", language=language).text
        reference = SPEECH[language][1]
        assert wer(reference, span) <= wer(reference, alone) + 0.1, (language, span, alone)
        offset += length


@pytest.mark.slow
def test_the_language_is_the_speech_s_not_the_noise_before_it(
    engine: Engine, spoken: dict[str, Path]
) -> None:
    late = transcribed(engine, spoken["late"], model="base")
    assert late.language == "fr", late.languages
    asked = transcribed(engine, spoken["mixed"], model="base", language="de")
    assert asked.languages is None and asked.language == "de"  # an explicit language wins
    assert all(s.language is None for s in asked.segments)


def test_spans_are_samples_of_the_file() -> None:
    span = Span(16_000, 48_000, "de", 0.9)
    assert span.seconds == 2.0


@pytest.mark.slow
async def test_the_languages_reach_the_job_and_verbose_json(
    client: httpx.AsyncClient, spoken: dict[str, Path]
) -> None:
    api = AsyncOpenAI(
        base_url="http://audiotext.test/v1", api_key="local", http_client=client, max_retries=0
    )
    assert "base" in [m.id async for m in api.models.list()]
    raw = await api.audio.transcriptions.with_raw_response.create(
        model="base", file=spoken["late"].open("rb"), response_format="verbose_json"
    )
    body = json.loads(raw.text)
    TranscriptionVerbose.model_validate(body)
    assert body["language"] == "french" and body["languages"][0]["language"] == "fr"
    job = (await client.get("/api/v1/job/read?limit=1")).json()["items"][0]
    assert job["language"] == "fr" and job["model"] == "base"
    assert job["languages"][0]["language"] == "fr" and job["languages"][0]["seconds"] > 5
    stored = (await client.get(f"/api/v1/job/{job['id']}/transcript?format=json")).json()
    assert stored["languages"][0]["language"] == "fr"
    assert {s.get("language") for s in stored["segments"]} == {"fr"}


@pytest.mark.slow
def test_the_cli_finds_the_language_and_translates_from_it(spoken: dict[str, Path]) -> None:
    audiotext = Path(sys.executable).parent / "audiotext"

    def cli(*args: str) -> str:
        done = subprocess.run(
            [str(audiotext), "transcribe", str(spoken["de"]), "--model", "base", "-q", *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    transcript = json.loads(cli("--format", "json"))
    assert transcript["language"] == "de" and transcript["languages"][0]["language"] == "de"
    assert wer(SPEECH["de"][1], transcript["text"]) <= 0.35
    english = cli("--task", "translate")
    assert {"morning", "today", "year"} <= set(
        english.lower().replace(",", " ").replace(".", " ").split()
    )
