"""The reference Python ClientApp for mixed federations (docs/flower.md §5): a Flower Python
SuperNode running it takes part in a FedSeg run beside FedSeg sites.

It is the interoperability reference, not a trainer: `train` returns the global model unchanged.
A consortium's own PyTorch/NumPy client replaces `local_train` below with its training step and keeps
everything else: it must return the same array names, shapes and order it received (the FedSeg
model's, e.g. `enc0.conv0.kernel`), float32, and report `num-examples` (its FedAvg weight,
docs/algorithms.md §1). It builds no FedSeg model (`query.init` is refused) and shares no amplitude
windows (`query.spectra` is refused), so in ELCFS it trains with the other sites' banks out of reach
and its own images in no one's bank (docs/algorithms.md §2).

Node config (`flower-supernode --node-config 'num-examples=3 site="lab-b"'`):
    num-examples   int, default 1            the weight of this node's update
    site           str, default python-node  the name it gives in `query.describe`
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Error, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

app = ClientApp()

# Error.code of a refused request (docs/flower.md §5: a message a node does not serve is answered
# with an error reply, code 1, never dropped).
REFUSED = 1


def _num_examples(node_config: Mapping[str, object]) -> int:
    value = node_config.get("num-examples", 1)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or int(value) != value:
        raise ValueError(f"node config num-examples must be a positive integer, got {value!r}")
    return int(value)


def _site(node_config: Mapping[str, object]) -> str:
    value = node_config.get("site", "python-node")
    return value if isinstance(value, str) and value else "python-node"


def _refuse(msg: Message, reason: str) -> Message:
    return Message(Error(code=REFUSED, reason=reason), reply_to=msg)


def local_train(arrays: list[tuple[str, np.ndarray]], config: Mapping[str, object]) -> list[tuple[str, np.ndarray]]:
    """The training step a real client puts here: same names, shapes and order in and out.

    The reference keeps the weights as they are, so a run with only reference nodes ends with
    the model it started from (the integration test checks exactly that)."""
    del config
    return arrays


@app.query("describe")
def describe(msg: Message, context: Context) -> Message:
    """`query.describe`: a generic Python node that trains."""
    config = ConfigRecord({"client": "python", "role": "train", "site": _site(context.node_config)})
    metrics = MetricRecord({"num-examples": _num_examples(context.node_config)})
    return Message(RecordDict({"config": config, "metrics": metrics}), reply_to=msg)


@app.query("init")
def init(msg: Message, context: Context) -> Message:
    """`query.init`: refused, this node cannot build a FedSeg network."""
    return _refuse(msg, "this Python node has no FedSeg model")


@app.query("spectra")
def spectra(msg: Message, context: Context) -> Message:
    """`query.spectra`: refused, this node shares no amplitude windows."""
    return _refuse(msg, "this Python node shares no amplitude windows")


@app.train()
def train(msg: Message, context: Context) -> Message:
    """`train`: the global model through `local_train`, checked finite, with `num-examples`."""
    record = msg.content.array_records.get("arrays")
    if record is None:
        return _refuse(msg, "train message without an 'arrays' record")
    arrays = [(name, array.numpy()) for name, array in record.items()]
    for name, arr in arrays:
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
            return _refuse(msg, f"array {name} of the global model is not finite numbers")
    config = dict(msg.content.config_records["config"].items()) if "config" in msg.content.config_records else {}
    trained = local_train(arrays, config)
    out = ArrayRecord({name: Array(np.ascontiguousarray(arr, dtype=np.float32)) for name, arr in trained})
    metrics = MetricRecord({"num-examples": _num_examples(context.node_config), "train_loss": 0.0})
    return Message(RecordDict({"arrays": out, "metrics": metrics}), reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    """`evaluate`: no segmentation metrics of its own, only its weight."""
    metrics = MetricRecord({"num-examples": _num_examples(context.node_config)})
    return Message(RecordDict({"metrics": metrics}), reply_to=msg)
