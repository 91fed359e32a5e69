"""What a ServerApp run leaves behind (docs/flower.md §6): one `FEDSEG round` line per round and a
`FEDSEG_FINAL` line in the run's log, and with `out-dir` set, `final_model.npz` and `history.json`:

    {"strategy", "nodes": {node_id: {"client", "site", "role"}},
     "banks": {node_id: [windows per source]},
     "rounds": [{"round", "updates": [{"node_id", "num_examples"}],
                 "evaluations": [{"node_id", "metrics": {...}}],
                 "errors": [{"node_id", "step", "reason"}]}]}

Pure Python/NumPy (no Flower import).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .model_io import model_sha256, save_npz


@dataclass
class RoundLog:
    """One round: the updates averaged, the evaluations received, the replies that failed."""

    round: int
    updates: list[dict[str, object]] = field(default_factory=list)
    evaluations: list[dict[str, object]] = field(default_factory=list)
    errors: list[dict[str, object]] = field(default_factory=list)

    def add_update(self, node_id: int, num_examples: float, metrics: Mapping[str, object] | None = None) -> None:
        """An update that went into this round's average, with the site's training metrics."""
        entry: dict[str, object] = {"node_id": node_id, "num_examples": num_examples}
        if metrics is not None:
            entry["metrics"] = {k: _jsonable(v) for k, v in metrics.items() if k != "num-examples"}
        self.updates.append(entry)

    def add_evaluation(self, node_id: int, metrics: Mapping[str, object]) -> None:
        """A node's evaluation metrics (non-finite values kept as null)."""
        self.evaluations.append({"node_id": node_id, "metrics": {k: _jsonable(v) for k, v in metrics.items()}})

    def add_error(self, node_id: int, step: str, reason: str) -> None:
        """A reply left out of this round (an error reply, a missing one, a mismatched model)."""
        self.errors.append({"node_id": node_id, "step": step, "reason": reason})


def mean_dice(evaluations: Sequence[Mapping[str, object]]) -> float | None:
    """The evaluations' `mean_dice` averaged by their `num-examples` (1 when absent or not
    positive); None when no evaluation reports a finite `mean_dice`."""
    total = 0.0
    weight = 0.0
    for evaluation in evaluations:
        metrics = evaluation.get("metrics")
        if not isinstance(metrics, Mapping):
            continue
        dice = metrics.get("mean_dice")
        if isinstance(dice, bool) or not isinstance(dice, (int, float)) or not math.isfinite(dice):
            continue
        n = metrics.get("num-examples")
        w = float(n) if isinstance(n, (int, float)) and not isinstance(n, bool) and n > 0 else 1.0
        total += w * float(dice)
        weight += w
    return total / weight if weight > 0 else None


def round_line(server_round: int, rounds: int, updates: int, dice: float | None) -> str:
    """`FEDSEG round r/R: n updates, mean_dice X` (X = n/a when no site reported a Dice)."""
    shown = "n/a" if dice is None else f"{dice:.6f}"
    return f"FEDSEG round {server_round}/{rounds}: {updates} updates, mean_dice {shown}"


def final_line(rounds: int, arrays: Sequence[tuple[str, np.ndarray]]) -> str:
    """`FEDSEG_FINAL rounds=R arrays=<count> sha256=<hex>` (model_io.model_sha256)."""
    return f"FEDSEG_FINAL rounds={rounds} arrays={len(arrays)} sha256={model_sha256(arrays)}"


def _jsonable(value: object) -> object:
    """Metric values as JSON: non-finite floats become null (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@dataclass
class History:
    """The run's record, written to `history.json`."""

    strategy: str
    nodes: dict[int, dict[str, str]] = field(default_factory=dict)
    banks: dict[int, list[int]] = field(default_factory=dict)
    rounds: list[RoundLog] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """The JSON object of `history.json`."""
        return {
            "strategy": self.strategy,
            "nodes": {str(k): v for k, v in self.nodes.items()},
            "banks": {str(k): v for k, v in self.banks.items()},
            "rounds": [
                {
                    "round": r.round,
                    "updates": r.updates,
                    "evaluations": r.evaluations,
                    "errors": r.errors,
                }
                for r in self.rounds
            ],
        }

    def write(self, out_dir: str | Path, arrays: Sequence[tuple[str, np.ndarray]]) -> None:
        """Write `final_model.npz` and `history.json` into `out_dir` (made if missing)."""
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        save_npz(folder / "final_model.npz", arrays)
        (folder / "history.json").write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
