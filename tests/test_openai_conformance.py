"""The OpenAI endpoint as the official SDK drives it: every parameter, every response format,
streaming (sync and async), errors as the SDK's own exception classes; each body checked
against the SDK's type of it. Local mode, the real model."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from openai.types.audio import (
    Transcription,
    TranscriptionDiarized,
    TranscriptionStreamEvent,
    TranscriptionVerbose,
)
from pydantic import TypeAdapter
from starlette.datastructures import FormData

from audiotext.api.openai_form import chunking_strategy
from audiotext.jobs.decoding import decoding_options, engine_vad_parameters
from audiotext.jobs.errors import InvalidValue

from helpers import JFK_TEXT, LONG_TEXT, free_port, live_server, make_settings, new_key
from wer import normalise, wer

STREAM_EVENT: TypeAdapter[Any] = TypeAdapter(TranscriptionStreamEvent)


def sdk(url: str, **options: Any) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{url}/v1", api_key="local", max_retries=0, **options)


# --- parameters, checked before any audio is read ----------------------------------------


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"temperature": 7}, "temperature"),
        ({"response_format": "xml"}, "response_format"),
        ({"timestamp_granularities": ["char"]}, "timestamp_granularities"),
        ({"include": ["everything"]}, "include"),
        ({"language": "e n"}, "language"),
        ({"chunking_strategy": {"type": "server_vad", "threshold": 3}}, "vad_parameters.threshold"),
        ({"chunking_strategy": {"type": "semantic"}}, "chunking_strategy"),
        ({"extra_body": {"beam_size": 0}}, "beam_size"),
        ({"extra_body": {"vad_filter": "maybe"}}, "vad_filter"),
        ({"extra_body": {"hotwords": "x" * 1001}}, "hotwords"),
        ({"stream": True, "response_format": "srt"}, "stream"),
        ({"known_speaker_names": ["ann"]}, "known_speaker_names"),
    ],
)
async def test_an_invalid_parameter_is_a_400_naming_it(
    client: httpx.AsyncClient, fields: dict[str, Any], param: str
) -> None:
    api = AsyncOpenAI(
        base_url="http://audiotext.test/v1", api_key="local", http_client=client, max_retries=0
    )
    with pytest.raises(openai.BadRequestError) as caught:
        await api.audio.transcriptions.create(
            model="whisper-1", file=("a.wav", b"RIFF0000WAVE"), **fields
        )
    assert caught.value.status_code == 400
    assert caught.value.body == {
        "message": caught.value.body["message"],  # type: ignore[index]
        "type": "invalid_request_error",
        "param": param,
        "code": "invalid_value",
    }


async def test_models_are_listed_and_an_unknown_one_is_404(client: httpx.AsyncClient) -> None:
    api = AsyncOpenAI(
        base_url="http://audiotext.test/v1", api_key="local", http_client=client, max_retries=0
    )
    ids = [m.id async for m in api.models.list()]
    assert ids[0] == "tiny.en" and "whisper-1" in ids and "gpt-4o-transcribe" in ids
    model = await api.models.retrieve("whisper-1")
    assert model.object == "model" and model.owned_by == "audiotext"
    with pytest.raises(openai.NotFoundError) as caught:
        await api.models.retrieve("large-v9")
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError) as caught:
        await api.audio.transcriptions.create(model="large-v9", file=("a.wav", b"RIFF"))
    assert caught.value.code == "model_not_found" and caught.value.param == "model"


async def test_models_in_the_model_dir_are_listed(tmp_path: Path) -> None:
    (tmp_path / "models" / "base").mkdir(parents=True)
    (tmp_path / "models" / "base" / "model.bin").write_bytes(b"")
    (tmp_path / "models" / "notes").mkdir()
    settings = make_settings(tmp_path, model_dir=tmp_path / "models", port=free_port())
    async with live_server(settings) as url:
        listed = [m.id async for m in sdk(url).models.list()]
    assert "base" in listed and "notes" not in listed


async def test_error_statuses_are_the_sdks_exception_classes(tmp_path: Path, jfk: Path) -> None:
    settings = make_settings(tmp_path, port=free_port())
    async with live_server(settings) as url:
        api = sdk(url)
        with pytest.raises(openai.APIStatusError) as caught:
            await api.audio.transcriptions.create(model="whisper-1", file=("a.txt", b"hi" * 99))
        assert caught.value.status_code == 415
        with pytest.raises(openai.BadRequestError) as caught:
            await api.audio.transcriptions.create(model="whisper-1", file=("a.flac", b""))
        assert caught.value.code == "invalid_audio"
    auth = make_settings(tmp_path / "auth", auth=True, port=free_port())
    async with live_server(auth) as url:
        with pytest.raises(openai.AuthenticationError) as caught:
            await sdk(url).audio.transcriptions.create(model="whisper-1", file=jfk.open("rb"))
        assert caught.value.type == "authentication_error"


def test_chunking_strategy_sets_the_vad_of_the_request() -> None:
    def read(*items: tuple[str, str]) -> dict[str, Any]:
        return decoding_options(chunking_strategy(FormData(list(items))))

    assert read(("chunking_strategy", "auto")) == {"vad_filter": True}
    assert read() == {}
    sdk_form = read(
        ("chunking_strategy[type]", "server_vad"),
        ("chunking_strategy[threshold]", "0.6"),
        ("chunking_strategy[prefix_padding_ms]", "300"),
        ("chunking_strategy[silence_duration_ms]", "500"),
    )
    assert sdk_form == {
        "vad_filter": True,
        "vad_parameters": {"threshold": 0.6, "prefix_padding_ms": 300, "silence_duration_ms": 500},
    }
    as_json = read(("chunking_strategy", '{"type": "server_vad", "silence_duration_ms": 250}'))
    assert as_json["vad_parameters"] == {"silence_duration_ms": 250}
    assert engine_vad_parameters(sdk_form["vad_parameters"]) == {
        "threshold": 0.6,
        "speech_pad_ms": 300,
        "min_silence_duration_ms": 500,
    }
    with pytest.raises(InvalidValue) as caught:
        read(("chunking_strategy[type]", "server_vad"), ("chunking_strategy[window]", "1"))
    assert caught.value.param == "chunking_strategy"


# --- transcriptions, the real model -------------------------------------------------------


@pytest.mark.slow
async def test_every_response_format_validates_as_the_sdks_type(server_url: str, jfk: Path) -> None:
    api = sdk(server_url, timeout=120)
    async with httpx.AsyncClient(base_url=server_url, timeout=60) as seed:

        async def stored_words() -> int:
            job = (await seed.get("/api/v1/job/read?limit=1")).json()["items"][0]
            transcript = await seed.get(f"/api/v1/job/{job['id']}/transcript?format=json")
            return sum(len(s["words"]) for s in transcript.json()["segments"])

        raw = await api.audio.transcriptions.with_raw_response.create(
            model="whisper-1", file=jfk.open("rb"), include=["logprobs"]
        )
        plain = Transcription.model_validate(json.loads(raw.text))
        assert wer(JFK_TEXT, plain.text) <= 0.1
        assert plain.usage is not None and plain.usage.type == "duration"
        assert plain.logprobs and all(
            p.logprob is not None and p.logprob <= 0 for p in plain.logprobs
        )
        # One log-probability per word, in the text's order (its punctuation is the model's).
        assert normalise(" ".join(p.token for p in plain.logprobs)) == normalise(plain.text)

        # Word timings cost decoding time: without word granularity none are computed.
        await api.audio.transcriptions.create(model="whisper-1", file=jfk.open("rb"))
        assert await stored_words() == 0

        raw = await api.audio.transcriptions.with_raw_response.create(
            model="whisper-1",
            file=jfk.open("rb"),
            response_format="verbose_json",
            timestamp_granularities=["word"],
            prompt="Kennedy's inaugural address.",
            temperature=0,
            language="en",
            chunking_strategy={"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 400},
            extra_body={"hotwords": "Americans", "beam_size": 2, "vad_filter": True},
        )
        verbose = TranscriptionVerbose.model_validate(json.loads(raw.text))
        assert verbose.words and not verbose.segments  # only what was asked for
        assert await stored_words() == len(verbose.words)
        assert verbose.usage is not None and verbose.usage.seconds == pytest.approx(11, abs=0.5)

        raw = await api.audio.transcriptions.with_raw_response.create(
            model="gpt-4o-transcribe", file=jfk.open("rb"), response_format="verbose_json"
        )
        segments = TranscriptionVerbose.model_validate(json.loads(raw.text)).segments
        assert segments and all(s.tokens for s in segments)

        raw = await api.audio.transcriptions.with_raw_response.create(
            model="whisper-1",
            file=jfk.open("rb"),
            response_format="diarized_json",
            extra_body={"vad_filter": False},
        )
        diarized = TranscriptionDiarized.model_validate(json.loads(raw.text))
        assert {s.speaker for s in diarized.segments} == {"A"}


def events_of(body: str) -> list[dict[str, Any]]:
    events = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    for event in events:
        STREAM_EVENT.validate_python(event)
    return events


def read_stream(url: str, audio: Path) -> list[tuple[float, Any]]:
    """Each event of a stream with the seconds it took to come, with the SDK's sync client."""
    api = OpenAI(base_url=f"{url}/v1", api_key="local", max_retries=0, timeout=300)
    started = time.monotonic()
    arrivals = []
    with audio.open("rb") as f:
        stream = api.audio.transcriptions.create(model="whisper-1", file=f, stream=True)
        for event in stream:
            arrivals.append((time.monotonic() - started, event))
    return arrivals


