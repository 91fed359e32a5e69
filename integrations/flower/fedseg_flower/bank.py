"""ELCFS amplitude banks (docs/algorithms.md §2, docs/flower.md §5): every train site that shared
its low-frequency amplitude windows (`query.spectra`) contributes one source; each train site's bank
holds the windows of every OTHER source site, never its own and never an unseen site's.

A window is `[C, 2b+1, 2b+1]`; a site's share is one float32 array `[n, C, 2b+1, 2b+1]`. All banks
of a run must hold windows of the same C and width (a site interpolates its own image spectra with
them), so a share of another shape is dropped here with a reason rather than failing a site later.

Pure NumPy (no Flower import), unit-tested without a SuperLink.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np


def check_share(windows: np.ndarray, max_half_width: int) -> str | None:
    """Why one site's `windows` array cannot go into a bank, or None when it can."""
    if windows.ndim != 4:
        return f"windows must be [n, C, w, w], got shape {list(windows.shape)}"
    n, channels, height, width = windows.shape
    if n == 0:
        return "no windows (n = 0)"
    if channels < 1 or height != width or width % 2 != 1:
        return f"a window must be [C, 2b+1, 2b+1], got {list(windows.shape[1:])}"
    if width > 2 * max_half_width + 1:
        return f"window width {width} exceeds 2*max-half-width+1 = {2 * max_half_width + 1}"
    if not np.issubdtype(windows.dtype, np.number):
        return f"windows must be numbers, got dtype {windows.dtype}"
    if not np.all(np.isfinite(windows)):
        return "windows contain NaN or infinite values"
    return None


def select_shares(
    shares: Mapping[int, np.ndarray], order: Sequence[int], max_half_width: int
) -> tuple[dict[int, np.ndarray], list[str]]:
    """Keep the shares that fit in a bank: each valid on its own, and all of one window shape
    (C, w). The shape kept is the one most sites shared; a tie goes to the site first in `order`.
    Returns the kept shares (float32, C order) by node id and one log line per dropped share."""
    notes: list[str] = []
    valid: dict[int, np.ndarray] = {}
    for node_id in order:
        if node_id not in shares:
            continue
        windows = np.asarray(shares[node_id])
        reason = check_share(windows, max_half_width)
        if reason is not None:
            notes.append(f"node {node_id}: amplitude windows dropped: {reason}")
            continue
        valid[node_id] = np.ascontiguousarray(windows, dtype=np.float32)
    if not valid:
        return {}, notes
    counts = Counter(tuple(w.shape[1:3]) for w in valid.values())
    best = max(counts.values())
    # Counter keeps first-seen order, and `valid` follows `order`: the tie goes to the earliest site.
    shape = next(s for s, c in counts.items() if c == best)
    kept: dict[int, np.ndarray] = {}
    for node_id, windows in valid.items():
        if tuple(windows.shape[1:3]) == shape:
            kept[node_id] = windows
        else:
            notes.append(
                f"node {node_id}: amplitude windows dropped: shape [C={windows.shape[1]}, "
                f"w={windows.shape[2]}] differs from the other sites' [C={shape[0]}, w={shape[1]}]"
            )
    return kept, notes


def build_banks(
    train_nodes: Sequence[int], shares: Mapping[int, np.ndarray]
) -> dict[int, list[tuple[int, np.ndarray]]]:
    """Each train node's bank: (source node id, windows) for every OTHER node that shared, in
    `train_nodes` order. A node whose bank is empty (no other site shared) trains as FedAvg."""
    return {
        node_id: [(src, shares[src]) for src in train_nodes if src != node_id and src in shares]
        for node_id in train_nodes
    }


def bank_record_names(count: int) -> list[str]:
    """The array names of a bank's ArrayRecord: `source-0`, `source-1`, ... (docs/flower.md §5)."""
    return [f"source-{i}" for i in range(count)]
