"""Diarization: error rate on conversations of different voices, and its cost next to the ASR.

    python bench/diarization.py [--quick] [--minutes 60] [--shard-seconds 30]

Conversations of 2, 3 and 4 espeak-ng voices that clearly differ (en-us, en+f4, en-us+m7,
en+klatt2) taking turns of 2 to 8 s, in a fixed random order. The reference is each turn's span;
the hypothesis is the transcript's speaker turns (``rttm``), both on a 10 ms grid. Diarization
error rate = missed + false alarm + confusion over the reference speech, no collar; speakers are
mapped one to one for the least confusion. Cost: the wall time of ``Diarizer.diarize`` against
the ASR (tiny.en, int8, 2 threads, the service's options) of the same file, in the same run.
``--minutes N`` also diarizes N minutes (a conversation repeated) and reports the peak memory.
``--shard-seconds S`` also transcribes and diarizes each conversation in shards of S seconds,
each alone, as a long recording's pods do: the confusion then says how well the stitch gave
each voice one name over the shards.
"""

from __future__ import annotations

import argparse
import itertools
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchkit.report import Row, fmt, print_table

from audiotext import audio, sharding
from audiotext.config import Settings
from audiotext.diarization import DiarizeOptions
from audiotext.engine import EngineRegistry, TranscribeOptions, Transcript
from audiotext.formats import transcript_turns
from audiotext.pipeline import transcribe_audio, transcribe_file

VOICES = ("en-us", "en+f4", "en-us+m7", "en+klatt2")
SENTENCES = (
    "Yes, that works for me, thank you very much.",
    "Could you send me the numbers before lunch?",
    "I think we should move the launch to next week, the tests are not finished yet.",
    "Sure, I will look at it again this evening.",
    "The customer called twice this morning and asked about the new invoice format.",
    "We can ask the design team, they had a similar problem last year and solved it quickly.",
    "Fine, let us do that and meet again on Thursday.",
    "My flight lands at six, so I will join the call from the airport if the network allows.",
    "Who is writing the summary of this meeting?",
    "I can do it, but I need the slides from everyone by Friday afternoon at the latest.",
)
TARGET_CONFUSION = 0.02
TARGET_COST = 0.25
GRID = 0.01


def conversation(folder: Path, speakers: int, turns: int, seed: int) -> tuple[Path, list]:
    rng = random.Random(seed)
    parts, reference, start, last = [], [], 0.0, -1
    for i in range(turns):
        speaker = rng.choice([s for s in range(speakers) if s != last])
        last = speaker
        text = rng.choice(SENTENCES)
        part = folder / f"c{speakers}-{i}.wav"
        subprocess.run(["espeak-ng", "-v", VOICES[speaker], "-s", "165", "-w", str(part), text],
                       check=True)  # fmt: skip
        length = float(subprocess.run(["soxi", "-D", str(part)], capture_output=True,
                                      text=True, check=True).stdout)  # fmt: skip
        parts.append(str(part))
        reference.append((start, start + length, speaker))
        start += length
    path = folder / f"conversation-{speakers}.wav"
    subprocess.run(["sox", *parts, "-r", "16000", str(path)], check=True)
    return path, reference


def grid(turns: list[tuple[float, float, int]], length: int) -> list[int]:
    cells = [-1] * length
    for start, end, speaker in turns:
        for i in range(int(start / GRID), min(length, int(end / GRID))):
            cells[i] = speaker
    return cells


def error_rates(reference: list, transcript: Transcript) -> tuple[float, float, float]:
    """(missed, false alarm, confusion), each a fraction of the reference speech."""
    names = sorted({s for s, *_ in transcript_turns(transcript)})
    hypothesis = [(a, b, names.index(s)) for s, a, b, _ in transcript_turns(transcript)]
    length = int(max(reference[-1][1], transcript.duration) / GRID) + 1
    ref, hyp = grid(reference, length), grid(hypothesis, length)
    speech = sum(1 for r in ref if r >= 0)
    missed = sum(1 for r, h in zip(ref, hyp, strict=True) if r >= 0 and h < 0)
    false_alarm = sum(1 for r, h in zip(ref, hyp, strict=True) if r < 0 <= h)
    both = [(r, h) for r, h in zip(ref, hyp, strict=True) if r >= 0 and h >= 0]
    refs = sorted({r for r, _ in both})
    hyps = sorted({h for _, h in both})
    best = len(both)
    for chosen in itertools.permutations(hyps, min(len(refs), len(hyps))):
        mapping = dict(zip(refs, chosen, strict=False))
        best = min(best, sum(1 for r, h in both if mapping.get(r) != h))
    return missed / speech, false_alarm / speech, best / speech


