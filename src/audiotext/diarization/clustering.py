"""Speaker clustering (pure numpy): window embeddings → one label per window.

Agglomerative clustering with average linkage on cosine similarity: no random start, so the
same audio gets the same labels on every run. Clusters merge while their similarity stays
above a threshold (how many speakers there are is estimated) and always down to
``max_speakers``, never below ``min_speakers``. Labels are numbered in order of first
appearance, so SPEAKER_00 is whoever speaks first.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]
# Mean cosine similarity above which two groups of windows are taken for one voice.
SAME_SPEAKER = 0.72
# Above this many windows, clustering runs on an even subsample (memory and time are
# quadratic in it) and every window then takes its nearest speaker.
MAX_CLUSTERED = 1200


def cluster(
    embeddings: Array,
    min_speakers: int = 1,
    max_speakers: int = 20,
    threshold: float = SAME_SPEAKER,
) -> Labels:
    count = len(embeddings)
    if count == 0:
        return np.zeros(0, np.int64)
    picked = np.linspace(0, count - 1, min(count, MAX_CLUSTERED)).round().astype(np.int64)
    picked = np.unique(picked)
    groups = _agglomerate(embeddings[picked], min_speakers, max_speakers, threshold)
    centroids = np.stack([_unit(embeddings[picked][members].mean(0)) for members in groups])
    labels = np.argmax(embeddings @ centroids.T, axis=1)
    return _by_first_appearance(labels)


def _agglomerate(
    embeddings: Array, min_speakers: int, max_speakers: int, threshold: float
) -> list[npt.NDArray[np.int64]]:
    similarity = (embeddings @ embeddings.T).astype(np.float64)
    np.fill_diagonal(similarity, -np.inf)
    sizes = np.ones(len(embeddings))
    members: list[list[int]] = [[i] for i in range(len(embeddings))]
    alive = np.ones(len(embeddings), bool)
    clusters = len(embeddings)
    while clusters > max(1, min_speakers):
        flat = int(np.argmax(similarity))
        a, b = divmod(flat, len(similarity))
        if similarity[a, b] < threshold and clusters <= max_speakers:
            break
        # Average linkage: the merged row is the size-weighted mean of the two.
        merged = (sizes[a] * similarity[a] + sizes[b] * similarity[b]) / (sizes[a] + sizes[b])
        similarity[a], similarity[:, a] = merged, merged
        similarity[a, a] = -np.inf
        similarity[b], similarity[:, b] = -np.inf, -np.inf
        sizes[a] += sizes[b]
        members[a].extend(members[b])
        members[b] = []
        alive[b] = False
        clusters -= 1
    return [np.array(m, np.int64) for m, keep in zip(members, alive, strict=True) if keep]


def _unit(vector: Array) -> Array:
    return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)


def _by_first_appearance(labels: Labels) -> Labels:
    order: dict[int, int] = {}
    for label in labels.tolist():
        order.setdefault(label, len(order))
    return np.array([order[label] for label in labels.tolist()], np.int64)
