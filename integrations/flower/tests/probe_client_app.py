"""A test ClientApp for tests/test_server_app.sh: a Python node that behaves like a FedSeg site
where the ServerApp's logic shows (docs/flower.md §5, docs/algorithms.md §1-2), so the ELCFS bank
and the FedAvg average are checked end to end on a real SuperLink without a FedSeg site.

Node config: num-examples, site (as the reference ClientApp), windows (how many amplitude
windows it shares, each [3, 3, 3] filled with `fill`), delta (added to every weight in `train`),
dice (its `mean_dice` in `evaluate`; absent = it reports none, as a Python node would).

- `query.spectra`: `windows` windows of value `fill`, checking the request's config;
- `train`: returns the global model + `delta`, and reports what it received: `mode-elcfs` (1 when
  mode was "elcfs"), `bank-windows` (windows in its bank), `bank-fill` (the value of its bank's
  windows, -1 when empty or mixed), `config-ok` (1 when every train-config key of §5 was there).
"""

from __future__ import annotations

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Error, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

app = ClientApp()

TRAIN_KEYS = {"server-round", "fedseg-model", "mode", "local-epochs", "batch-size", "lr", "alpha",
              "max-steps-per-epoch", "total-rounds"}


def _cfg(context: Context, key: str, default: float) -> float:
    value = context.node_config.get(key, default)
    return float(value)  # type: ignore[arg-type]


@app.query("describe")
def describe(msg: Message, context: Context) -> Message:
    site = str(context.node_config.get("site", "probe"))
    config = ConfigRecord({"client": "python", "role": "train", "site": site})
    metrics = MetricRecord({"num-examples": int(_cfg(context, "num-examples", 1))})
    return Message(RecordDict({"config": config, "metrics": metrics}), reply_to=msg)


@app.query("spectra")
def spectra(msg: Message, context: Context) -> Message:
    config = msg.content.config_records.get("config")
    if config is None or {"alpha", "max-windows", "max-half-width"} - set(config.keys()):
        return Message(Error(code=1, reason="query.spectra without alpha / max-windows / max-half-width"), reply_to=msg)
    count = int(_cfg(context, "windows", 0))
    if count <= 0:
        return Message(Error(code=1, reason="no consent to share"), reply_to=msg)
    windows = np.full((count, 3, 3, 3), _cfg(context, "fill", 0.0), np.float32)
    metrics = MetricRecord({"num-examples": int(_cfg(context, "num-examples", 1)), "count": count})
    return Message(RecordDict({"arrays": ArrayRecord({"windows": Array(windows)}), "metrics": metrics}), reply_to=msg)


@app.train()
def train(msg: Message, context: Context) -> Message:
    config = dict(msg.content.config_records["config"].items())
    bank = msg.content.array_records.get("bank")
    fills: set[float] = set()
    count = 0
    if bank is not None:
        expected = [f"source-{i}" for i in range(len(bank))]
        if list(bank.keys()) != expected:
            return Message(Error(code=1, reason=f"bank names {list(bank.keys())}"), reply_to=msg)
        for array in bank.values():
            windows = array.numpy()
            count += windows.shape[0]
            fills.update(np.unique(windows).tolist())
    delta = np.float32(_cfg(context, "delta", 0.0))
    arrays = ArrayRecord({name: Array(array.numpy() + delta) for name, array in msg.content["arrays"].items()})
    metrics = MetricRecord({
        "num-examples": int(_cfg(context, "num-examples", 1)),
        "train_loss": 0.0,
        "mode-elcfs": int(config.get("mode") == "elcfs"),
        "bank-windows": count,
        "bank-fill": fills.pop() if len(fills) == 1 else -1.0,
        "config-ok": int(TRAIN_KEYS <= set(config)),
    })
    return Message(RecordDict({"arrays": arrays, "metrics": metrics}), reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    values: dict[str, int | float] = {"num-examples": int(_cfg(context, "num-examples", 1))}
    if "dice" in context.node_config:
        values["mean_dice"] = _cfg(context, "dice", 0.0)
    return Message(RecordDict({"metrics": MetricRecord(values)}), reply_to=msg)
