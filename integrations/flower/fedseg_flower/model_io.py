"""The global model as named float32 arrays on disk and in the final log line (docs/flower.md §6):
`initial-model` and `final_model.npz` are `.npz` files of the arrays by name, in the model's order,
and `FEDSEG_FINAL ... sha256=` is the SHA-256 of the arrays' float32 little-endian bytes concatenated
in that order, so a run's result can be compared with a FedSeg site's model without loading it.

Pure NumPy (no Flower import).
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

NamedArrays = list[tuple[str, np.ndarray]]


def as_float32(arrays: Sequence[tuple[str, np.ndarray]]) -> NamedArrays:
    """The arrays as C-ordered float32 (the dtype FedSeg sites send and train in, docs/flower.md §4)."""
    return [(name, np.ascontiguousarray(arr, dtype=np.float32)) for name, arr in arrays]


def load_npz(path: str | Path) -> NamedArrays:
    """The arrays of an `.npz` file by name, in the file's order, as float32.

    Raises ValueError naming the file when it is missing, not an `.npz`, empty, or holds
    non-finite values (a model that cannot be trained from)."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"initial-model {str(file)!r} does not exist")
    try:
        with np.load(file, allow_pickle=False) as npz:
            arrays = [(name, np.asarray(npz[name])) for name in npz.files]
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"initial-model {str(file)!r} is not a NumPy .npz file ({exc})") from exc
    if not arrays:
        raise ValueError(f"initial-model {str(file)!r} holds no arrays")
    for name, arr in arrays:
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
            raise ValueError(f"initial-model {str(file)!r}: array {name} is not finite numbers")
    return as_float32(arrays)


def save_npz(path: str | Path, arrays: Sequence[tuple[str, np.ndarray]]) -> None:
    """Write the arrays to an `.npz` with their names as keys, in order (np.savez keeps it)."""
    np.savez(Path(path), **{name: arr for name, arr in as_float32(arrays)})


def model_sha256(arrays: Sequence[tuple[str, np.ndarray]]) -> str:
    """Hex SHA-256 of the arrays' float32 little-endian bytes, concatenated in order."""
    digest = hashlib.sha256()
    for _, arr in arrays:
        digest.update(np.ascontiguousarray(arr, dtype="<f4").tobytes())
    return digest.hexdigest()
