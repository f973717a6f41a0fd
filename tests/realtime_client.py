"""A live-transcription client as a user's program is one: the official SDK's realtime
client, fed speech at real time."""

from __future__ import annotations

import base64
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from openai import OpenAI

from helpers import JFK


def jfk_pcm(silence_after: float = 2.0) -> bytes:
    pcm = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(JFK), "-ar", "24000", "-ac", "1",
         "-f", "s16le", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return pcm + bytes(int(24_000 * 2 * silence_after))


def stream_at_real_time(
    connection: Any, pcm: bytes, chunk_seconds: float = 0.1
) -> threading.Thread:
    """Send ``pcm`` at real time from a thread, as a microphone would."""
    step = int(24_000 * 2 * chunk_seconds)

    def feed() -> None:
        for i in range(0, len(pcm), step):
            connection.input_audio_buffer.append(audio=base64.b64encode(pcm[i : i + step]).decode())
            time.sleep(chunk_seconds)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    return thread


def live_session(url: str, pcm: bytes, api_key: str = "unused") -> list[Any]:
    client = OpenAI(api_key=api_key, base_url=f"{url}/v1")
    events: list[Any] = []
    with client.realtime.connect(extra_query={"intent": "transcription"}) as connection:
        connection.session.update(
            session={
                "type": "transcription",
                "audio": {
                    "input": {
                        "transcription": {"model": "whisper-1", "language": "en"},
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 400},
                    }
                },
            }
        )
        feeder = stream_at_real_time(connection, pcm)
        deadline = time.monotonic() + 60
        for event in connection:
            events.append(event)
            quiet = not feeder.is_alive()
            open_turns = sum(
                1 if e.type == "input_audio_buffer.committed" else
                -1 if e.type.endswith("transcription.completed") else 0
                for e in events
            )  # fmt: skip
            speaking = sum(
                1 if e.type.endswith("speech_started") else
                -1 if e.type.endswith("speech_stopped") else 0
                for e in events
            )  # fmt: skip
            if (quiet and open_turns == 0 and speaking == 0) or time.monotonic() > deadline:
                break
    return events


def microphone_wav(folder: Path) -> Path:
    """jfk.flac as Chromium's fake microphone plays it: plain 16-bit PCM WAV (it reads no
    other), with silence after so the turn ends."""
    speech = folder / "microphone.wav"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(JFK), "-af", "apad=pad_dur=3",
         "-ar", "48000", "-ac", "2", "-c:a", "pcm_s16le", str(speech)],
        check=True,
    )  # fmt: skip
    return speech


def live_view_text(url: str, key: str, folder: Path, timeout_ms: float = 90_000) -> str:
    """Blocking: the web app's Live view on ``url`` in Debian's chromium with a fake
    microphone, entered with ``key``; the text of its turns once JFK's words show."""
    from playwright.sync_api import expect, sync_playwright

    args = [
        "--no-sandbox",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone_wav(folder)}",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        try:
            page = browser.new_page()
            page.goto(f"{url}/#/live")
            page.get_by_label("Key", exact=True).fill(key)
            page.get_by_role("button", name="Use this key").click()
            page.get_by_role("button", name="Start").click()
            turns = page.locator("#live-turns")
            expect(turns).to_contain_text("your country", timeout=timeout_ms)
            text = turns.inner_text()
            page.get_by_role("button", name="Stop").click()
            return text
        finally:
            browser.close()
