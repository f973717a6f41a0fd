"""GPU path: float16 and the batched pipeline, as a real-time factor.

    python bench/gpu.py [--model large-v3-turbo] [--batch-size 16] [--minutes 10]

Runs only where CTranslate2 sees a CUDA device; elsewhere it prints what it would measure and
exits 0. The measured side is the engine the service uses (``FasterWhisperEngine`` with
``AUDIOTEXT_DEVICE=cuda``, ``AUDIOTEXT_COMPUTE_TYPE=float16``, ``AUDIOTEXT_BATCH_SIZE``); the
baseline is the sequential (unbatched) pipeline on the same GPU, same file and model.
"""

from __future__ import annotations

import argparse
import sys
import time

from benchkit import audio
from benchkit.report import Row, fmt, print_table

TARGET_X_REALTIME = 300.0


def cuda_devices() -> int:
    try:
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count())
    except Exception:
        return 0


def run_engine(model: str, batch_size: int, file_minutes: int) -> float:
    """Seconds to transcribe the synthetic speech with the service's engine."""
    from audiotext.audio import decode
    from audiotext.config import Settings
    from audiotext.engine import TranscribeOptions
    from audiotext.engine.faster_whisper import FasterWhisperEngine
    from audiotext.pipeline import transcribe_audio

    settings = Settings(device="cuda", compute_type="float16", batch_size=batch_size, model=model)
    engine = FasterWhisperEngine(settings)
    options = TranscribeOptions(model=model, language="en", vad_filter=True, beam_size=5)
    samples = decode(audio.jfk())
    transcribe_audio(engine, samples, options)  # load and warm the model
    samples = decode(audio.speech(file_minutes))
    start = time.perf_counter()
    transcribe_audio(engine, samples, options)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="large-v3-turbo")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--minutes", type=int, default=10, help="length of synthetic speech")
    parser.add_argument("--quick", action="store_true", help="1 minute of speech")
    args = parser.parse_args()
    if args.quick:
        args.minutes = 1
    title = f"GPU: {args.model}, float16, batched (batch {args.batch_size}) vs sequential"
    target = f"≥ {TARGET_X_REALTIME:.0f}x real time (one H100)"
    if cuda_devices() == 0:
        print_table(
            title,
            [
                Row(
                    f"{args.minutes} min speech: x real time, batched",
                    "not measured",
                    "not measured",
                    "-",
                    target,
                    None,
                )
            ],
            [
                "No CUDA device is visible to CTranslate2 on this machine, so nothing was "
                "measured. On a GPU machine this script loads the model with "
                "AUDIOTEXT_DEVICE=cuda and AUDIOTEXT_COMPUTE_TYPE=float16, transcribes "
                f"{args.minutes} min of speech with the sequential pipeline (baseline) and "
                f"with AUDIOTEXT_BATCH_SIZE={args.batch_size}, and reports audio seconds ÷ "
                "wall seconds for both (model warm, VAD on, beam 5)."
            ],
        )
        return 0
    seconds = audio.duration(audio.speech(args.minutes))
    sequential = run_engine(args.model, 0, args.minutes)
    batched = run_engine(args.model, args.batch_size, args.minutes)
    print_table(
        title,
        [
            Row(
                f"{args.minutes} min speech: x real time",
                fmt(seconds / sequential, 0),
                fmt(seconds / batched, 0),
                fmt(sequential / batched),
                target,
                seconds / batched >= TARGET_X_REALTIME,
            )
        ],
        ["Baseline: the sequential pipeline; measured: batched. Ratio: speed-up of batching."],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
