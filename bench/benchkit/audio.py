"""Speech for the benchmarks: the real jfk.flac, and longer synthetic speech made with espeak-ng."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from benchkit.processes import JFK

CACHE = Path(tempfile.gettempdir()) / "audiotext-bench-audio"

# Varied sentences, so the decoder sees ordinary speech rather than one phrase on repeat.
PARAGRAPH = (
    "The quarterly report is due on Friday, and the team still needs the final numbers. "
    "Maria will collect the sales figures from every region before the meeting on Monday. "
    "The new warehouse in the north opened two weeks ago and is already running at capacity. "
    "We should review the shipping contracts, because the costs rose by almost nine percent. "
    "After lunch, the engineers will present the design of the mobile application. "
    "Customers asked for an offline mode, a darker theme, and faster search results. "
    "The budget for the next year allows for three more people in support. "
    "Please send your comments on the draft by the end of the day on Thursday. "
    "The weather delayed two deliveries, but both arrived before the weekend. "
    "Finally, thank you all for the hard work during a very busy season."
)


def jfk() -> Path:
    return JFK


def speech(minutes: int) -> Path:
    """``minutes`` of synthetic English speech as 16 kHz mono FLAC (cached between runs)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / f"speech-{minutes}min.flac"
    if target.exists():
        return target
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        raise RuntimeError("espeak-ng and sox are needed to make the long recordings")
    base = CACHE / "paragraph.wav"
    if not base.exists():
        subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(base), PARAGRAPH],
            check=True,
            capture_output=True,
        )
    info = subprocess.run(
        ["soxi", "-D", str(base)], check=True, capture_output=True, text=True
    ).stdout
    seconds = float(info.strip())
    repeats = max(1, int(minutes * 60 / seconds + 0.999))
    partial = CACHE / f".speech-{minutes}min.flac"
    # Repeat the paragraph, then trim to the exact length; 16 kHz mono as Whisper reads it.
    subprocess.run(
        ["sox", str(base), "-r", "16000", "-c", "1", str(partial),
         "repeat", str(repeats - 1), "trim", "0", str(minutes * 60)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    partial.rename(target)
    return target


def said_in(file: Path) -> str:
    """What ``speech`` said in ``file``: the paragraph as many times as it fits."""
    said = duration(file) / duration(CACHE / "paragraph.wav")
    return " ".join([PARAGRAPH] * max(1, round(said)))


def duration(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        return float(container.duration or 0) / 1_000_000
