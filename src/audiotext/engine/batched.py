"""faster-whisper's batched pipeline, with each window primed with the text before it.

The stock pipeline decodes a batch of consecutive windows at once, so no window hears the
text of the one before it, as the sequential pipeline's do. Here the windows are dealt into
``batch_size`` runs of consecutive windows (the first part of the recording, the second, …),
and batch ``k`` holds window ``k`` of every run. Each window's predecessor in its run was
decoded in the batch before, so its text primes the window (the text of more windows before
it primed the tiny model worse, measured). A run's first window is primed by the last window
of the run before, heard first: one more batch per recording (about 6 % of its time).

Without timestamps nothing tells the batched pipeline that a window's decode stopped early
(or began late), and that speech is lost (faster-whisper#1179). So a window whose words leave
more than ``SKIPPED`` seconds of it uncovered has those stretches decoded again on their own,
and their words put in place.

On 20 min of varied speech (bench/long_audio.py), WER against the sequential pipeline's
0.069: primed windows 0.089 (54 words lost in 3 windows), with skipped speech heard again
0.076, with the runs' first windows primed too 0.071.

Segments still come out in time order: a run's are held until the runs before it are out.

On CPU the model may have workers (``workers``): each batch is dealt among them, and they decode
their shares at once (two of one thread are quicker than one of two, measured).
"""

from __future__ import annotations

import copy
import dataclasses
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from faster_whisper import BatchedInferencePipeline
from faster_whisper.audio import pad_or_trim
from faster_whisper.transcribe import Segment, Word

# A window whose text compresses better than this is a decoder loop: it primes nothing.
LOOPING = 2.4
# Speech no word covers for longer than this was skipped: pauses inside a window are shorter
# (the VAD keeps at most 0.8 s of a silence), and word times are good to a few tenths.
SKIPPED = 2.0


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


def uncovered(
    words: list[dict[str, Any]], start: float, end: float, least: float = SKIPPED
) -> list[tuple[float, float]]:
    """The stretches of ``start … end`` longer than ``least`` that no word covers."""
    stretches, at = [], start
    for word in sorted(words, key=lambda w: float(w["start"])):
        if word["start"] - at > least:
            stretches.append((at, float(word["start"])))
        at = max(at, float(word["end"]))
    if end - at > least:
        stretches.append((at, end))
    return stretches


def merged(parts: list[dict[str, Any]], encode: Any) -> list[dict[str, Any]]:
    """A window's parts and those heard again in its gaps, as one part: its words in time
    order, its text theirs."""
    words = sorted((w for part in parts for w in part["words"]), key=lambda w: float(w["start"]))
    text = "".join(w["word"] for w in words)
    first = parts[0]
    return [
        {
            **first,
            "start": min(p["start"] for p in parts),
            "end": max(p["end"] for p in parts),
            "text": text,
            "tokens": encode(text),
            "words": words,
        }
    ]


def looping(text: str) -> bool:
    data = text.encode()
    return bool(data) and len(data) / len(zlib.compress(data)) > LOOPING


