"""The speaker network's weights: resemblyzer's ``pretrained.pt``, read without torch.

The file is a pickle (PyTorch's legacy format: a few header pickles, the checkpoint pickle
whose tensors point at storages by key, a pickle of the storage keys, then each storage's raw
bytes). A pickle is code, so it is read with an unpickler that admits only what tensor data
needs, an ordered dict, tensor rebuilding and float storages, and refuses every other global.

The file comes from the resemblyzer wheel, fetched without its dependencies (it declares
torch) when AudioText is installed (``fetch``).
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from audiotext.jobs.errors import InvalidParameter

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_DTYPES: dict[str, type[np.generic]] = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "LongStorage": np.int64,
}


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: type[np.generic]
    size: int


@dataclass(frozen=True)
class _Tensor:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(
    storage: _Storage, offset: int, shape: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> _Tensor:
    return _Tensor(storage, int(offset), tuple(shape), tuple(stride))


class _TensorDataUnpickler(pickle.Unpickler):
    """Admits tensor data and nothing else: any other global is refused, not imported."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return name
        raise pickle.UnpicklingError(f"{module}.{name} is not tensor data; refusing to load it")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, kind, key, _location, size = pid[:5]
        return _Storage(str(key), _DTYPES[kind], int(size))


def _restricted_load(stream: IO[bytes]) -> Any:
    return _TensorDataUnpickler(stream).load()


def read_state(path: Path) -> dict[str, np.ndarray]:
    """The ``model_state`` tensors of a legacy PyTorch checkpoint, as float32 arrays."""
    with path.open("rb") as stream:
        if _restricted_load(stream) != LEGACY_MAGIC:
            raise InvalidParameter(f"{path} is not a PyTorch checkpoint in the legacy format")
        _restricted_load(stream)  # protocol version
        _restricted_load(stream)  # sizes of C types on the saving machine
        checkpoint = _restricted_load(stream)
        keys = _restricted_load(stream)
        storages: dict[str, np.ndarray] = {}
        wanted = _storages_of(checkpoint)
        for key in keys:
            count = int(np.frombuffer(stream.read(8), "<i8")[0])
            dtype = wanted[key].dtype if key in wanted else np.float32
            data = stream.read(count * np.dtype(dtype).itemsize)
            storages[key] = np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<"))
    state = checkpoint.get("model_state") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise InvalidParameter(f"{path} has no model_state")
    return {name: _materialise(t, storages) for name, t in state.items() if isinstance(t, _Tensor)}


def _storages_of(checkpoint: Any) -> dict[str, _Storage]:
    found: dict[str, _Storage] = {}
    pending = [checkpoint]
    while pending:
        item = pending.pop()
        if isinstance(item, _Tensor):
            found[item.storage.key] = item.storage
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return found


def _materialise(tensor: _Tensor, storages: dict[str, np.ndarray]) -> np.ndarray:
    data = storages[tensor.storage.key]
    itemsize = data.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        data[tensor.offset :],
        shape=tensor.shape,
        strides=tuple(s * itemsize for s in tensor.stride),
    )
    return np.ascontiguousarray(view, dtype=np.float32)
