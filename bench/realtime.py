"""Live transcription: turn latency, first partial text, WER and sessions per CPU process.

    python bench/realtime.py [--sessions 1,2,4,6] [--quick] [--url URL --key KEY]

Starts ``audiotext serve`` (the defaults users get; only the session limit raised so that the
concurrency rows can be measured) and streams speech to ``/v1/realtime?intent=transcription``
at real time, 100 ms of PCM16 at 24 kHz per ``input_audio_buffer.append``, with server VAD at
its defaults, as a microphone would. ``--url`` measures a gateway already running instead
(the chart's, port-forwarded, whose sessions go to the realtime Deployment). The speech: the
sentences of benchkit.audio.PARAGRAPH, each a turn, 1.5 s of silence apart.

- Turn latency: the moment the end of a turn's speech (its ``speech_stopped.audio_end_ms``)
  was sent → its ``.completed`` event. It includes the silence the server VAD waits for.
  Baseline: the same turn's audio decoded alone by the engine in this process (the decode
  that latency cannot go below).
- First partial text: the moment a turn's first speech was sent → its first ``.delta``.
- WER: the live transcripts against the sentences said, and the same audio transcribed as a
  file through ``/v1/audio/transcriptions`` (baseline) against them; target: live within 0.05.
- Sessions: N sessions at once, each streaming the whole speech; a count holds when every
  session's turns complete within 3 s of their end (p99) and none falls behind.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import websockets
from benchkit.audio import CACHE, PARAGRAPH
from benchkit.processes import gateway
from benchkit.report import Row, fmt, print_table

RATE = 24_000
CHUNK_SECONDS = 0.1
GAP_SECONDS = 1.5
HELD_P99_SECONDS = 3.0
WER_MARGIN = 0.05
TITLE = "Live transcription: /v1/realtime at real time"


def sentences() -> list[str]:
    return [s.strip() + "." for s in PARAGRAPH.split(".") if s.strip()]


def speech_pcm() -> bytes:
    """The sentences, one turn each, ``GAP_SECONDS`` apart: PCM16 mono 24 kHz (cached)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / "realtime-turns.pcm"
    if target.exists():
        return target.read_bytes()
    parts = []
    for i, sentence in enumerate(sentences()):
        wav = CACHE / f"turn-{i}.wav"
        subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(wav), sentence],
            check=True,
            capture_output=True,
        )
        pcm = subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-i", str(wav), "-ar", str(RATE), "-ac", "1",
             "-f", "s16le", "-"],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
        parts.append(pcm + bytes(int(RATE * 2 * GAP_SECONDS)))
    data = b"".join(parts)
    target.write_bytes(data)
    return data


@dataclass
class Session:
    """What one live session saw, on this process's clock (``started``: first audio sent)."""

    started: float = 0.0
    stopped_ms: dict[str, int] = field(default_factory=dict)  # item → audio_end_ms
    speech_ms: dict[str, int] = field(default_factory=dict)  # item → audio_start_ms
    first_delta: dict[str, float] = field(default_factory=dict)
    completed: dict[str, float] = field(default_factory=dict)
    transcripts: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def latencies(self) -> list[float]:
        return [
            self.completed[item] - (self.started + ms / 1000)
            for item, ms in self.stopped_ms.items()
            if item in self.completed
        ]

    def first_partials(self) -> list[float]:
        return [
            self.first_delta[item] - (self.started + ms / 1000)
            for item, ms in self.speech_ms.items()
            if item in self.first_delta
        ]

    def text(self) -> str:
        return " ".join(self.transcripts[i] for i in self.stopped_ms if i in self.transcripts)


HEADERS: dict[str, str] = {}  # the API key of --key, on every request


async def live(url: str, pcm: bytes) -> Session:
    """One session streamed to its end; a server too far behind to answer ends it early."""
    session = Session()
    try:
        await stream(url, pcm, session)
    except (websockets.ConnectionClosed, OSError) as exc:
        session.errors.append(f"the session broke off: {exc}")
    return session


async def stream(url: str, pcm: bytes, session: Session) -> None:
    ws_url = url.replace("http", "ws") + "/v1/realtime?intent=transcription"
    async with websockets.connect(ws_url, max_size=2**24, additional_headers=HEADERS) as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "session.update",
                    "session": {
                        "type": "transcription",
                        "audio": {"input": {"transcription": {"model": "whisper-1"}}},
                    },
                }
            )
        )

        async def send() -> None:
            step = int(RATE * 2 * CHUNK_SECONDS)
            session.started = time.monotonic()
            for n, i in enumerate(range(0, len(pcm), step)):
                delay = session.started + n * CHUNK_SECONDS - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                chunk = base64.b64encode(pcm[i : i + step]).decode()
                await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))

        async def receive() -> None:
            async for raw in ws:
                now = time.monotonic()
                event = json.loads(raw)
                kind, item = event["type"], event.get("item_id", "")
                if kind == "input_audio_buffer.speech_started":
                    session.speech_ms[item] = event["audio_start_ms"]
                elif kind == "input_audio_buffer.speech_stopped":
                    session.stopped_ms[item] = event["audio_end_ms"]
                elif kind.endswith("transcription.delta"):
                    session.first_delta.setdefault(item, now)
                elif kind.endswith("transcription.completed"):
                    session.completed[item] = now
                    session.transcripts[item] = event["transcript"]
                elif kind == "error":
                    session.errors.append(event["error"].get("message", ""))

        async def turns_done() -> None:
            while not set(session.stopped_ms) <= set(session.completed):
                await asyncio.sleep(0.05)

        receiver = asyncio.create_task(receive())
        await send()
        try:
            await asyncio.wait_for(turns_done(), timeout=30)
        except TimeoutError:
            session.errors.append("turns still open 30 s after the audio ended")
        receiver.cancel()


