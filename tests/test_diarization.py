"""Who spoke, with the real speaker network, on conversations of clearly different voices."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import pytest

from audiotext import audio, sharding
from audiotext.config import Settings
from audiotext.diarization import DiarizeOptions, SpeakerModels, default_path
from audiotext.engine import EngineRegistry, TranscribeOptions, Transcript
from audiotext.pipeline import transcribe_file

from helpers import (
    LINES,
    VOICES,
    Conversation,
    final,
    free_port,
    live_server,
    make_settings,
    running_app,
    speak,
    wait_for,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engines() -> EngineRegistry:
    assert default_path().is_file(), "make install puts the speaker model there"
    return EngineRegistry(Settings(cpu_threads=2))


def diarized(engines: EngineRegistry, path: Path, **counts: int) -> Transcript:
    return transcribe_file(
        engines.get(),
        path,
        TranscribeOptions(model="tiny.en"),
        diarizer=engines.speakers.get(),
        speakers=DiarizeOptions(**counts),
    )


def assert_each_voice_is_one_speaker(transcript: Transcript, conversation: Conversation) -> None:
    """Each voice is one speaker, numbered in order of appearance; almost every word is right."""
    assert transcript.speakers is not None
    assert [s.id for s in transcript.speakers] == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_02"]
    words = [w for s in transcript.segments for w in s.words]
    assert all(w.speaker == s.speaker for s in transcript.segments for w in s.words)
    right = 0
    for w in words:
        middle = (w.start + w.end) / 2
        voice = next((v for a, b, v in conversation.turns if a <= middle < b), None)
        right += w.speaker == f"SPEAKER_{voice:02d}"
    assert right / len(words) >= 0.9, (right, len(words))


def test_a_voice_is_nearer_itself_than_any_other_voice(tmp_path: Path) -> None:
    encoder = SpeakerModels(None).get().encoder
    embeddings = {}
    for voice in VOICES:
        for n, line in enumerate(LINES[:2]):
            path = tmp_path / f"{voice}-{n}.wav"
            speak(voice, line, path)
            samples = audio.decode(path)
            windows = encoder.embed_windows(samples, list(range(0, len(samples) - 25_600, 8_000)))
            mean = windows.mean(axis=0)
            embeddings[voice, n] = mean / np.linalg.norm(mean)
    for voice in VOICES:
        itself = float(embeddings[voice, 0] @ embeddings[voice, 1])
        others = [float(embeddings[voice, 0] @ embeddings[o, 1]) for o in VOICES if o != voice]
        assert itself > max(others), (voice, itself, others)


def test_a_conversation_of_three_voices_says_who_spoke_each_turn(
    engines: EngineRegistry, conversation: Conversation
) -> None:
    transcript = diarized(engines, conversation.path)
    assert_each_voice_is_one_speaker(transcript, conversation)
    # Speaking time is shared about evenly: 3, 3 and 2 turns of similar length.
    seconds = {s.id: s.seconds for s in transcript.speakers}
    assert seconds["SPEAKER_02"] < seconds["SPEAKER_00"] * 0.9
    # No k-means start to vary: the same labels on another run.
    again = diarized(engines, conversation.path)
    assert [(s.start, s.speaker) for s in again.segments] == [
        (s.start, s.speaker) for s in transcript.segments
    ]


def test_a_recording_in_shards_keeps_one_name_per_voice(
    engines: EngineRegistry, long_conversation: Conversation
) -> None:
    """Each shard is diarized alone (its voices come in another order in the second), and the
    stitch gives one voice one name over the whole recording."""
    duration = audio.probe(long_conversation.path).duration or 0.0
    assert sharding.shard_count(duration, 30) == 2
    transcript = transcribe_file(
        engines.get(),
        long_conversation.path,
        TranscribeOptions(model="tiny.en"),
        diarizer=engines.speakers.get(),
        shard_seconds=30,
    )
    assert_each_voice_is_one_speaker(transcript, long_conversation)
    seconds = sum(s.seconds for s in transcript.speakers or [])
    assert seconds == pytest.approx(sum(b - a for a, b, _ in long_conversation.turns), rel=0.15)


def test_the_speaker_count_can_be_bounded(
    engines: EngineRegistry, conversation: Conversation
) -> None:
    two = diarized(engines, conversation.path, max_speakers=2)
    assert two.speakers is not None and len(two.speakers) == 2


async def test_a_diarized_job_in_local_mode(
    tmp_path: Path, long_conversation: Conversation
) -> None:
    """In shards, as a long recording is: one voice keeps one name over the whole file."""
    settings = make_settings(tmp_path, shard_seconds=30)
    async with running_app(settings) as (_, client):
        data = long_conversation.path.read_bytes()
        for bad in (
            {"min_speakers": "0"},
            {"max_speakers": "21"},
            {"min_speakers": "3", "max_speakers": "2"},
        ):
            refused = await client.post(
                "/api/v1/job/transcribe",
                files={"file": ("talk.wav", data, "audio/wav")},
                data={"diarize": "true", **bad},
            )
            assert refused.status_code == 422, refused.text
        assert (await client.get("/api/v1/job/read")).json()["total"] == 0, "nothing left"
        created = await client.post(
            "/api/v1/job/transcribe",
            files={"file": ("talk.wav", data, "audio/wav")},
            data={"diarize": "true", "max_speakers": "3"},
        )
        assert created.status_code == 202, created.text
        job = await wait_for(client, created.json()["id"], final, timeout=300)
        assert job["status"] == "completed", job
        assert job["shards"]["total"] == job["shards"]["succeeded"] == 2
        transcript = f"/api/v1/job/{job['id']}/transcript"
        lines = (await client.get(transcript, params={"format": "txt"})).text.splitlines()
        assert len(lines) >= 6 and all(line.startswith("SPEAKER_0") for line in lines), lines
        assert {line.split(":")[0] for line in lines} == {"SPEAKER_00", "SPEAKER_01", "SPEAKER_02"}
        rttm = (await client.get(transcript, params={"format": "rttm"})).text.splitlines()
        assert rttm and all(line.startswith("SPEAKER ") for line in rttm)
        body = (await client.get(transcript, params={"format": "json"})).json()
        assert len(body["speakers"]) == 3
        assert_each_voice_is_one_speaker(Transcript.from_dict(body), long_conversation)
        vtt = (await client.get(transcript, params={"format": "vtt"})).text
        assert "<v SPEAKER_01>" in vtt


def test_the_cli_diarizes(conversation: Conversation) -> None:
    audiotext = Path(sys.executable).parent / "audiotext"
    done = subprocess.run(
        [str(audiotext), "transcribe", str(conversation.path), "--diarize", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    speakers = Counter(line.split(":")[0] for line in done.stdout.splitlines())
    assert set(speakers) == {"SPEAKER_00", "SPEAKER_01", "SPEAKER_02"}, done.stdout
    bad = subprocess.run(
        [str(audiotext), "transcribe", str(conversation.path), "--diarize", "--min-speakers", "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "min_speakers" in bad.stderr


async def test_the_openai_sdk_gets_diarized_json(
    tmp_path: Path, conversation: Conversation
) -> None:
    from openai import AsyncOpenAI
    from openai.types.audio import TranscriptionDiarized

    settings = make_settings(tmp_path, port=free_port())
    async with live_server(settings) as url:
        sdk = AsyncOpenAI(base_url=f"{url}/v1", api_key="unused-locally", timeout=300)
        with conversation.path.open("rb") as f:
            result = await sdk.audio.transcriptions.create(
                model="gpt-4o-transcribe-diarize", file=f, response_format="diarized_json"
            )
    # The SDK's own type, unchanged; and validated again from the JSON it came as.
    assert isinstance(result, TranscriptionDiarized)
    TranscriptionDiarized.model_validate(result.model_dump())
    assert {s.speaker for s in result.segments} == {"A", "B", "C"}
    assert result.segments[0].speaker == "A" and result.segments[0].id == "seg_0"
    assert result.usage is not None and result.usage.type == "duration"
    assert abs(result.duration - conversation.turns[-1][1]) < 0.5


def data_url(path: Path) -> str:
    return "data:audio/wav;base64," + base64.b64encode(path.read_bytes()).decode()


async def test_known_speakers_come_back_with_their_names(
    tmp_path: Path, conversation: Conversation
) -> None:
    import openai
    from openai import AsyncOpenAI

    clips = {}
    for name, voice, text in (
        ("alice", VOICES[0], "This is a short sample of my voice for the meeting notes."),
        ("bob", VOICES[1], "Here is how I sound when I talk about the weekly plans."),
    ):
        clips[name] = tmp_path / f"{name}.wav"
        speak(voice, text, clips[name])
    long_clip = tmp_path / "long.wav"
    speak(VOICES[0], " ".join(LINES[:3]), long_clip)
    settings = make_settings(tmp_path, port=free_port())
    async with live_server(settings) as url:
        sdk = AsyncOpenAI(base_url=f"{url}/v1", api_key="unused-locally", timeout=300)
        with conversation.path.open("rb") as f:
            result = await sdk.audio.transcriptions.create(
                model="gpt-4o-transcribe-diarize",
                file=f,
                response_format="diarized_json",
                known_speaker_names=["alice", "bob"],
                known_speaker_references=[data_url(clips["alice"]), data_url(clips["bob"])],
            )
        # The first turn is alice's voice, the second bob's; the third voice is unknown.
        assert result.segments[0].speaker == "alice", result.segments
        assert {s.speaker for s in result.segments} == {"alice", "bob", "C"}
        refused = [
            ({"known_speaker_names": ["alice"]}, "known_speaker_names"),
            (
                {"known_speaker_names": ["x"], "known_speaker_references": ["data:;base64,AAAA"]},
                "known_speaker_references",
            ),
            (
                {"known_speaker_names": ["x"], "known_speaker_references": [data_url(long_clip)]},
                "known_speaker_references",
            ),
        ]
        for extra, param in refused:
            with (
                conversation.path.open("rb") as f,
                pytest.raises(openai.BadRequestError) as caught,
            ):
                await sdk.audio.transcriptions.create(
                    model="whisper-1", file=f, response_format="diarized_json", **extra
                )
            assert caught.value.param == param, caught.value
        async with httpx.AsyncClient(base_url=url) as client:
            listing = (await client.get("/api/v1/job/read")).json()
    assert listing["total"] == 1, "a refused request leaves no job behind"
    uploads = list(
        (settings.resolved_storage_url and Path(settings.resolved_storage_url)).rglob("*")
    )
    assert len([u for u in uploads if u.is_file() and "speaker-" in str(u)]) == 2


def test_one_real_voice_is_one_speaker(engines: EngineRegistry, jfk: Path) -> None:
    """Real speech varies more from window to window than synthetic voices do: it must not
    be split into several speakers."""
    transcript = diarized(engines, jfk)
    assert transcript.speakers is not None and len(transcript.speakers) == 1, transcript.speakers
    assert {s.speaker for s in transcript.segments} == {"SPEAKER_00"}
