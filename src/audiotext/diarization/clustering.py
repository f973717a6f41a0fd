"""Speaker clustering (pure numpy): window embeddings → one label per window.

1. Agglomerative clustering of chunks (the mean of three consecutive windows, about 2.6 s of
   speech: one voice's chunks are far more alike than its windows, whose sounds differ), with
   average linkage on cosine similarity, while the two nearest groups are as alike as one
   voice's chunks (``SAME_SPEAKER``), and always down to ``max_speakers`` (never below
   ``min_speakers``): how many speakers there are is estimated.
2. A small group close to a larger one is dissolved into it: windows that straddle a change of
   speaker hold two voices at once and would otherwise make a speaker of their own. Such
   chunks come one at a time: a small group with two chunks in a row (someone who spoke for a
   while, if little) stays, as does one unlike every other.
3. A few rounds of assigning every window to its nearest group centre.

No random start anywhere, so the same audio gets the same labels on every run. Labels are
numbered in order of first appearance: SPEAKER_00 is whoever speaks first.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]
CHUNK_WINDOWS = 3
SAME_SPEAKER = 0.8
SMALL_GROUP = 0.15  # of the windows
NEAR_ANOTHER = 0.75  # centre similarity at which a small group is taken for a mixture
ROUNDS = 3
# Above this many chunks, the first step runs on an even subsample (its memory and time are
# quadratic in it).
MAX_CLUSTERED = 1200


def cluster(embeddings: Array, min_speakers: int = 1, max_speakers: int = 20) -> Labels:
    count = len(embeddings)
    if count == 0:
        return np.zeros(0, np.int64)
    chunks = _chunk_means(embeddings)
    picked = np.unique(
        np.linspace(0, len(chunks) - 1, min(len(chunks), MAX_CLUSTERED)).round().astype(int)
    )
    sample = chunks[picked]
    low = min(max(1, min_speakers), len(sample))
    groups = _agglomerate(sample, low, max(low, max_speakers))
    centres = _without_mixtures(sample, groups, low)
    for _ in range(ROUNDS):
        nearest = np.argmax(embeddings @ centres.T, axis=1)
        centres = np.stack(
            [
                unit(embeddings[nearest == c].mean(0)) if (nearest == c).any() else centres[c]
                for c in range(len(centres))
            ]
        )
    return _by_first_appearance(np.argmax(embeddings @ centres.T, axis=1))


def _chunk_means(embeddings: Array) -> Array:
    """Each run of ``CHUNK_WINDOWS`` consecutive windows (they come in time order) as one unit
    vector."""
    chunks = [
        unit(embeddings[i : i + CHUNK_WINDOWS].mean(0))
        for i in range(0, len(embeddings), CHUNK_WINDOWS)
    ]
    return np.stack(chunks)


def _agglomerate(embeddings: Array, low: int, high: int) -> Labels:
    size = len(embeddings)
    similarity = (embeddings @ embeddings.T).astype(np.float64)
    np.fill_diagonal(similarity, -np.inf)
    weights = np.ones(size)
    owner = np.arange(size)  # window → its group's representative
    groups = size
    while groups > low:
        a, b = divmod(int(np.argmax(similarity)), size)
        if similarity[a, b] < SAME_SPEAKER and groups <= high:
            break
        # Average linkage: the merged row is the size-weighted mean of the two.
        merged = (weights[a] * similarity[a] + weights[b] * similarity[b]) / (
            weights[a] + weights[b]
        )
        similarity[a], similarity[:, a] = merged, merged
        similarity[a, a] = -np.inf
        similarity[b], similarity[:, b] = -np.inf, -np.inf
        weights[a] += weights[b]
        owner[owner == b] = a
        groups -= 1
    _, labels = np.unique(owner, return_inverse=True)
    return labels.astype(np.int64)


def _without_mixtures(embeddings: Array, labels: Labels, low: int) -> Array:
    """The centres of the groups that stay (at least ``low`` of them)."""
    sizes = np.bincount(labels)
    order = np.argsort(-sizes, kind="stable")
    centres = [unit(embeddings[labels == order[0]].mean(0))]
    for group in order[1:]:
        centre = unit(embeddings[labels == group].mean(0))
        small = sizes[group] < max(2, SMALL_GROUP * len(labels))
        near = float(np.max(np.stack(centres) @ centre)) >= NEAR_ANOTHER
        mixture = small and near and not _has_run(labels, int(group))
        if not mixture or len(centres) < low:
            centres.append(centre)
    return np.stack(centres)


def _has_run(labels: Labels, group: int) -> bool:
    """Whether two chunks in a row (they are in time order) are of ``group``: someone who
    spoke for a while, not the odd chunk that straddles a change of speaker."""
    mine = labels == group
    return bool(np.any(mine[1:] & mine[:-1]))


def unit(vector: Array) -> Array:
    """``vector`` scaled to length 1 (a zero vector stays zero)."""
    return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)


def _by_first_appearance(labels: npt.NDArray[np.intp]) -> Labels:
    order: dict[int, int] = {}
    for label in labels.tolist():
        order.setdefault(label, len(order))
    return np.array([order[label] for label in labels.tolist()], np.int64)
