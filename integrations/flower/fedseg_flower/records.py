"""Flower records <-> the named arrays and plain values the ServerApp works with, and one
request/reply exchange with a set of nodes (docs/flower.md §5).

ArrayRecord keeps insertion order, and the ServerApp relies on it: a FedSeg site reads the global
model's weights by name in its own order, so every ArrayRecord made here lists the arrays in the
order the model came in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from logging import WARNING

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.common.logger import log
from flwr.serverapp import Grid

NamedArrays = list[tuple[str, np.ndarray]]


def to_array_record(arrays: Sequence[tuple[str, np.ndarray]]) -> ArrayRecord:
    """An ArrayRecord of float32 C-ordered arrays, in the given order."""
    return ArrayRecord({name: Array(np.ascontiguousarray(arr, dtype=np.float32)) for name, arr in arrays})


def from_array_record(record: ArrayRecord) -> NamedArrays:
    """The record's arrays by name, in the record's order."""
    return [(name, array.numpy()) for name, array in record.items()]


def config_record(values: Mapping[str, int | float | str | bool]) -> ConfigRecord:
    """A ConfigRecord of scalar values."""
    return ConfigRecord(dict(values))


def reply_arrays(reply: Message, name: str = "arrays") -> ArrayRecord | None:
    """The reply's ArrayRecord `name`, else its only ArrayRecord; None when it has none."""
    records = reply.content.array_records
    if name in records:
        return records[name]
    if len(records) == 1:
        return next(iter(records.values()))
    return None


def reply_metrics(reply: Message) -> dict[str, object]:
    """The reply's `metrics` MetricRecord (else its only one) as a dict; {} when it has none."""
    records = reply.content.metric_records
    record: MetricRecord | None = records.get("metrics")
    if record is None and len(records) == 1:
        record = next(iter(records.values()))
    return dict(record.items()) if record is not None else {}


def reply_config(reply: Message, name: str = "config") -> dict[str, object] | None:
    """The reply's ConfigRecord `name` as a dict; None when it has none."""
    records = reply.content.config_records
    return dict(records[name].items()) if name in records else None


def error_reason(reply: Message) -> str:
    """An error reply's reason, with its code."""
    return f"{reply.error.reason or 'no reason given'} (code {reply.error.code})"


@dataclass
class Exchange:
    """The outcome of one request to a set of nodes: the replies by node id (error replies
    included) and the nodes that did not reply in time."""

    replies: dict[int, Message] = field(default_factory=dict)
    missing: list[int] = field(default_factory=list)


def exchange(grid: Grid, requests: Mapping[int, tuple[str, RecordDict]], timeout: float, group: str) -> Exchange:
    """Send each node its (message type, content) and wait up to `timeout` seconds for the replies.

    Replies are matched to their node by the id of the message they answer (a reply the SuperLink
    makes up for an unavailable object carries the ServerApp's node id, not the site's)."""
    messages = [
        Message(content=content, dst_node_id=node_id, message_type=message_type, group_id=group)
        for node_id, (message_type, content) in requests.items()
    ]
    if not messages:
        return Exchange()
    replies = list(grid.send_and_receive(messages, timeout=timeout))
    node_of = {m.metadata.message_id: m.metadata.dst_node_id for m in messages}
    result = Exchange()
    for reply in replies:
        node_id = node_of.get(reply.metadata.reply_to_message_id)
        if node_id is None:
            log(WARNING, "a reply to an unknown message (%s) was ignored", reply.metadata.reply_to_message_id)
            continue
        result.replies[node_id] = reply
    result.missing = [n for n in requests if n not in result.replies]
    for node_id in result.missing:
        log(WARNING, "node %d did not reply to %s within %.0f s", node_id, requests[node_id][0], timeout)
    return result
