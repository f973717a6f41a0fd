"""faster-whisper (CTranslate2): the default engine, CPU int8 or GPU float16, optionally batched."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiotext.config import Settings
from audiotext.engine.base import (
    SAMPLE_RATE,
    SENTENCE_ENDS,
    Segment,
    TranscribeOptions,
    TranscriptInfo,
    Word,
    decoding_kwargs,
    held_while,
    shifted,
)
from audiotext.engine.bundled import bundled_model_path
from audiotext.engine.languages import Span, language_spans
from audiotext.engine.models import ModelManager
from audiotext.engine.vad import speech_regions
from audiotext.jobs.decoding import engine_vad_parameters
from audiotext.jobs.errors import EngineError

if TYPE_CHECKING:
    from audiotext.engine.base import Audio

# What one language detection hears: shorter stretches are padded (Whisper is unsure of a
# few words alone), longer ones cut to its window.
DETECT_SECONDS = (10.0, 30.0)
# Windows decoded at once on CPU, for long recordings (AUDIOTEXT_BATCHED_FROM_SECONDS).
# On 2 cores 4 was quicker than 2, 8 or 16 (20 min of speech: 18.0, 20.6, 21.3, 22.1 s).
CPU_BATCH_SIZE = 4
# The batched pipeline's workers on CPU, and CTranslate2's threads when told 0.
BATCHED_WORKERS = 2
CT2_DEFAULT_THREADS = 4
Split = Callable[[Segment], list[Segment]]


def resolve_model(name: str, model_dir: Path | None = None) -> str:
    """A model directory path or a name faster-whisper can fetch; bundled models win."""
    if os.path.isdir(name):
        return name
    bundled = bundled_model_path(name, model_dir)
    return str(bundled) if bundled else name


# With early text (a streamed job), the first stretch ends at the first pause in this span
# of seconds, and the rest is decoded after it, in the language found in it.
EARLY_TEXT_SECONDS = (5.0, 20.0)


class FasterWhisperEngine:
    name = "faster-whisper"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.models = ModelManager(settings.model_ttl_seconds)
        # Long recordings on CPU: the same models, loaded with workers (batched_layout).
        self.batched_models = ModelManager(settings.model_ttl_seconds)

    @property
    def device(self) -> str:
        if self.settings.device != "auto":
            return self.settings.device
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"

    @property
    def compute_type(self) -> str:
        if self.settings.compute_type != "default":
            return self.settings.compute_type
        return "float16" if self.device == "cuda" else "int8"

    def batch_size(self, audio: Audio, options: TranscribeOptions) -> int:
        """How many windows are decoded at once (0: the sequential pipeline). On CPU a long
        recording is batched too: its windows are cut at pauses by VAD, so they need VAD."""
        if self.settings.batch_size > 0:
            return self.settings.batch_size
        long = len(audio) >= self.settings.batched_from_seconds * SAMPLE_RATE
        if self.settings.batched_from_seconds and long and options.vad_filter:
            return CPU_BATCH_SIZE if self.device == "cpu" else 0
        return 0

    @property
    def batched_layout(self) -> tuple[int, int]:
        """The batched pipeline's model on CPU: (workers, threads each). Two workers of half
        the threads, each decoding half of every batch, are 1.3 times quicker than one on
        them all (2 cores, bench/RESULTS.md)."""
        cores = self.settings.cpu_threads or min(CT2_DEFAULT_THREADS, len(os.sched_getaffinity(0)))
        workers = min(BATCHED_WORKERS, cores)
        return workers, max(1, cores // workers)

    def _load_batched(self, model: str) -> Any:
        workers, threads = self.batched_layout
        return self._load(model, threads, workers)

    def _load(self, model: str, threads: int | None = None, workers: int = 1) -> Any:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise EngineError(
                "faster-whisper is not installed (install audiotext[engine])"
            ) from exc
        location = resolve_model(model, self.settings.model_dir)
        threads = self.settings.cpu_threads if threads is None else threads
        return WhisperModel(
            location,
            device=self.device,
            compute_type=self.compute_type,
            cpu_threads=threads,
            num_workers=workers,
            download_root=str(self.settings.model_dir) if self.settings.model_dir else None,
            local_files_only=os.path.isdir(location),
        )

    def transcribe(
        self, audio: Audio, options: TranscribeOptions
    ) -> tuple[Iterator[Segment], TranscriptInfo]:
        # The model stays loaded until the last segment is out (segments come lazily).
        held = ExitStack()
        batch = self.batch_size(audio, options)
        workers = self.batched_layout[0] if batch and self.device == "cpu" else 1
        if workers > 1:
            model = held.enter_context(self.batched_models.use(options.model, self._load_batched))
        else:
            model = held.enter_context(self.models.use(options.model, self._load))
        try:
            kwargs = decoding_kwargs(options)
            kwargs.update(vad_filter=options.vad_filter, beam_size=options.beam_size)
            if options.hotwords:
                kwargs["hotwords"] = options.hotwords
            if options.vad_filter and options.vad_parameters:
                kwargs["vad_parameters"] = engine_vad_parameters(options.vad_parameters)
            runner: Any = model
            if batch:
                from audiotext.engine.batched import PrimedBatchedPipeline

                runner = PrimedBatchedPipeline(model, options.lead_in, workers)
                # Whole windows, decoded without timestamps (with them, a window whose decode
                # stops early loses the rest of its speech), then cut into sentences by their
                # words' times.
                kwargs.update(batch_size=batch, word_timestamps=True)
            languages = None
            found: list[Span] = []
            if options.language is None and model.model.is_multilingual:
                found, languages = language_spans(audio, lambda part: _detect(model, part))
            pieces: list[tuple[int, int, str | None]] = [
                (s.start, s.end, s.language) for s in found
            ]
            pieces = pieces or [(0, len(audio), options.language)]
            if options.early_text:
                pieces = _with_early_stretch(audio, pieces)
            start, end, language = pieces[0]
            raw, info = runner.transcribe(audio[start:end], **{**kwargs, "language": language})
            # Each piece in its own language; without detection, in the first one's.
            split = _sentences(options.word_timestamps) if batch else None
            segments = _decoded(
                _segments(raw, (languages is not None and language) or None, split),
                runner,
                audio,
                pieces[1:],
                language or info.language,
                kwargs,
                tag=languages is not None,
                split=split,
            )
        except BaseException:
            held.close()
            raise
        main = languages[0] if languages else None
        return held_while(segments, held), TranscriptInfo(
            language=main.language if main else info.language,
            language_probability=main.probability if main else float(info.language_probability),
            duration=len(audio) / SAMPLE_RATE,
            languages=languages,
        )


def _detect(model: Any, audio: Audio) -> tuple[str, float]:
    """The language of a stretch of speech, from an encoder pass over that stretch alone.

    faster-whisper pads every detection to Whisper's 30 s window; the encoder takes shorter
    input, and over a stretch of 8 to 25 s it tells the language as well at a fraction of the
    cost (a pass over 10 s is about 6 times cheaper), which is what lets the whole file be
    looked at."""
    import numpy as np

    least, most = DETECT_SECONDS
    clip = audio[: int(most * SAMPLE_RATE)]
    if len(clip) < least * SAMPLE_RATE:
        clip = np.pad(clip, (0, int(least * SAMPLE_RATE) - len(clip)))
    features = model.feature_extractor(clip)[:, :-1]  # its last frame is past the audio
    results = model.model.detect_language(model.encode(features))[0]
    token, probability = results[0]
    return str(token[2:-2]), float(probability)  # "<|fr|>" → "fr"


def _with_early_stretch(
    audio: Audio, pieces: list[tuple[int, int, str | None]]
) -> list[tuple[int, int, str | None]]:
    """The first piece split at an early pause, so its first words come soon."""
    start, end, language = pieces[0]
    cut = early_cut(audio[start:end])
    if cut is None:
        return pieces
    return [(start, start + cut, language), (start + cut, end, language), *pieces[1:]]


def early_cut(audio: Audio) -> int | None:
    """Where to end a short first stretch (a sample index in a pause of speech), so its text
    comes out after a fraction of the decoding time; None when the audio is short or has no
    pause in the window (the decoder's own 30 s windows are no later)."""
    earliest, latest = EARLY_TEXT_SECONDS
    if len(audio) < 2 * latest * SAMPLE_RATE:
        return None
    window = audio[: int((latest + 5) * SAMPLE_RATE)]
    speech = speech_regions(window, min_silence_ms=200)
    for (_, end), (following, _) in itertools.pairwise(speech):
        pause = (end + following) // 2
        if earliest * SAMPLE_RATE <= pause <= latest * SAMPLE_RATE:
            return int(pause)
    return None


def _decoded(
    first: Iterator[Segment],
    runner: Any,
    audio: Audio,
    rest: list[tuple[int, int, str | None]],
    language: str,
    kwargs: dict[str, Any],
    *,
    tag: bool,
    split: Split | None,
) -> Iterator[Segment]:
    """The segments of the first piece, then those of each other piece of ``audio`` as
    segments of the whole; ``tag``: each says its piece's language."""
    count = 0
    for segment in first:
        count += 1
        yield segment
    for start, end, piece_language in rest:
        # Not primed with the text before: a prompt that long makes the small models drop
        # their timestamps and words (measured); the request's own prompt still applies.
        raw, _ = runner.transcribe(
            audio[start:end], **{**kwargs, "language": piece_language or language}
        )
        before = count
        for segment in _segments(raw, piece_language if tag else None, split):
            yield shifted(segment, start / SAMPLE_RATE, before)
            count += 1


def _segments(
    raw: Iterator[Any], language: str | None = None, split: Split | None = None
) -> Iterator[Segment]:
    index = 0
    for s in raw:
        segment = Segment(
            id=index,
            start=round(float(s.start), 3),
            end=round(float(s.end), 3),
            text=s.text,
            words=[
                Word(
                    start=round(float(w.start), 3),
                    end=round(float(w.end), 3),
                    word=w.word,
                    probability=round(float(w.probability), 4),
                )
                for w in (s.words or [])
            ],
            avg_logprob=float(s.avg_logprob),
            no_speech_prob=float(s.no_speech_prob),
            temperature=float(s.temperature or 0.0),
            tokens=[int(t) for t in s.tokens],
            language=language,
            compression_ratio=round(float(s.compression_ratio), 3),
        )
        for part in split(segment) if split else [segment]:
            yield replace(part, id=index)
            index += 1


def _sentences(keep_words: bool) -> Split:
    """A window's segment cut after each sentence (``keep_words``: the words stay on)."""

    def split(segment: Segment) -> list[Segment]:
        groups: list[list[Word]] = [[]]
        for word in segment.words:
            groups[-1].append(word)
            if word.word.rstrip().endswith(SENTENCE_ENDS):
                groups.append([])
        groups = [g for g in groups if g]
        if len(groups) <= 1:
            return [segment if keep_words else replace(segment, words=[])]
        return [
            replace(
                segment,
                start=group[0].start,
                end=group[-1].end,
                text="".join(w.word for w in group),
                words=group if keep_words else [],
                tokens=segment.tokens if i == 0 else [],  # the window's, counted once
            )
            for i, group in enumerate(groups)
        ]

    return split
