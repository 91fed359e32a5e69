"""FedAvg over the train sites' replies (docs/algorithms.md §1, docs/flower.md §5-6):

    theta = sum_k (N_k / N) * theta_k        N_k = the reply's `num-examples`, N = sum_k N_k

computed per array as sum_k N_k * theta_k / N in float64 and stored as float32, in the global
model's array order (a FedSeg site expects its weights in its own order). A reply whose names or
shapes differ from the global model's, whose weight is not a positive number, or whose values are not
finite is left out with its reason; it never poisons the average.

Pure NumPy (no Flower import), unit-tested without a SuperLink.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NamedArrays = list[tuple[str, np.ndarray]]


@dataclass(frozen=True)
class Update:
    """One train site's reply: its trained weights by name and its `num-examples`."""

    node_id: int
    arrays: NamedArrays
    num_examples: float


def check_update(global_arrays: Sequence[tuple[str, np.ndarray]], update: Update) -> str | None:
    """Why `update` cannot be averaged into a model shaped like `global_arrays`, or None."""
    weight = update.num_examples
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        return f"num-examples must be a number, got {weight!r}"
    if not math.isfinite(weight) or weight <= 0:
        return f"num-examples must be > 0, got {weight!r}"
    theirs = dict(update.arrays)
    if len(theirs) != len(update.arrays):
        return "the reply names an array twice"
    ours = [name for name, _ in global_arrays]
    if set(theirs) != set(ours):
        missing = [n for n in ours if n not in theirs][:3]
        extra = [n for n in theirs if n not in set(ours)][:3]
        return f"array names differ from the global model's (missing {missing}, unexpected {extra})"
    for name, reference in global_arrays:
        arr = np.asarray(theirs[name])
        if tuple(arr.shape) != tuple(np.shape(reference)):
            return f"array {name} has shape {list(arr.shape)}, the global model's is {list(np.shape(reference))}"
        if not np.issubdtype(arr.dtype, np.number):
            return f"array {name} has dtype {arr.dtype}"
        if not np.all(np.isfinite(arr)):
            return f"array {name} has NaN or infinite values"
    return None


def fedavg(
    global_arrays: Sequence[tuple[str, np.ndarray]], updates: Sequence[Update]
) -> tuple[NamedArrays | None, list[Update], list[tuple[int, str]]]:
    """Average the valid `updates` weighted by num-examples.

    Returns (the new global model, or None when no update is valid; the updates used; the
    (node id, reason) of each update left out)."""
    accepted: list[Update] = []
    rejected: list[tuple[int, str]] = []
    for update in updates:
        reason = check_update(global_arrays, update)
        if reason is None:
            accepted.append(update)
        else:
            rejected.append((update.node_id, reason))
    if not accepted:
        return None, accepted, rejected
    total = float(sum(u.num_examples for u in accepted))
    by_name = [dict(u.arrays) for u in accepted]
    averaged: NamedArrays = []
    for name, reference in global_arrays:
        acc = np.zeros(np.shape(reference), dtype=np.float64)
        for update, arrays in zip(accepted, by_name):
            acc += float(update.num_examples) * np.asarray(arrays[name], dtype=np.float64)
        averaged.append((name, (acc / total).astype(np.float32)))
    return averaged, accepted, rejected
