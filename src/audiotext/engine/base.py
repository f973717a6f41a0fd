"""The speech engine interface and the transcript types every other part speaks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from audiotext.jobs.choices import Task

if TYPE_CHECKING:
    # numpy comes with the engine extra; the gateway image has neither and needs neither.
    import numpy as np
    import numpy.typing as npt

    Audio = npt.NDArray[np.float32]
SAMPLE_RATE = 16_000

# What ends a sentence, the ideographic marks too.
SENTENCE_ENDS = (".", "?", "!", "\u3002", "\uff1f", "\uff01")


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float
    speaker: str | None = None  # with diarization


@dataclass(frozen=True)
class Segment:
    id: int
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    temperature: float = 0.0
    speaker: str | None = None  # with diarization
    tokens: list[int] = field(default_factory=list)  # the decoder's text tokens
    language: str | None = None  # where the file's language was detected over its whole length
    compression_ratio: float = 0.0  # of its text (gzip): repetitive text compresses well
    confidence: str = "high"  # high, medium or low (engine.hallucination)
    repetition_cut: bool = False  # a decoder loop was cut off its end


@dataclass(frozen=True)
class Speaker:
    """One voice diarization found, and how long it spoke."""

    id: str
    seconds: float


@dataclass(frozen=True)
class LanguageShare:
    """One language of a file: its seconds of speech, and how sure the detection was."""

    language: str
    seconds: float
    probability: float


@dataclass(frozen=True)
class TranscriptInfo:
    language: str
    language_probability: float
    duration: float
    languages: list[LanguageShare] | None = None  # detected over the whole file


@dataclass
class Transcript:
    language: str
    duration: float
    segments: list[Segment]
    task: str = "transcribe"
    speakers: list[Speaker] | None = None  # None: not diarized
    languages: list[LanguageShare] | None = None  # None: one language, given or detected once

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())

    @property
    def diarized(self) -> bool:
        return self.speakers is not None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "text": self.text,
            "language": self.language,
            "duration": self.duration,
            "task": self.task,
            "segments": [segment_dict(s) for s in self.segments],
        }
        if self.speakers is not None:
            body["speakers"] = [asdict(s) for s in self.speakers]
        if self.languages is not None:
            body["languages"] = [asdict(share) for share in self.languages]
        return body

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        segments = [
            Segment(**{**s, "words": [Word(**w) for w in s.get("words", [])]})
            for s in data.get("segments", [])
        ]
        speakers = data.get("speakers")
        languages = data.get("languages")
        return cls(
            language=data.get("language", ""),
            duration=float(data.get("duration", 0.0)),
            segments=segments,
            task=data.get("task", "transcribe"),
            speakers=None if speakers is None else [Speaker(**s) for s in speakers],
            languages=None if languages is None else [LanguageShare(**x) for x in languages],
        )


def segment_dict(segment: Segment) -> dict[str, Any]:
    """A segment as the JSON transcript and the live text of a job's events carry it."""
    return _without_speaker(asdict(segment))


def _without_speaker(fields: dict[str, Any]) -> dict[str, Any]:
    """A segment's or word's fields; ``speaker`` only where diarization set it (and a
    segment's ``language`` only where the file's languages were detected)."""
    for optional in ("speaker", "language"):
        if fields.get(optional) is None:
            fields.pop(optional, None)
    if "words" in fields:
        fields["words"] = [_without_speaker(w) for w in fields["words"]]
    return fields


@dataclass(frozen=True)
class TranscribeOptions:
    model: str
    language: str | None = None
    task: Task = "transcribe"
    prompt: str | None = None
    temperature: float | None = None
    word_timestamps: bool = True
    vad_filter: bool = True
    beam_size: int = 5
    hotwords: str | None = None
    # Text soon rather than in one pass: a short first stretch is decoded on its own first
    # (what a streaming client waits on).
    early_text: bool = False
    vad_parameters: dict[str, float] | None = None  # Silero VAD's (jobs.decoding's names)
    # What was said just before this audio (the shard before, in local mode): it primes the
    # first window of the batched pipeline, as the text before primes every other.
    lead_in: str | None = None


def decoding_kwargs(options: TranscribeOptions) -> dict[str, Any]:
    """The options both Whisper implementations name the same way."""
    kwargs: dict[str, Any] = {
        "language": options.language,
        "task": options.task,
        "initial_prompt": options.prompt,
        "word_timestamps": options.word_timestamps,
    }
    if options.temperature is not None:
        kwargs["temperature"] = options.temperature
    return kwargs


def held_while(segments: Iterator[Segment], held: ExitStack) -> Iterator[Segment]:
    """``segments``, keeping what ``held`` holds (the model) until the last is out or the
    reader stops."""
    with held:
        yield from segments


class Engine(Protocol):
    name: str

    def transcribe(
        self, audio: Audio, options: TranscribeOptions
    ) -> tuple[Iterator[Segment], TranscriptInfo]:
        """Start transcribing; segments are produced lazily, as the engine decodes them."""


def shifted(segment: Segment, seconds: float, ids: int) -> Segment:
    """``segment`` of audio that started ``seconds`` in, as a segment of the whole."""
    return replace(
        segment,
        id=segment.id + ids,
        start=round(segment.start + seconds, 3),
        end=round(segment.end + seconds, 3),
        words=[
            replace(w, start=round(w.start + seconds, 3), end=round(w.end + seconds, 3))
            for w in segment.words
        ],
    )