@dataclass
class Url:
    url: str


def wer(reference: str, hypothesis: str) -> float:
    import jiwer

    def words(text: str) -> str:
        return " ".join("".join(c for c in w.lower() if c.isalnum()) for w in text.split())

    return float(jiwer.wer(words(reference), words(hypothesis)))


def decode_alone(pcm: bytes) -> float:
    """Seconds the engine takes for one turn's audio, in this process (the floor)."""
    from audiotext.config import Settings
    from audiotext.engine import EngineRegistry, TranscribeOptions
    from audiotext.pipeline import transcribe_audio

    engine = EngineRegistry(Settings(cpu_threads=2)).get()
    samples = np.frombuffer(
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-f", "s16le", "-ar", str(RATE), "-ac", "1",
             "-i", "-", "-ar", "16000", "-f", "f32le", "-"],
            input=pcm, check=True, capture_output=True,
        ).stdout,
        dtype=np.float32,
    )  # fmt: skip
    options = TranscribeOptions(model="tiny.en", word_timestamps=False, vad_filter=False)
    transcribe_audio(engine, samples, options)  # loaded and warm
    started = time.perf_counter()
    transcribe_audio(engine, samples, options)
    return time.perf_counter() - started


def p(values: list[float], q: float) -> float | None:
    return float(np.quantile(values, q)) if values else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="1,2,4,6", help="session counts to try")
    parser.add_argument("--quick", action="store_true", help="counts 1 and 2 only")
    parser.add_argument("--url", help="a running gateway's base URL instead of a local one")
    parser.add_argument("--key", help="the API key to send to it")
    args = parser.parse_args()
    counts = [1, 2] if args.quick else [int(c) for c in args.sessions.split(",")]
    pcm = speech_pcm()
    said = " ".join(sentences())
    first_turn = pcm[: int(RATE * 2 * 4.0)]
    floor = decode_alone(first_turn)
    env = {"AUDIOTEXT_REALTIME_SESSIONS": str(max(counts) + 1)}
    if args.key:
        HEADERS["Authorization"] = f"Bearer {args.key}"
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="audiotext-bench-"))
        # A gateway already running (the chart's, port-forwarded), or one started here.
        server = Url(args.url) if args.url else stack.enter_context(gateway(Path(tmp), env))
        wav = Path(tmp) / "speech.wav"
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-f", "s16le", "-ar", str(RATE), "-ac", "1",
             "-i", "-", str(wav)],
            input=pcm, check=True,
        )  # fmt: skip
        with wav.open("rb") as f:
            as_file = httpx.post(
                f"{server.url}/v1/audio/transcriptions",
                files={"file": ("speech.wav", f, "audio/wav")},
                data={"model": "whisper-1"},
                headers=HEADERS,
                timeout=300,
            ).json()["text"]
        runs: dict[int, list[Session]] = {}
        for count in counts:

            async def together(n: int = count) -> list[Session]:
                return list(await asyncio.gather(*(live(server.url, pcm) for _ in range(n))))

            runs[count] = asyncio.run(together())
            print(f"  {count} sessions done", file=sys.stderr, flush=True)
    one = runs[counts[0]][0]
    latencies, partials = one.latencies(), one.first_partials()
    live_wer, file_wer = wer(said, one.text()), wer(said, as_file)

    def holds(sessions: list[Session]) -> bool:
        lat = [x for s in sessions for x in s.latencies()]
        turns = len(sentences())
        complete = all(len(s.completed) >= turns - 1 and not s.errors for s in sessions)
        worst = p(lat, 0.99)
        return complete and worst is not None and worst < HELD_P99_SECONDS

    held = max((c for c in counts if holds(runs[c])), default=0)
    rows = [
        Row(
            "end of a turn → .completed, p50 / p99 (s)",
            fmt(floor),
            f"{fmt(p(latencies, 0.5))} / {fmt(p(latencies, 0.99))}",
            fmt((p(latencies, 0.5) or 0) / floor) if floor else "-",
            "reported",
            None,
        ),
        Row(
            "turn's first speech → first partial .delta, p50 / p99 (s)",
            "-",
            f"{fmt(p(partials, 0.5))} / {fmt(p(partials, 0.99))}",
            "-",
            "reported",
            None,
        ),
        Row(
            "WER against what was said: the file vs live",
            fmt(file_wer, 3),
            fmt(live_wer, 3),
            fmt(live_wer - file_wer, 3),
            f"live ≤ file + {WER_MARGIN}",
            live_wer <= file_wer + WER_MARGIN,
        ),
        Row(
            f"sessions one process holds (p99 turn latency < {HELD_P99_SECONDS:g} s)",
            "1",
            str(held),
            "-",
            "reported",
            None,
        ),
    ]
    for count in counts:
        lat = [x for s in runs[count] for x in s.latencies()]
        rows.append(
            Row(
                f"{count} at once: turn latency p50 / p99 (s)",
                "-",
                f"{fmt(p(lat, 0.5))} / {fmt(p(lat, 0.99))}",
                "-",
                "-",
                None,
            )
        )
    notes = [
        f"{len(sentences())} turns, {len(pcm) / RATE / 2:.0f} s of speech and pauses, sent at "
        f"real time in {CHUNK_SECONDS * 1000:.0f} ms chunks; `audiotext serve` with its "
        "defaults (tiny.en, server VAD). Baseline of the latency row: the first turn decoded "
        "alone in this process."
    ]
    print_table(TITLE, rows, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
