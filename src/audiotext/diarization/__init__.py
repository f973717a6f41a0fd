"""Who spoke: speech regions (the Silero VAD faster-whisper ships) → 1.6 s windows → speaker
embeddings (``encoder``) → clustering → speaker turns → the speaker of every word and segment.

The speaker network is a second model type beside the ASR engine: ``SpeakerModels`` loads it
once per process, on the first job that diarizes (jobs that do not never load it, and this
module imports no numpy: the gateway, which has none, checks requests with it).
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from audiotext.jobs.errors import InvalidParameter

if TYPE_CHECKING:
    from audiotext.diarization.diarizer import Diarizer

MAX_SPEAKERS = 20
WEIGHTS_FILE = "speaker-encoder-resemblyzer-0.1.4.pt"


def default_path() -> Path:
    """Where the weights are installed: beside this environment's other data files."""
    return Path(sys.prefix) / "share" / "audiotext" / WEIGHTS_FILE


@dataclass(frozen=True)
class DiarizeOptions:
    min_speakers: int = 1
    max_speakers: int = MAX_SPEAKERS

    @classmethod
    def of(cls, options: dict[str, object]) -> DiarizeOptions:
        """From a job's options (``min_speakers`` / ``max_speakers``, each optional)."""
        low, high = options.get("min_speakers"), options.get("max_speakers")
        return cls(
            min_speakers=int(low) if isinstance(low, int) else 1,
            max_speakers=int(high) if isinstance(high, int) else MAX_SPEAKERS,
        )

    def within_a_shard(self) -> DiarizeOptions:
        """The bounds for one shard of a recording: at most ``max_speakers``, but perhaps
        fewer than ``min_speakers`` (not every voice speaks in every shard); the stitch
        applies both over the whole recording."""
        return replace(self, min_speakers=1)


def check_speaker_counts(min_speakers: int | None, max_speakers: int | None) -> None:
    """1 ≤ min ≤ max ≤ 20, each optional: the same check for every way a job arrives."""
    for name, value in (("min_speakers", min_speakers), ("max_speakers", max_speakers)):
        if value is not None and not 1 <= value <= MAX_SPEAKERS:
            raise InvalidParameter(f"{name} must be between 1 and {MAX_SPEAKERS}")
    if min_speakers is not None and max_speakers is not None and min_speakers > max_speakers:
        raise InvalidParameter("min_speakers must not be larger than max_speakers")


class SpeakerModels:
    """The speaker network of this process: loaded once, on first use, shared by threads."""

    def __init__(self, weights: Path | None) -> None:
        self.weights = weights or default_path()
        self._diarizer: Diarizer | None = None
        self._lock = threading.Lock()

    def get(self) -> Diarizer:
        with self._lock:
            if self._diarizer is None:
                if not self.weights.is_file():
                    raise InvalidParameter(
                        f"diarization needs the speaker model at {self.weights}; install it "
                        "with `python -m audiotext.diarization.fetch install`"
                    )
                from audiotext.diarization.diarizer import Diarizer
                from audiotext.diarization.encoder import SpeakerEncoder

                self._diarizer = Diarizer(SpeakerEncoder(self.weights))
            return self._diarizer
