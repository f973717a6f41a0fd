"""The speaker network (resemblyzer's voice encoder) on numpy: 40-band mel power spectrogram,
a 3-layer LSTM, a linear projection with ReLU, and L2 normalisation.

Each 1.6 s window of speech becomes a 256-dimensional embedding; two windows of one voice lie
close together (cosine similarity), windows of different voices far apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from audiotext.diarization.weights import read_state

Array = npt.NDArray[np.float32]
SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
WINDOW_FRAMES = 160  # 1.6 s: what the network was trained on
WINDOW_SAMPLES = WINDOW_FRAMES * HOP
LAYERS = 3
TARGET_DBFS = -30.0
INT16_MAX = 2**15 - 1


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The Slaney mel scale: linear below 1 kHz, logarithmic above."""
    mel = hz / (200.0 / 3)
    log_region = hz >= 1000.0
    mel[log_region] = 15.0 + np.log(hz[log_region] / 1000.0) / (np.log(6.4) / 27.0)
    return mel


def _mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    hz = mel * (200.0 / 3)
    log_region = mel >= 15.0
    hz[log_region] = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel[log_region] - 15.0))
    return hz


def mel_filterbank(
    sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS
) -> npt.NDArray[np.float64]:
    """Triangular filters on the Slaney mel scale, area-normalised (librosa's defaults)."""
    fft_hz = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    edges = np.array([0.0, sample_rate / 2])
    low, high = _hz_to_mel(edges)
    mel_hz = _mel_to_hz(np.linspace(low, high, n_mels + 2))
    widths = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return weights * (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]


_FILTERS = mel_filterbank()
_HANN = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic


def mel_spectrogram(samples: Array, gain: float = 1.0, block: int = 4096) -> Array:
    """(frames, 40) mel power spectrogram of ``samples`` made ``gain`` times louder, centred
    frames every 10 ms (not logarithmic).

    Computed ``block`` frames at a time, so an hour of audio never holds more than one block's
    spectrum (the whole one would take gigabytes), nor a louder copy of itself.
    """
    padded = np.pad(samples, N_FFT // 2)
    count = 1 + (len(padded) - N_FFT) // HOP
    mel = np.empty((count, N_MELS), np.float32)
    offsets = np.arange(N_FFT)[None, :]
    for first in range(0, count, block):
        frames = np.arange(first, min(count, first + block))[:, None] * HOP + offsets
        louder = padded[frames] * np.float32(gain)  # as a louder float32 copy would hold it
        spectrum = np.abs(np.fft.rfft(louder.astype(np.float64) * _HANN, n=N_FFT)) ** 2
        mel[first : first + len(frames)] = spectrum @ _FILTERS.T
    return mel


def volume_gain(parts: Sequence[Array]) -> float:
    """The factor that raises quiet audio (the ``parts`` of it taken together, with no copy
    made of them) to -30 dBFS, the level the network was trained at; 1 for audio already
    louder (it is never lowered)."""
    count = sum(len(part) for part in parts)
    energy = sum(float(np.dot(part.astype(np.float64), part)) for part in parts)
    rms = float(np.sqrt(energy / count)) * INT16_MAX if count else 0.0
    if rms <= 0:
        return 1.0
    change = TARGET_DBFS - 20 * np.log10(rms / INT16_MAX)
    return 1.0 if change < 0 else float(10 ** (change / 20))


def _sigmoid(x: Array) -> Array:
    result: Array = 0.5 * (1.0 + np.tanh(0.5 * x))  # exact, and free of overflow warnings
    return result


class SpeakerEncoder:
    """The pretrained voice encoder; thread-safe (it keeps no state between calls)."""

    name = "resemblyzer"

    def __init__(self, weights: Path) -> None:
        state = read_state(weights)
        self.layers = [
            (
                state[f"lstm.weight_ih_l{i}"].T.copy(),
                state[f"lstm.weight_hh_l{i}"].T.copy(),
                state[f"lstm.bias_ih_l{i}"] + state[f"lstm.bias_hh_l{i}"],
            )
            for i in range(LAYERS)
        ]
        self.projection = state["linear.weight"].T.copy()
        self.projection_bias = state["linear.bias"]

    def forward(self, mels: Array) -> Array:
        """(batch, frames, 40) mel windows → (batch, 256) unit-length embeddings."""
        sequence = mels
        hidden = np.zeros((mels.shape[0], 0), np.float32)
        for w_input, w_hidden, bias in self.layers:
            size = w_hidden.shape[0]
            projected = sequence @ w_input + bias  # every time step at once
            hidden = np.zeros((mels.shape[0], size), np.float32)
            cell = np.zeros_like(hidden)
            outputs = np.empty((mels.shape[0], mels.shape[1], size), np.float32)
            for t in range(mels.shape[1]):
                gates = projected[:, t] + hidden @ w_hidden
                i, f, g, o = np.split(gates, 4, axis=1)  # PyTorch's order of the gates
                cell = _sigmoid(f) * cell + _sigmoid(i) * np.tanh(g)
                hidden = _sigmoid(o) * np.tanh(cell)
                outputs[:, t] = hidden
            sequence = outputs
        raw = np.maximum(hidden @ self.projection + self.projection_bias, 0.0)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        unit: Array = (raw / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit

    def embed_windows(
        self, samples: Array, starts: list[int], gain: float = 1.0, batch: int = 64
    ) -> Array:
        """The embedding of each 1.6 s window of ``samples`` starting at ``starts`` (samples),
        heard ``gain`` times louder."""
        mel = mel_spectrogram(samples, gain)
        frames = [min(s // HOP, max(0, len(mel) - WINDOW_FRAMES)) for s in starts]
        if len(mel) < WINDOW_FRAMES:
            mel = np.pad(mel, ((0, WINDOW_FRAMES - len(mel)), (0, 0)))
        embeddings = [
            self.forward(np.stack([mel[f : f + WINDOW_FRAMES] for f in frames[i : i + batch]]))
            for i in range(0, len(frames), batch)
        ]
        if not embeddings:
            return np.zeros((0, 256), np.float32)
        stacked: Array = np.concatenate(embeddings)
        return stacked