class PrimedBatchedPipeline(BatchedInferencePipeline):  # type: ignore[misc]
    """The batched pipeline whose windows hear the text before them (see the module)."""

    _primes: list[list[int]]

    def __init__(self, model: Any, lead_in: str | None = None, workers: int = 1) -> None:
        super().__init__(model=model)
        self.lead_in = lead_in  # text said before the audio: the first window's prime
        self.workers = workers  # the model's: each decodes a share of every batch at once

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
        before = self._primes_for_runs(features, tokenizer, chunks_metadata, runs, options)
        decoded: dict[int, list[dict[str, Any]]] = {}
        out, number = 0, 0
        for step in range(max((len(run) for run in runs), default=0)):
            live = [r for r, run in enumerate(runs) if step < len(run)]
            # Prompts in one batch are cut to one length, so unprimed windows go apart.
            for group in ([r for r in live if not before[r]], [r for r in live if before[r]]):
                if not group:
                    continue
                windows = [runs[r][step] for r in group]
                results = self._decoded(
                    features,
                    tokenizer,
                    chunks_metadata,
                    windows,
                    [before[r] for r in group],
                    options,
                )
                for run, window, result in zip(group, windows, results, strict=True):
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

    def _decoded(
        self,
        features: Any,
        tokenizer: Any,
        chunks_metadata: list[dict[str, Any]],
        windows: list[int],
        primes: list[list[int]],
        options: Any,
    ) -> list[list[dict[str, Any]]]:
        """``windows`` decoded in one batch, each primed, with any speech they skipped."""
        batch = np.stack([features[w] for w in windows])
        metadata = [chunks_metadata[w] for w in windows]
        results = self._forward_all(batch, tokenizer, metadata, options, primes)
        if options.word_timestamps:
            results = self._heard_again(batch, tokenizer, metadata, results, options)
        return list(results)

    def _forward_all(
        self,
        features: Any,
        tokenizer: Any,
        metadata: list[dict[str, Any]],
        options: Any,
        primes: list[list[int]],
    ) -> list[list[dict[str, Any]]]:
        """``features`` decoded, each window with its prime: the batch dealt among the
        model's workers, each decoding its share at once."""

        def share(windows: list[int]) -> list[list[dict[str, Any]]]:
            worker = copy.copy(self)  # its own prompts and word-time state
            worker._primes = even([primes[w] for w in windows])
            # Word times are kept after the speech before them, and that is another run's.
            worker.last_speech_timestamp = 0.0
            part = features[windows[0] : windows[-1] + 1]
            return list(worker.forward(part, tokenizer, [metadata[w] for w in windows], options))

        shares = dealt(len(features), self.workers)
        if len(shares) == 1:
            return share(shares[0])
        with ThreadPoolExecutor(len(shares)) as pool:
            return [result for done in pool.map(share, shares) for result in done]

    def _primes_for_runs(
        self,
        features: Any,
        tokenizer: Any,
        metadata: list[dict[str, Any]],
        runs: list[list[int]],
        options: Any,
    ) -> list[list[int]]:
        """Each run's prime for its first window: the text of the window before it (the last
        of the run before), heard first, in one batch (its last 10 s alone primed no better
        than nothing; greedy primed a sharded job 0.6 WER points worse). The first run's is
        the lead-in, if any: the sequential pipeline's first window has none either."""
        first = tokenizer.encode(" " + self.lead_in.strip()) if self.lead_in else []
        before = [run[0] - 1 for run in runs[1:]]
        if not before:
            return [first for _ in runs]
        quick = dataclasses.replace(options, word_timestamps=False)
        windows = np.stack([features[w] for w in before])
        heard = self._forward_all(
            windows, tokenizer, [metadata[w] for w in before], quick, [[] for _ in before]
        )
        primes: list[list[int]] = [first]
        for parts in heard:
            text = "".join(part["text"] for part in parts)
            primes.append([] if looping(text) else [t for part in parts for t in part["tokens"]])
        return primes

    def _heard_again(
        self,
        features: Any,
        tokenizer: Any,
        metadata: list[dict[str, Any]],
        results: list[list[dict[str, Any]]],
        options: Any,
    ) -> list[list[dict[str, Any]]]:
        """``results`` with each window's skipped stretches decoded again, unprimed (a prime
        that ends as the stretch begins is what makes the decoder skip it), in one batch."""
        stretches = []
        for i, (window, parts) in enumerate(zip(metadata, results, strict=True)):
            offset, words = window["offset"], [w for part in parts for w in part["words"]]
            for start, end in uncovered(words, offset, offset + window["duration"]):
                stretches.append((i, start - offset, end - offset))
        if not stretches:
            return results
        fps = self.model.frames_per_second
        cut = [
            pad_or_trim(features[i][:, int(start * fps) : int(end * fps)])
            for i, start, end in stretches
        ]
        where = [
            {"offset": metadata[i]["offset"] + start, "duration": end - start, "segments": []}
            for i, start, end in stretches
        ]
        unprimed: list[list[int]] = [[] for _ in stretches]
        heard = self._forward_all(np.stack(cut), tokenizer, where, options, unprimed)
        found: dict[int, list[dict[str, Any]]] = {}
        for (i, _, _), parts in zip(stretches, heard, strict=True):
            found.setdefault(i, []).extend(
                p for p in parts if p["words"] and not _silent(p, options)
            )
        for i, parts in found.items():
            if parts:
                results[i] = merged(results[i] + parts, tokenizer.encode)
        return results

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


def _silent(part: dict[str, Any], options: Any) -> bool:
    """What the sequential pipeline would skip as no speech."""
    return bool(
        part["no_speech_prob"] > options.no_speech_threshold
        and part["avg_logprob"] < options.log_prob_threshold
    )


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
