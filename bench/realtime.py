"""Live transcription: latency to the completed text, time to the first partial text, WER
against the same audio as a file, and how many sessions one CPU process keeps up with.

    python bench/realtime.py [--quick]

One ``audiotext serve`` (the defaults users get: tiny.en, int8, 2 threads). Each session
streams the same minute of speech (espeak-ng sentences with pauses; 30 s with ``--quick``)
as PCM16 at 24 kHz in 100 ms chunks at real time, through the official SDK's realtime client,
with server VAD. Latency: from the end of an utterance's audio (the speech_stopped event's
``audio_end_ms`` on the session's clock) to its ``completed`` event. Sessions kept up: the
most concurrent sessions whose p99 latency stays under 2 s.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import jiwer
from benchkit.audio import speech
from benchkit.processes import AUDIOTEXT, gateway
from benchkit.report import Row, exit_code, fmt, print_table
from openai import OpenAI

CHUNK_SECONDS = 0.1
KEEP_UP_P99 = 2.0
TARGET_WER_GAP = 0.05


def pcm24k(path: Path, seconds: int) -> bytes:
    return subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(path), "-t", str(seconds), "-ar", "24000",
         "-ac", "1", "-f", "s16le", "-"],
        capture_output=True, check=True,
    ).stdout + bytes(24_000 * 2 * 2)  # fmt: skip


def session(url: str, pcm: bytes) -> dict[str, Any]:
    """One live session at real time: latencies, first partial text, the text."""
    client = OpenAI(api_key="unused", base_url=f"{url}/v1")
    step = int(24_000 * 2 * CHUNK_SECONDS)
    started: dict[str, float] = {}
    with client.realtime.connect(extra_query={"intent": "transcription"}) as connection:
        connection.session.update(session={"type": "transcription"})
        begin = time.monotonic()

        def feed() -> None:
            for n, i in enumerate(range(0, len(pcm), step)):
                connection.input_audio_buffer.append(
                    audio=base64.b64encode(pcm[i : i + step]).decode()
                )
                time.sleep(max(0.0, begin + (n + 1) * CHUNK_SECONDS - time.monotonic()))

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        stop_at: dict[str, float] = {}
        latencies: list[float] = []
        first_partial: list[float] = []
        texts: list[str] = []
        open_items = 0
        for event in connection:
            now = time.monotonic()
            if event.type == "input_audio_buffer.speech_started":
                started[event.item_id] = begin + event.audio_start_ms / 1000
                open_items += 1
            elif event.type == "input_audio_buffer.speech_stopped":
                stop_at[event.item_id] = begin + event.audio_end_ms / 1000
            elif event.type.endswith("transcription.delta") and event.item_id not in stop_at:
                if event.item_id in started and len(first_partial) < len(started):
                    first_partial.append(now - started[event.item_id])
            elif event.type.endswith("transcription.completed"):
                open_items -= 1
                texts.append(event.transcript)
                if event.item_id in stop_at:
                    latencies.append(now - stop_at[event.item_id])
            if not feeder.is_alive() and open_items <= 0 and time.monotonic() - begin > 3:
                break
    return {"latencies": latencies, "first_partial": first_partial, "text": " ".join(texts)}


def _words(text: str) -> str:
    return " ".join("".join(c for c in w.lower() if c.isalnum()) for w in text.split())


def p(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def concurrent(url: str, pcm: bytes, count: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = [{} for _ in range(count)]

    def run(i: int) -> None:
        results[i] = session(url, pcm)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 s of speech, up to 2 sessions")
    args = parser.parse_args()
    seconds = 30 if args.quick else 60
    source = speech(1)
    pcm = pcm24k(source, seconds)
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        gateway(
            Path(tmp),
            {"AUDIOTEXT_REALTIME_SESSIONS": "8", "AUDIOTEXT_REALTIME_SESSIONS_PER_KEY": "8"},
        ) as server,
    ):
        part = Path(tmp) / "part.flac"
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-i", str(source), "-t", str(seconds), str(part)],
            check=True,
        )
        file_text = subprocess.run(
            [str(AUDIOTEXT), "transcribe", str(part), "--quiet"],
            capture_output=True, text=True, check=True, env=server.env,
        ).stdout  # fmt: skip
        one = session(server.url, pcm)
        live_wer = jiwer.wer(_words(file_text), _words(one["text"]))
        rows.append(
            Row(
                "one session: end of utterance → completed, p50 / p99 s",
                "-",
                f"{fmt(p(one['latencies'], 0.5))} / {fmt(p(one['latencies'], 0.99))}",
                "-",
                "-",
                None,
            )
        )
        rows.append(
            Row(
                "one session: start of speech → first partial text, median s",
                "-",
                fmt(statistics.median(one["first_partial"]) if one["first_partial"] else None),
                "-",
                "before the turn ends",
                bool(one["first_partial"]),
            )
        )
        rows.append(
            Row(
                "WER, live vs the same audio as a file (baseline: 0)",
                "0",
                fmt(live_wer, 3),
                "-",
                f"≤ {TARGET_WER_GAP}",
                live_wer <= TARGET_WER_GAP,
            )
        )
        kept = 1 if max(one["latencies"] or [9.0]) < KEEP_UP_P99 else 0
        for count in (2,) if args.quick else (2, 3, 4):
            results = concurrent(server.url, pcm, count)
            worst = p([x for r in results for x in r["latencies"]], 0.99)
            rows.append(
                Row(
                    f"{count} sessions at once: completed p99 s",
                    fmt(p(one["latencies"], 0.99)),
                    fmt(worst),
                    "-",
                    f"< {KEEP_UP_P99}",
                    None,
                )
            )
            if worst is not None and worst < KEEP_UP_P99:
                kept = count
        rows.append(Row("sessions one CPU process keeps up with", "-", str(kept), "-", "-", None))
    print_table("Live transcription (/v1/realtime, tiny.en, CPU int8, 2 threads)", rows)
    return exit_code(rows)


if __name__ == "__main__":
    sys.exit(main())
