"""One live transcription session: PCM16 in, OpenAI's Realtime transcription events out.

Audio is resampled to 16 kHz as it arrives and cut into turns by Silero VAD (``server_vad``)
or by the client's commits. While a turn is open it is decoded again every 0.6 s, and the
words two decodes in a row agree on go out as deltas, so text shows while the person is still
speaking. Each decode hears the turn before it first (``realtime.text``), as Whisper would in
a file. The completed transcript is the turn decoded once more: where it starts with the
deltas sent, the deltas add up to it; where the whole utterance changed how its first words
are heard, it corrects them. Memory is bounded: a turn is committed after
``MAX_TURN_SECONDS``, and a client sending faster than real time is slowed down by not
reading from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from audiotext.engine.base import SAMPLE_RATE
from audiotext.realtime.protocol import (
    INPUT_RATE,
    ProtocolError,
    SessionConfig,
    client_event,
    error_event,
    new_id,
    pcm16,
    server_event,
    updated,
)
from audiotext.realtime.slots import DecodeGate
from audiotext.realtime.text import after_context, continuation, stable_words

Audio = npt.NDArray[np.float32]
Send = Callable[[dict[str, Any]], Awaitable[None]]
# Blocking: the text of one stretch of 16 kHz audio, decoded as the session asks.
Transcribe = Callable[[Audio, SessionConfig], str]
# Blocking: Silero's speech probability for each 512-sample frame of 16 kHz audio.
SpeechProbabilities = Callable[[Audio], npt.NDArray[np.float32]]

FRAME = 512  # samples at 16 kHz: Silero's frame, 32 ms
CONTEXT_FRAMES = 16  # frames before the new ones that each VAD call sees
PARTIAL_EVERY_SECONDS = 0.6
MAX_TURN_SECONDS = 30.0
# How far ahead of the wall clock a client's audio may run before it is read more slowly.
AHEAD_SECONDS = 2.0
STOP_MARGIN = 0.15  # hysteresis: speech ends below threshold minus this
CONTEXT_SECONDS = 8.0  # of the previous turn, heard before each decode of the next
WINDOW_SECONDS = 30.0  # Whisper's window: the context is left out where it would not fit


@dataclass
class Turn:
    item_id: str
    start_ms: int
    chunks: list[Audio] = field(default_factory=list)
    samples: int = 0
    emitted: str = ""  # the text sent as deltas so far
    last_partial: list[str] = field(default_factory=list)
    decoded_at: int = 0  # samples at the last partial decode

    def audio(self) -> Audio:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)


@dataclass(frozen=True)
class Context:
    """The end of the previous turn and its words, heard before each decode of the next."""

    audio: Audio
    words: list[str]


def context_of(audio: Audio, words: list[str]) -> Context | None:
    """The last ``CONTEXT_SECONDS`` of a turn, with about as many of its words."""
    if not words:
        return None  # nothing was said: nothing to hear it after
    keep = int(CONTEXT_SECONDS * SAMPLE_RATE)
    if len(audio) > keep:
        words = words[-max(1, round(len(words) * keep / len(audio))) :]
    return Context(audio[-keep:], words)


class LiveSession:
    def __init__(
        self,
        config: SessionConfig,
        models: frozenset[str],
        send: Send,
        transcribe: Transcribe,
        speech: SpeechProbabilities,
        gate: DecodeGate,
    ) -> None:
        import av

        self.id = new_id("sess")
        self.config = config
        self.models = models
        self._send = send
        self._transcribe = transcribe
        self._speech = speech
        self._gate = gate
        self._before: Context | None = None  # the previous turn, heard before this one
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        self._pending = np.zeros(0, np.float32)  # 16 kHz samples not yet a whole frame
        self._context = np.zeros(0, np.float32)  # the frames the VAD saw last
        self._preroll: list[Audio] = []  # the frames before speech, for prefix padding
        self._received = 0  # 16 kHz samples so far: the session's clock
        self._turn: Turn | None = None
        self._silence_ms = 0
        self._previous_item: str | None = None
        self._decoding = asyncio.Lock()
        self._finals: list[asyncio.Task[None]] = []
        self._partial: asyncio.Task[None] | None = None
        self._started = time.monotonic()

    async def start(self) -> None:
        await self._send(server_event("session.created", session=self.config.public(self.id)))

    async def handle(self, message: Any) -> None:
        """One client event; whatever is wrong with it goes back as an error event."""
        event_id = message.get("event_id") if isinstance(message, dict) else None
        try:
            event = client_event(message)
            kind = event["type"]
            if kind == "session.update":
                self.config = updated(self.config, event.get("session"), self.models)
                session = self.config.public(self.id)
                await self._send(server_event("session.updated", session=session))
            elif kind == "input_audio_buffer.append":
                await self._append(pcm16(event.get("audio")))
            elif kind == "input_audio_buffer.commit":
                await self._commit_by_client()
            else:
                self._turn = None
                self._preroll = []
                await self._send(server_event("input_audio_buffer.cleared"))
        except ProtocolError as exc:
            await self._send(error_event(exc, event_id if isinstance(event_id, str) else None))

    async def close(self) -> None:
        """Wait for the turns already committed to be transcribed."""
        if self._partial is not None:
            self._partial.cancel()
        for task in self._finals:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- audio --------------------------------------------------------------------------
    async def _append(self, data: bytes) -> None:
        samples = self._resampled(data)
        self._received += len(samples)
        if self.config.turn_detection is None:
            turn = self._turn or self._open(self._received - len(samples))
            turn.chunks.append(samples)
            turn.samples += len(samples)
            await self._after_audio(turn)
        else:
            self._pending = np.concatenate([self._pending, samples])
            whole = len(self._pending) // FRAME * FRAME
            if whole:
                frames, self._pending = self._pending[:whole], self._pending[whole:]
                await self._detect(frames)
        ahead = self._received / SAMPLE_RATE - (time.monotonic() - self._started)
        if ahead > AHEAD_SECONDS:
            await asyncio.sleep(ahead - AHEAD_SECONDS)  # read no faster than real time

    def _resampled(self, data: bytes) -> Audio:
        import av

        pcm = np.frombuffer(data, dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = INPUT_RATE
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)

    async def _detect(self, frames: Audio) -> None:
        turn_detection = self.config.turn_detection
        assert turn_detection is not None
        window = np.concatenate([self._context, frames])
        probabilities = await asyncio.to_thread(self._speech, window)
        new = probabilities[-(len(frames) // FRAME) :]
        self._context = window[-CONTEXT_FRAMES * FRAME :]
        end = self._received - len(self._pending)
        first = end - len(frames)
        for i, probability in enumerate(new):
            frame = frames[i * FRAME : (i + 1) * FRAME]
            at = first + i * FRAME
            if self._turn is None:
                if probability >= turn_detection.threshold:
                    padding = sum(len(c) for c in self._preroll)
                    turn = self._open(at - padding)
                    turn.chunks, turn.samples = [*self._preroll], padding
                    self._preroll, self._silence_ms = [], 0
                    await self._send(
                        server_event(
                            "input_audio_buffer.speech_started",
                            audio_start_ms=turn.start_ms,
                            item_id=turn.item_id,
                        )
                    )
                else:
                    self._preroll.append(frame)
                    keep = turn_detection.prefix_padding_ms * SAMPLE_RATE // 1000
                    while self._preroll and sum(len(c) for c in self._preroll) > keep:
                        self._preroll.pop(0)
                    continue
            speaking = self._turn
            assert speaking is not None
            speaking.chunks.append(frame)
            speaking.samples += len(frame)
            quiet = probability < turn_detection.threshold - STOP_MARGIN
            self._silence_ms = self._silence_ms + FRAME * 1000 // SAMPLE_RATE if quiet else 0
            if self._silence_ms >= turn_detection.silence_duration_ms:
                end_ms = (at + FRAME) * 1000 // SAMPLE_RATE
                await self._send(
                    server_event(
                        "input_audio_buffer.speech_stopped",
                        audio_end_ms=end_ms,
                        item_id=speaking.item_id,
                    )
                )
                await self._commit(speaking)
            else:
                await self._after_audio(speaking)

    def _open(self, at: int) -> Turn:
        self._turn = Turn(new_id("item"), max(0, at) * 1000 // SAMPLE_RATE)
        return self._turn

    async def _after_audio(self, turn: Turn) -> None:
        if turn.samples >= MAX_TURN_SECONDS * SAMPLE_RATE:
            await self._commit(turn)  # memory stays bounded, however long one speaks
            return
        due = turn.samples - turn.decoded_at >= PARTIAL_EVERY_SECONDS * SAMPLE_RATE
        idle = (self._partial is None or self._partial.done()) and not self._decoding.locked()
        if due and idle and not self._gate.busy():
            turn.decoded_at = turn.samples
            self._partial = asyncio.create_task(self._decode_partial(turn, turn.audio()))

    # --- turns --------------------------------------------------------------------------
    async def _commit_by_client(self) -> None:
        turn = self._turn
        if turn is None or turn.samples == 0:
            raise ProtocolError(
                "the input audio buffer is empty: nothing to commit",
                "input_audio_buffer_commit_empty",
            )
        await self._commit(turn)

    async def _commit(self, turn: Turn) -> None:
        self._turn, self._silence_ms = None, 0
        await self._send(
            server_event(
                "input_audio_buffer.committed",
                item_id=turn.item_id,
                previous_item_id=self._previous_item,
            )
        )
        self._previous_item = turn.item_id
        self._finals = [t for t in self._finals if not t.done()]
        self._finals.append(asyncio.create_task(self._decode_final(turn, turn.audio())))

    def _words(self, audio: Audio, context: Context | None) -> list[str]:
        """Blocking: the words of a turn's audio, heard after the previous turn's."""
        if context is not None and len(context.audio) + len(audio) <= WINDOW_SECONDS * SAMPLE_RATE:
            heard = self._transcribe(np.concatenate([context.audio, audio]), self.config)
            words = after_context(context.words, heard.split())
            if words is not None:
                return words
        return self._transcribe(audio, self.config).split()

    async def _decode_partial(self, turn: Turn, audio: Audio) -> None:
        async with self._decoding, self._gate.places:
            if self._turn is not turn:
                return  # committed or cleared while waiting
            words = await asyncio.to_thread(self._words, audio, self._before)
        agreed = stable_words(turn.last_partial, words)
        turn.last_partial = words
        delta = continuation(turn.emitted, agreed)
        if delta and self._turn is turn:
            turn.emitted += delta
            await self._delta(turn, delta)

    async def _decode_final(self, turn: Turn, audio: Audio) -> None:
        async with self._decoding:
            async with self._gate.places:
                words = await asyncio.to_thread(self._words, audio, self._before)
            self._before = context_of(audio, words)
        rest = continuation(turn.emitted, words)
        if rest:
            await self._delta(turn, rest)
        await self._send(
            server_event(
                "conversation.item.input_audio_transcription.completed",
                item_id=turn.item_id,
                content_index=0,
                transcript=" ".join(words),
                usage={"type": "duration", "seconds": round(len(audio) / SAMPLE_RATE, 3)},
            )
        )

    async def _delta(self, turn: Turn, delta: str) -> None:
        await self._send(
            server_event(
                "conversation.item.input_audio_transcription.delta",
                item_id=turn.item_id,
                content_index=0,
                delta=delta,
            )
        )