@pytest.mark.slow
async def test_a_stream_yields_the_sdks_events_word_by_word_as_decoded(
    server_url: str, long_speech: Path
) -> None:
    # The sync client in a thread: the server runs on this test's event loop.
    arrivals = await asyncio.to_thread(read_stream, server_url, long_speech)
    kinds = [event.type for _, event in arrivals]
    assert kinds[-1] == "transcript.text.done" and set(kinds[:-1]) == {"transcript.text.delta"}
    done = arrivals[-1][1]
    text = "".join(event.delta for _, event in arrivals[:-1])
    assert text == done.text and wer(LONG_TEXT, text) <= 0.25
    assert len(arrivals) > 100  # a word each, not a segment
    assert all(" " not in event.delta.strip() for _, event in arrivals[:-1])
    assert done.usage.type == "tokens" and done.usage.output_tokens > len(arrivals) / 2
    # Live: the first words come while the rest is still being decoded, not with the end.
    first, last = arrivals[0][0], arrivals[-1][0]
    assert first < 0.8 * last, (first, last)
    for _, event in arrivals:
        STREAM_EVENT.validate_python(event.model_dump(exclude_unset=True))


@pytest.mark.slow
async def test_an_async_stream_with_logprobs_and_speakers(server_url: str, jfk: Path) -> None:
    api = sdk(server_url, timeout=120)
    with jfk.open("rb") as f:
        stream = await api.audio.transcriptions.create(
            model="gpt-4o-transcribe-diarize",
            file=f,
            stream=True,
            response_format="diarized_json",
            include=["logprobs"],
        )
        events = [event async for event in stream]
    kinds = [e.type for e in events]
    assert kinds[0] == "transcript.text.delta" and kinds[-1] == "transcript.text.done"
    deltas = [e for e in events if e.type == "transcript.text.delta"]
    segments = [e for e in events if e.type == "transcript.text.segment"]
    assert segments and {s.speaker for s in segments} == {"A"}
    assert kinds.index("transcript.text.segment") > kinds.index("transcript.text.delta")
    assert all(d.logprobs and d.logprobs[0].token == d.delta for d in deltas)
    done = events[-1]
    assert done.logprobs and len(done.logprobs) == len(deltas)
    assert wer(JFK_TEXT, done.text) <= 0.1


