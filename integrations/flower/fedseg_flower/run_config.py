"""The ServerApp's run config: the keys of `[tool.flwr.app.config]` (docs/flower.md §6), checked
once at the start of a run so a typo fails with one clear line instead of a confused round, and the
ConfigRecord contents the `train` and `evaluate` messages carry (docs/flower.md §5).

Pure Python (no Flower import), so it is unit-tested without a SuperLink.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

STRATEGIES = ("elcfs", "fedavg")

DEFAULT_MODEL = '{"kind":"unet","inChannels":3,"classes":2,"config":{"baseWidth":16,"depth":5}}'

# The defaults the pyproject.toml ships; a run config missing a key (an older pyproject) falls back
# to these, so the ServerApp and its documentation cannot disagree.
DEFAULTS: dict[str, object] = {
    "strategy": "elcfs",
    "num-server-rounds": 2,
    "min-nodes": 2,
    "fedseg-model": DEFAULT_MODEL,
    "local-epochs": 1,
    "batch-size": 5,
    "lr": 1e-3,
    "alpha": 0.003,
    "max-steps-per-epoch": 0,
    "seed": 0,
    "out-dir": "",
    "initial-model": "",
    "max-windows": 10000,
    "max-half-width": 4,
    "timeout": 600.0,
}


class RunConfigError(ValueError):
    """A run-config value the ServerApp cannot run with; the message names the key."""


@dataclass(frozen=True)
class RunSettings:
    """The validated run config (docs/flower.md §6)."""

    strategy: str
    num_server_rounds: int
    min_nodes: int
    fedseg_model: str
    model_kind: str
    local_epochs: int
    batch_size: int
    lr: float
    alpha: float
    max_steps_per_epoch: int
    seed: int
    out_dir: str
    initial_model: str
    max_windows: int
    max_half_width: int
    timeout: float


def _int(cfg: Mapping[str, object], key: str, minimum: int) -> int:
    value = cfg.get(key, DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RunConfigError(f"run config {key} must be an integer, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise RunConfigError(f"run config {key} must be an integer, got {value!r}")
    if int(value) < minimum:
        raise RunConfigError(f"run config {key} must be >= {minimum}, got {value!r}")
    return int(value)


def _float(cfg: Mapping[str, object], key: str, positive: bool) -> float:
    value = cfg.get(key, DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RunConfigError(f"run config {key} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        bound = "> 0" if positive else ">= 0"
        raise RunConfigError(f"run config {key} must be a finite number {bound}, got {value!r}")
    return number


def _str(cfg: Mapping[str, object], key: str) -> str:
    value = cfg.get(key, DEFAULTS[key])
    if not isinstance(value, str):
        raise RunConfigError(f"run config {key} must be a string, got {value!r}")
    return value.strip()


def model_kind(spec_json: str) -> str:
    """The network kind a ModelSpec JSON names; a RunConfigError when it is not a spec at all."""
    try:
        spec = json.loads(spec_json)
    except json.JSONDecodeError as exc:
        raise RunConfigError(f"run config fedseg-model is not JSON ({exc.msg}): {spec_json!r}") from exc
    if not isinstance(spec, dict) or not isinstance(spec.get("kind"), str) or not spec["kind"]:
        raise RunConfigError(
            f'run config fedseg-model must be a ModelSpec object with a "kind", got {spec_json!r}'
        )
    return str(spec["kind"])


def parse_run_config(cfg: Mapping[str, object]) -> RunSettings:
    """Check every key of the run config (docs/flower.md §6) and return the settings."""
    strategy = _str(cfg, "strategy").lower()
    if strategy not in STRATEGIES:
        raise RunConfigError(f'run config strategy must be "elcfs" or "fedavg", got {strategy!r}')
    fedseg_model = _str(cfg, "fedseg-model")
    return RunSettings(
        strategy=strategy,
        num_server_rounds=_int(cfg, "num-server-rounds", 1),
        min_nodes=_int(cfg, "min-nodes", 1),
        fedseg_model=fedseg_model,
        model_kind=model_kind(fedseg_model),
        local_epochs=_int(cfg, "local-epochs", 1),
        batch_size=_int(cfg, "batch-size", 1),
        lr=_float(cfg, "lr", positive=True),
        alpha=_float(cfg, "alpha", positive=False),
        max_steps_per_epoch=_int(cfg, "max-steps-per-epoch", 0),
        seed=_int(cfg, "seed", 0),
        out_dir=_str(cfg, "out-dir"),
        initial_model=_str(cfg, "initial-model"),
        max_windows=_int(cfg, "max-windows", 1),
        max_half_width=_int(cfg, "max-half-width", 0),
        timeout=_float(cfg, "timeout", positive=True),
    )


def train_config(settings: RunSettings, server_round: int, mode: str) -> dict[str, int | float | str]:
    """The `config` record of a `train` message (docs/flower.md §5); `mode` is "elcfs" for a site
    that gets a bank, "fedavg" otherwise."""
    return {
        "server-round": server_round,
        "fedseg-model": settings.fedseg_model,
        "mode": mode,
        "local-epochs": settings.local_epochs,
        "batch-size": settings.batch_size,
        "lr": settings.lr,
        "alpha": settings.alpha,
        "max-steps-per-epoch": settings.max_steps_per_epoch,
        "total-rounds": settings.num_server_rounds,
    }


def evaluate_config(settings: RunSettings, server_round: int) -> dict[str, int | float | str]:
    """The `config` record of an `evaluate` message (docs/flower.md §5)."""
    return {"server-round": server_round, "fedseg-model": settings.fedseg_model}
