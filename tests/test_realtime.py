"""Live transcription over OpenAI's Realtime protocol: the official SDK's realtime client
against a real server, text while the person speaks, bad events, limits, idle sessions."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import httpx
import pytest
import websockets
from openai import AsyncOpenAI

from audiotext.config import Settings
from audiotext.engine.hallucination import normalized
from audiotext.realtime.protocol import (
    ProtocolError,
    SessionConfig,
    TurnDetection,
    client_event,
    pcm16,
    updated,
)
from audiotext.realtime.session import CONTEXT_SECONDS, context_of
from audiotext.realtime.text import after_context, continuation, stable_words

from helpers import JFK_TEXT, free_port, live_server, make_settings, new_key
from realtime_client import jfk_pcm, live_session
from wer import wer

MODELS = frozenset({"tiny.en", "whisper-1"})


def test_client_events_are_checked() -> None:
    for bad, code in (
        ([], "invalid_event"),
        ({"type": "response.create"}, "unknown_event"),
        ({"no": "type"}, "invalid_event"),
    ):
        with pytest.raises(ProtocolError) as caught:
            client_event(bad)
        assert caught.value.code == code
    for audio in ("not base64!", "", None, base64.b64encode(b"abc").decode()):
        with pytest.raises(ProtocolError) as caught:
            pcm16(audio)
        assert caught.value.param == "audio"
    assert pcm16(base64.b64encode(b"abcd").decode()) == b"abcd"


def test_session_update_changes_all_or_nothing() -> None:
    config = SessionConfig(model="tiny.en")
    asked = {
        "type": "transcription",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "whisper-1", "language": "en", "prompt": "Kennedy"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
            }
        },
    }
    new = updated(config, asked, MODELS)
    assert (new.model, new.language, new.prompt) == ("whisper-1", "en", "Kennedy")
    assert new.turn_detection == TurnDetection(silence_duration_ms=300)
    manual = {"audio": {"input": {"turn_detection": None}}}
    assert updated(config, manual, MODELS).turn_detection is None
    for field, value, param in (
        ("format", {"type": "audio/pcm", "rate": 16000}, "format"),
        ("transcription", {"model": "gpt-4o-transcribe"}, "model"),
        ("transcription", {"language": "xx"}, "language"),
        ("turn_detection", {"type": "semantic_vad"}, "turn_detection"),
        ("turn_detection", {"threshold": 2}, "threshold"),
        ("turn_detection", {"silence_duration_ms": -5}, "silence_duration_ms"),
    ):
        with pytest.raises(ProtocolError) as caught:
            updated(config, {"audio": {"input": {field: value}}}, MODELS)
        assert (caught.value.param or "").endswith(param), caught.value.param
    with pytest.raises(ProtocolError):
        updated(config, {"type": "realtime"}, MODELS)


def test_deltas_only_add_words_two_decodes_agree_on() -> None:
    assert stable_words([], ["And", "so"]) == []
    assert stable_words(["And", "so"], ["and", "so,", "my", "fel"]) == ["and", "so,"]
    assert stable_words(["Like", "your"], ["what", "your", "country"]) == []
    assert continuation("", ["And", "so"]) == "And so"
    assert continuation("And so", ["and", "so,", "my", "fellow"]) == " my fellow"
    assert continuation("And so", ["Hands", "up"]) == ""  # no retraction: completed says it all
    assert continuation("And so", ["And", "so"]) == ""


def words(text: str) -> list[str]:
    return text.split()


def test_a_turn_is_the_words_after_the_turn_heard_before_it() -> None:
    before = words("Good morning everyone.")
    assert after_context(before, words("Good morning everyone. Thanks for coming.")) == [
        "Thanks",
        "for",
        "coming.",
    ]
    # The end of the turn before heard differently: up to its sentence's end, or one for one.
    assert after_context(
        words("it rose by nine percent."), words("it rose by 9%. After lunch")
    ) == ["After", "lunch"]
    assert after_context(["the", "final", "numbers"], words("the final humbers Maria")) == ["Maria"]
    assert after_context([], ["Hello"]) == ["Hello"]
    # A decode that did not hear the context the same way: the turn is decoded alone.
    assert after_context(words("one two three four"), words("five six seven")) is None


def test_the_context_is_the_end_of_the_turn_before() -> None:
    import numpy as np

    rate = 16_000
    short = np.zeros(rate * 2, np.float32)
    context = context_of(short, ["Hello", "there."])
    assert context is not None and context.words == ["Hello", "there."]
    long = np.zeros(int(rate * CONTEXT_SECONDS * 2), np.float32)
    words = [f"w{i}" for i in range(40)]
    context = context_of(long, words)
    assert context is not None and len(context.audio) == rate * CONTEXT_SECONDS
    assert context.words == words[20:]
    assert context_of(short, []) is None


@pytest.mark.slow
async def test_the_sdk_realtime_client_transcribes_live_speech(settings: Settings) -> None:
    async with live_server(settings) as url:
        events = await asyncio.to_thread(live_session, url, jfk_pcm())
    kinds = [e.type for e in events]
    assert kinds[:2] == ["session.created", "session.updated"]
    assert events[1].session.audio.input.transcription.model == "whisper-1"
    started = [e for e in events if e.type == "input_audio_buffer.speech_started"]
    stopped = [e for e in events if e.type == "input_audio_buffer.speech_stopped"]
    committed = [e for e in events if e.type == "input_audio_buffer.committed"]
    completed = [e for e in events if e.type.endswith("transcription.completed")]
    assert len(started) == len(stopped) == len(committed) == len(completed) >= 1
    assert [e.item_id for e in completed] == [e.item_id for e in committed]
    assert all(
        0 <= a.audio_start_ms < b.audio_end_ms for a, b in zip(started, stopped, strict=True)
    )
    text = " ".join(e.transcript for e in completed)
    assert wer(JFK_TEXT, text) <= 0.15, text
    # Text while the person speaks: a delta of a turn before its speech stopped.
    # The deltas add up to the completed transcript, but where the whole turn heard its first
    # words differently (then the completed transcript corrects them).
    agree = []
    for item in {e.item_id for e in completed}:
        deltas = "".join(e.delta for e in events if e.type.endswith("delta") and e.item_id == item)
        final = next(e.transcript for e in completed if e.item_id == item)
        agree.append(normalized(deltas) == normalized(final))
    assert sum(agree) >= max(1, len(agree) - 1), agree
    early = [
        i for i, e in enumerate(events)
        if e.type.endswith("delta")
        and i < next(j for j, s in enumerate(events) if s.type.endswith("speech_stopped")
                     and s.item_id == e.item_id)
    ]  # fmt: skip
    assert early, "no partial text before a turn ended"
    assert completed[0].usage.type == "duration" and completed[0].usage.seconds > 0


@pytest.mark.slow
async def test_manual_turns_bad_events_and_idle_sessions(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, port=free_port(), realtime_idle_seconds=2)
    pcm = jfk_pcm(silence_after=0)
    async with live_server(settings) as url:
        client = AsyncOpenAI(api_key="unused", base_url=f"{url}/v1")
        async with client.realtime.connect(extra_query={"intent": "transcription"}) as connection:
            await connection.session.update(
                session={"type": "transcription", "audio": {"input": {"turn_detection": None}}}
            )
            await connection.input_audio_buffer.commit()  # nothing yet
            for raw in (
                {"type": "input_audio_buffer.append", "audio": "%%%"},
                {"type": "input_audio_buffer.append", "audio": base64.b64encode(b"abc").decode()},
                {"type": "conversation.item.create", "event_id": "mine"},
                {
                    "type": "session.update",
                    "session": {"audio": {"input": {"format": {"rate": 8000}}}},
                },
            ):
                await connection.send(raw)  # type: ignore[arg-type]
            await connection.input_audio_buffer.append(audio=base64.b64encode(pcm[:48000]).decode())
            await connection.input_audio_buffer.clear()
            step = 24_000 * 2
            for i in range(0, len(pcm), step):
                await connection.input_audio_buffer.append(
                    audio=base64.b64encode(pcm[i : i + step]).decode()
                )
            await connection.input_audio_buffer.commit()
            events = []
            async for event in connection:
                events.append(event)
                if event.type.endswith("transcription.completed"):
                    break
            # Then nothing: the idle session is told so and closed.
            idle = await asyncio.wait_for(connection.recv(), timeout=10)
    errors = [e.error for e in events if e.type == "error"]
    assert [e.code for e in errors] == [
        "input_audio_buffer_commit_empty",
        "invalid_audio",
        "invalid_audio",
        "unknown_event",
        "invalid_value",
    ]
    assert errors[3].event_id == "mine"
    assert "input_audio_buffer.cleared" in [e.type for e in events]
    completed = [e for e in events if e.type.endswith("transcription.completed")]
    assert wer(JFK_TEXT, completed[0].transcript) <= 0.15
    assert idle.type == "error" and idle.error.code == "session_idle"


async def _refused(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        async with websockets.connect(url, additional_headers=headers or {}):
            return 101
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


async def test_sessions_are_limited_and_need_the_transcription_intent(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, port=free_port(), auth=True, realtime_sessions=3, realtime_sessions_per_key=1
    )
    async with live_server(settings) as url:
        base = url.replace("http", "ws") + "/v1/realtime"
        _, alice = await new_key(settings, "alice")
        _, bob = await new_key(settings, "bob")
        assert await _refused(f"{base}?intent=transcription") == 401
        as_alice = {"Authorization": f"Bearer {alice}"}
        assert await _refused(base, as_alice) == 400  # OpenAI says 400 where we say 422
        async with websockets.connect(
            f"{base}?intent=transcription", additional_headers=as_alice
        ) as ws:
            created = json.loads(await ws.recv())
            assert created["type"] == "session.created"
            assert await _refused(f"{base}?intent=transcription", as_alice) == 429
            # Another key still gets one.
            as_bob = {"Authorization": f"Bearer {bob}"}
            async with websockets.connect(
                f"{base}?intent=transcription", additional_headers=as_bob
            ):
                pass
        # Given back when it closes.
        async with websockets.connect(f"{base}?intent=transcription", additional_headers=as_alice):
            pass


async def test_without_the_engine_sessions_are_refused_before_the_upgrade(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway's image has no engine: it says so with 503 instead of failing to start."""
    import importlib.util

    from audiotext.api.routes import realtime

    real = importlib.util.find_spec
    monkeypatch.setattr(
        realtime.importlib.util, "find_spec", lambda name: None if name == "numpy" else real(name)
    )
    async with live_server(settings) as url:
        base = url.replace("http", "ws") + "/v1/realtime?intent=transcription"
        assert await _refused(base) == 503


