"""Long recordings: the CPU path's speed and accuracy, and memory that does not grow with length.

    python bench/long_audio.py [--quick]

``audiotext serve`` with its defaults (tiny.en, CPU int8, 2 threads, the local executor; only
the upload limit raised for the files), espeak-ng speech: for speed and accuracy, sentences that
never repeat (benchkit.audio.varied_speech; one paragraph on repeat flatters the sequential
pipeline, whose prompt then holds its own earlier hearing of the very sentence it decodes); for
memory, the paragraph on repeat (benchkit.audio.speech).

- Speed: a 20 min recording as a job (its ``processing_time_seconds``: decode, shards,
  batched pipeline, store) against raw sequential faster-whisper on the same file, model and
  threads in this process (beam 5, VAD and word timestamps on, as the service decodes), the
  quicker of two runs each; target ≤ 0.50.
- Accuracy: the WER of both against what was said; target: the job's at most 0.005 worse.
- Memory: the server's peak RSS (sampled every 50 ms) during a 10 min and a 120 min job;
  target: the 120 min one at most 100 MB above the 10 min one.

``--quick``: 5 min for speed, 10 and 30 min for memory.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx
from benchkit import audio
from benchkit.processes import PeakRss, gateway
from benchkit.raw import raw_transcriber
from benchkit.report import Row, fmt, print_table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from wer import wer  # the tests' WER, one definition

THREADS = 2
RUNS = 2
TARGET_SPEED = 0.50
TARGET_WER = 0.005
TARGET_GROWTH_MB = 100
MB = 1024 * 1024


def job(url: str, file: Path) -> tuple[float, str]:
    """A job for ``file`` through the seed API: its processing time and its text."""
    with httpx.Client(base_url=url, timeout=600) as client, file.open("rb") as f:
        created = client.post(
            "/api/v1/job/transcribe", files={"file": (file.name, f, "audio/flac")}
        )
        created.raise_for_status()
        job_id = created.json()["id"]
        while True:
            status = client.get(f"/api/v1/job/status/{job_id}").json()
            if status["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.5)
        if status["status"] != "completed":
            raise RuntimeError(f"job {job_id} {status['status']}: {status['error_message']}")
        text = client.get(f"/api/v1/job/{job_id}/transcript", params={"format": "txt"}).text
        return float(status["processing_time_seconds"]), text


def raw_text(file: Path) -> tuple[float, str]:
    """Raw sequential faster-whisper, as the service decodes: its seconds and its text."""
    from faster_whisper import WhisperModel

    from audiotext.engine.bundled import bundled_model_path

    model = WhisperModel(
        str(bundled_model_path("tiny.en")), device="cpu", compute_type="int8", cpu_threads=THREADS
    )
    started = time.perf_counter()
    segments, _ = model.transcribe(str(file), beam_size=5, vad_filter=True, word_timestamps=True)
    text = " ".join(s.text.strip() for s in segments)
    return time.perf_counter() - started, text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 min; 10 and 30 min for memory")
    args = parser.parse_args()
    speed_minutes, memory_minutes = (5, (10, 30)) if args.quick else (20, (10, 120))
    long = audio.varied_speech(speed_minutes)
    raw_transcriber(THREADS)(audio.jfk())  # the model's files in the page cache
    # The quicker of two runs each: this machine's neighbours slow single runs by up to 1.6 times.
    raw_seconds, raw = min(raw_text(long) for _ in range(RUNS))
    env = {"AUDIOTEXT_MAX_UPLOAD_BYTES": str(1024 * MB)}
    with (
        tempfile.TemporaryDirectory(prefix="audiotext-bench-") as tmp,
        gateway(Path(tmp), env) as server,
    ):
        job(server.url, audio.jfk())  # the model loaded
        service_seconds, service = min(job(server.url, long) for _ in range(RUNS))
        peaks = {}
        for minutes in memory_minutes:
            with PeakRss(server.pid) as rss:
                job(server.url, audio.speech(minutes))
            peaks[minutes] = rss.peak / MB
    said = audio.said_in(long)
    raw_wer, service_wer = wer(said, raw), wer(said, service)
    short, longest = memory_minutes
    growth = peaks[longest] - peaks[short]
    rows = [
        Row(
            f"{speed_minutes} min: s, the job vs raw sequential",
            fmt(raw_seconds),
            fmt(service_seconds),
            fmt(service_seconds / raw_seconds),
            f"≤ {TARGET_SPEED:.2f}",
            service_seconds / raw_seconds <= TARGET_SPEED,
        ),
        Row(
            f"{speed_minutes} min: WER, the job vs raw sequential",
            fmt(raw_wer, 3),
            fmt(service_wer, 3),
            fmt(service_wer - raw_wer, 3),
            f"≤ +{TARGET_WER}",
            service_wer <= raw_wer + TARGET_WER,
        ),
        Row(
            f"server peak RSS MB, {short} min → {longest} min job",
            fmt(peaks[short], 0),
            fmt(peaks[longest], 0),
            f"+{growth:.0f} MB",
            f"≤ +{TARGET_GROWTH_MB} MB",
            growth <= TARGET_GROWTH_MB,
        ),
    ]
    print_table(f"Long recordings (tiny.en, CPU int8, {THREADS} threads)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
