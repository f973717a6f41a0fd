"""faster-whisper's batched pipeline, with each window primed with the text before it.

The stock pipeline decodes a batch of consecutive windows at once, so no window hears the
text of the one before it, as the sequential pipeline's do. On 20 min of speech that cost
3.3 WER points against the sequential pipeline (bench/long_audio.py); primed, 1.3. Here the
windows are dealt into ``batch_size`` runs of consecutive windows (the first part of the
recording, the second, …), and batch ``k`` holds window ``k`` of every run. Each window's
predecessor in its run was decoded in the batch before, so its text primes the window (the
text of more windows before it primed the tiny model worse, measured). Only each run's first
window goes unprimed.

Segments still come out in time order: a run's are held until the runs before it are out.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np
from faster_whisper import BatchedInferencePipeline
from faster_whisper.transcribe import Segment, Word

# A window whose text compresses better than this is a decoder loop: it primes nothing.
LOOPING = 2.4


def dealt(count: int, runs: int) -> list[list[int]]:
    """Windows ``0 … count-1`` in at most ``runs`` runs of consecutive windows, as even as
    can be (the longer runs first)."""
    size, longer = divmod(count, max(1, runs))
    dealt_runs, start = [], 0
    for run in range(max(1, runs)):
        length = size + (run < longer)
        if length:
            dealt_runs.append(list(range(start, start + length)))
        start += length
    return dealt_runs


def even(primes: list[list[int]]) -> list[list[int]]:
    """Each prime's last tokens, as many for every one (CTranslate2 decodes a batch whose
    prompts have one length); none when one has none."""
    keep = min((len(p) for p in primes), default=0)
    return [p[len(p) - keep :] for p in primes]


def looping(text: str) -> bool:
    data = text.encode()
    return bool(data) and len(data) / len(zlib.compress(data)) > LOOPING


class PrimedBatchedPipeline(BatchedInferencePipeline):  # type: ignore[misc]
    """The batched pipeline whose windows hear the text before them (see the module)."""

    _primes: list[list[int]]

    def _batched_segments_generator(  # faster-whisper's hook: all windows, in time order
        self,
        features: Any,
        tokenizer: Any,
        chunks_metadata: list[dict[str, Any]],
        batch_size: int,
        options: Any,
        log_progress: bool,
    ) -> Iterator[Segment]:
        runs = dealt(len(features), batch_size)
        before: list[list[int]] = [[] for _ in runs]
        decoded: dict[int, list[dict[str, Any]]] = {}
        out, number = 0, 0
        for step in range(max((len(run) for run in runs), default=0)):
            live = [r for r, run in enumerate(runs) if step < len(run)]
            windows = [runs[r][step] for r in live]
            self._primes = even([before[r] for r in live])
            # Word times are kept after the speech before them, and that is another run's.
            self.last_speech_timestamp = 0.0
            results = self.forward(
                np.stack([features[w] for w in windows]),
                tokenizer,
                [chunks_metadata[w] for w in windows],
                options,
            )
            for run, window, result in zip(live, windows, results, strict=True):
                decoded[window] = result
                tokens = [t for part in result for t in part["tokens"]]
                text = "".join(part["text"] for part in result)
                before[run] = [] if looping(text) else tokens
            while out in decoded:
                for part in decoded.pop(out):
                    number += 1
                    yield _segment(part, number, options)
                out += 1
        self.last_speech_timestamp = 0.0

    def generate_segment_batched(
        self, features: Any, tokenizer: Any, options: Any
    ) -> tuple[Any, list[dict[str, Any]]]:
        """One batch decoded, each window with its own prompt: the request's prompt, then the
        text of the window before it in its run."""
        primes = getattr(self, "_primes", None) or [[] for _ in range(len(features))]
        asked = tokenizer.encode(options.initial_prompt) if options.initial_prompt else []
        prompts = [
            self.model.get_prompt(
                tokenizer,
                previous_tokens=asked + prime,
                without_timestamps=options.without_timestamps,
                hotwords=options.hotwords,
            )
            for prime in primes
        ]
        longest = max(len(p) for p in prompts)
        max_length = self.model.max_length
        if options.max_new_tokens is not None:
            max_length = min(max_length, longest + options.max_new_tokens)
        encoder_output = self.model.encode(features)
        if options.multilingual:
            detected = self.model.model.detect_language(encoder_output)
            for prompt, languages in zip(prompts, detected, strict=True):
                where = prompt.index(tokenizer.language)
                prompt[where] = tokenizer.tokenizer.token_to_id(languages[0][0])
        results = self.model.model.generate(
            encoder_output,
            prompts,
            beam_size=options.beam_size,
            patience=options.patience,
            length_penalty=options.length_penalty,
            max_length=max_length,
            suppress_blank=options.suppress_blank,
            suppress_tokens=options.suppress_tokens,
            return_scores=True,
            return_no_speech_prob=True,
            sampling_temperature=options.temperatures[0],
            repetition_penalty=options.repetition_penalty,
            no_repeat_ngram_size=options.no_repeat_ngram_size,
        )
        decoded = []
        for result in results:
            tokens = result.sequences_ids[0]
            total = result.scores[0] * (len(tokens) ** options.length_penalty)
            decoded.append(
                {
                    "avg_logprob": total / (len(tokens) + 1),
                    "no_speech_prob": result.no_speech_prob,
                    "tokens": tokens,
                }
            )
        return encoder_output, decoded


def _segment(part: dict[str, Any], number: int, options: Any) -> Segment:
    words = None
    if options.word_timestamps:
        words = [Word(**word) for word in part["words"]]
    return Segment(
        id=number,
        seek=part["seek"],
        start=round(part["start"], 3),
        end=round(part["end"], 3),
        text=part["text"],
        tokens=part["tokens"],
        avg_logprob=part["avg_logprob"],
        compression_ratio=part["compression_ratio"],
        no_speech_prob=part["no_speech_prob"],
        words=words,
        temperature=options.temperatures[0],
    )