@pytest.mark.slow
async def test_the_gateway_relays_sessions_to_a_realtime_server(tmp_path: Path) -> None:
    """As on Kubernetes: the gateway authenticates, counts the key's sessions and relays
    them to ``audiotext realtime`` (the chart's realtime Deployment), whose own limit holds."""
    server = make_settings(tmp_path / "realtime", port=free_port(), realtime_sessions=1)
    async with live_server(server, realtime_only=True) as upstream:
        health = await asyncio.to_thread(httpx.get, f"{upstream}/readyz")
        assert health.json() == {"status": "ok", "sessions": 0}
        gateway = make_settings(
            tmp_path / "gateway",
            port=free_port(),
            auth=True,
            realtime_url=upstream.replace("http", "ws"),
        )
        async with live_server(gateway) as url:
            _, key = await new_key(gateway, "alice")
            events = await asyncio.to_thread(live_session, url, jfk_pcm(), key)
            completed = [e for e in events if e.type.endswith("transcription.completed")]
            assert completed and wer(JFK_TEXT, " ".join(e.transcript for e in completed)) <= 0.15
            assert any(e.type.endswith("delta") for e in events)

            base = url.replace("http", "ws") + "/v1/realtime?intent=transcription"
            assert await _refused(base) == 401  # the gateway still wants the key
            as_alice = {"Authorization": f"Bearer {key}"}
            async with websockets.connect(base, additional_headers=as_alice) as ws:
                created = json.loads(await ws.recv())
                assert created["type"] == "session.created"
                await ws.send(json.dumps({"type": "no.such.event"}))
                assert json.loads(await ws.recv())["error"]["code"] == "unknown_event"
                # The realtime server holds one session: it says so through the gateway.
                assert await _refused(base, as_alice) == 429
        # With the realtime server gone, the gateway says it is unavailable.
    async with live_server(gateway) as url:
        base = url.replace("http", "ws") + "/v1/realtime?intent=transcription"
        assert await _refused(base, {"Authorization": f"Bearer {key}"}) == 503