def sharded_row(
    engines: EngineRegistry, path: Path, reference: list, speakers: int, shard_seconds: float
) -> Row:
    """The confusion of a conversation transcribed and diarized shard by shard, then stitched."""
    transcript = transcribe_file(
        engines.get(),
        path,
        TranscribeOptions(model="tiny.en"),
        diarizer=engines.speakers.get(),
        shard_seconds=shard_seconds,
    )
    shards = sharding.shard_count(audio.probe(path).duration or 0.0, shard_seconds)
    missed, false_alarm, confusion = error_rates(reference, transcript)
    found = len(transcript.speakers or [])
    return Row(
        f"{speakers} voices in {shards} shards of {shard_seconds:.0f} s: confusion "
        f"(DER {missed + false_alarm + confusion:.1%}; {found} speakers found)",
        "-",
        f"{confusion:.1%}",
        "-",
        f"≤ {TARGET_CONFUSION:.0%}",
        confusion <= TARGET_CONFUSION and found == speakers,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 and 3 speakers, 10 turns each")
    parser.add_argument("--minutes", type=int, default=0, help="also a file this long (memory)")
    parser.add_argument("--shard-seconds", type=float, default=0, help="also in shards this long")
    args = parser.parse_args()
    engines = EngineRegistry(Settings(cpu_threads=2))
    engine, diarizer = engines.get(), engines.speakers.get()
    options = TranscribeOptions(model="tiny.en")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="audiotext-bench-") as tmp:
        counts = (2, 3) if args.quick else (2, 3, 4)
        for speakers in counts:
            path, reference = conversation(Path(tmp), speakers, 10 if args.quick else 24, speakers)
            samples = audio.decode(path)
            transcribe_audio(engine, samples[: 16_000 * 5], options)  # warm
            start = time.perf_counter()
            transcript = transcribe_audio(engine, samples, options)
            asr = time.perf_counter() - start
            start = time.perf_counter()
            diarized = diarizer.diarize(samples, transcript, DiarizeOptions())
            cost = time.perf_counter() - start
            missed, false_alarm, confusion = error_rates(reference, diarized)
            found = len(diarized.speakers or [])
            rows.append(
                Row(
                    f"{speakers} voices, {reference[-1][1]:.0f} s: confusion "
                    f"(DER {missed + false_alarm + confusion:.1%}, missed {missed:.1%}, "
                    f"false alarm {false_alarm:.1%}; {found} speakers found)",
                    "-",
                    f"{confusion:.1%}",
                    "-",
                    f"≤ {TARGET_CONFUSION:.0%}",
                    confusion <= TARGET_CONFUSION and found == speakers,
                )
            )
            if args.shard_seconds:
                rows.append(sharded_row(engines, path, reference, speakers, args.shard_seconds))
            rows.append(
                Row(
                    f"{speakers} voices: diarization wall s vs the ASR's",
                    fmt(asr),
                    fmt(cost),
                    fmt(cost / asr),
                    f"≤ {TARGET_COST:.2f}",
                    cost / asr <= TARGET_COST,
                )
            )
        if args.minutes:
            path, _ = conversation(Path(tmp), 3, 24, 99)
            long = Path(tmp) / "long.wav"
            repeats = max(1, round(args.minutes * 60 / audio.probe(path).duration))
            subprocess.run(["sox", str(path), str(long), "repeat", str(repeats - 1)], check=True)
            samples = audio.decode(long)
            transcript = transcribe_audio(engine, samples, options)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            start = time.perf_counter()
            diarizer.diarize(samples, transcript, DiarizeOptions())
            rows.append(
                Row(
                    f"{len(samples) / 16_000 / 60:.0f} min: peak RSS MB before → after diarizing",
                    fmt(before, 0),
                    fmt(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
                    f"{time.perf_counter() - start:.0f} s",
                    "bounded",
                    None,
                )
            )
    print_table("Diarization (resemblyzer encoder on numpy, tiny.en ASR, 2 threads)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