@pytest.mark.slow
async def test_translations_stream_too(server_url: str, jfk: Path) -> None:
    async with httpx.AsyncClient(base_url=server_url, timeout=120) as client:
        response = await client.post(
            "/v1/audio/translations",
            files={"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")},
            data={"model": "whisper-1", "stream": "true"},
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = events_of(response.text)
    assert events[-1]["type"] == "transcript.text.done" and "country" in events[-1]["text"]


@pytest.mark.slow
async def test_a_failed_job_ends_the_stream_with_an_error(tmp_path: Path, audio_dir: Path) -> None:
    # The audio passes every check; the model's files are broken, so the job fails while
    # the client is already reading the stream.
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "model.bin").write_bytes(b"not a model")
    settings = make_settings(tmp_path, model=str(broken), port=free_port())
    async with live_server(settings) as url:
        with pytest.raises(openai.APIError) as caught:
            stream = await sdk(url).audio.transcriptions.create(
                model="whisper-1", file=(audio_dir / "speech.wav").open("rb"), stream=True
            )
            async for _ in stream:
                pass
    assert "failed" in caught.value.message


@pytest.mark.slow
async def test_with_api_keys_every_route_and_the_stream_need_one(
    tmp_path: Path, jfk: Path, long_speech: Path
) -> None:
    settings = make_settings(tmp_path, auth=True, max_active_jobs_per_key=1, port=free_port())
    async with live_server(settings) as url:
        _, secret = await new_key(settings, "sdk")
        keyed = AsyncOpenAI(base_url=f"{url}/v1", api_key=secret, max_retries=0, timeout=120)
        assert "whisper-1" in [m.id async for m in keyed.models.list()]
        with jfk.open("rb") as f:
            stream = await keyed.audio.transcriptions.create(
                model="whisper-1", file=f, stream=True, response_format="verbose_json"
            )
            events = [event async for event in stream]
        assert events[-1].type == "transcript.text.done" and "country" in events[-1].text
        anyone = AsyncOpenAI(base_url=f"{url}/v1", api_key="at_wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            await anyone.models.list()
        with pytest.raises(openai.AuthenticationError), jfk.open("rb") as f:
            await anyone.audio.transcriptions.create(model="whisper-1", file=f, stream=True)
        # The key's one active job is running: the next is a 429, the SDK's RateLimitError.
        async with httpx.AsyncClient(base_url=url, timeout=60) as seed:
            running = await seed.post(
                "/api/v1/job/transcribe",
                files={"file": ("long.flac", long_speech.read_bytes(), "audio/flac")},
                headers={"Authorization": f"Bearer {secret}"},
            )
            assert running.status_code == 202, running.text
        with pytest.raises(openai.RateLimitError) as limited, jfk.open("rb") as f:
            await keyed.audio.transcriptions.create(model="whisper-1", file=f)
        assert limited.value.type == "rate_limit_error"
