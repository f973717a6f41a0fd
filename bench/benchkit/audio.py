"""Speech for the benchmarks: the real jfk.flac, and longer synthetic speech made with espeak-ng."""

from __future__ import annotations

import random
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


# Words for sentences that never repeat (``varied_speech``): a recording of one paragraph on
# repeat flatters any decoder that reads its own earlier text, which real speech never repeats.
# fmt: off
NAMES = (
    "Maria", "David", "Aisha", "Thomas", "Elena", "Kenji", "Sofia", "Omar", "Grace", "Lucas",
    "Priya", "Henry", "Nadia", "Samuel",
)
TEAMS = (
    "design", "sales", "support", "finance", "research", "legal", "marketing", "security",
)
THINGS = (
    "contract", "report", "budget", "schedule", "proposal", "invoice", "survey", "roadmap",
    "website", "warehouse", "presentation", "newsletter", "database", "interview", "workshop",
    "conference",
)
QUALITIES = (
    "new", "final", "revised", "quarterly", "detailed", "shorter", "early", "weekly", "careful",
)
DAYS = (
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
)
PLACES = (
    "London", "Chicago", "Madrid", "Toronto", "Berlin", "Sydney", "Dublin", "Lisbon",
)
DEEDS = (
    "review", "finish", "send", "prepare", "check", "print", "update", "share",
)
DONE = (
    "reviewed", "finished", "sent", "prepared", "checked", "printed", "updated", "shared",
)
FEELINGS = (
    "happy", "worried", "surprised", "pleased",
)
# fmt: on
TEMPLATES = (
    "{name} will {deed} the {quality} {thing} before {day}.",
    "The {team} team {done} the {thing} for the office in {place}.",
    "On {day} morning, {name} asked the {team} team about the {quality} {thing}.",
    "Everyone was {feeling} when {name} {done} the {thing} so early.",
    "Could you {deed} the {thing} and tell {name} by {day} afternoon?",
    "The {thing} from {place} arrived late, so the {team} team waited.",
    "{name} and {other} met in {place} to talk about the {thing}.",
    "After the {thing}, {name} flew to {place} for a {quality} workshop.",
)


def sentences(seed: int, count: int) -> list[str]:
    """``count`` sentences from ``TEMPLATES``, the same for a seed, hardly two alike."""
    rng = random.Random(seed)
    pick = rng.choice
    made = []
    for _ in range(count):
        name, other = rng.sample(NAMES, 2)
        made.append(
            pick(TEMPLATES).format(
                name=name,
                other=other,
                team=pick(TEAMS),
                thing=pick(THINGS),
                quality=pick(QUALITIES),
                day=pick(DAYS),
                place=pick(PLACES),
                deed=pick(DEEDS),
                done=pick(DONE),
                feeling=pick(FEELINGS),
            )
        )
    return made


def varied_speech(minutes: int) -> Path:
    """About ``minutes`` of espeak-ng speech in sentences that do not repeat, as 16 kHz mono
    FLAC, and what it says beside it (``said_in`` reads it); cached between runs."""
    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / f"varied-{minutes}min.flac"
    if target.exists():
        return target
    text = " ".join(sentences(minutes, minutes * 15))  # about 15 sentences a minute at 160 wpm
    wav = CACHE / f".varied-{minutes}min.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(wav), text],
        check=True,
        capture_output=True,
    )
    partial = CACHE / f".varied-{minutes}min.flac"
    subprocess.run(
        ["sox", str(wav), "-r", "16000", "-c", "1", str(partial)], check=True, capture_output=True
    )
    wav.unlink()
    target.with_suffix(".txt").write_text(text)
    partial.rename(target)
    return target


def said_in(file: Path) -> str:
    """What ``speech`` or ``varied_speech`` said in ``file``: the paragraph as many times as
    it fits, or the text kept beside it."""
    if file.with_suffix(".txt").exists():
        return file.with_suffix(".txt").read_text()
    said = duration(file) / duration(CACHE / "paragraph.wav")
    return " ".join([PARAGRAPH] * max(1, round(said)))


def duration(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        return float(container.duration or 0) / 1_000_000
