"""The run-config strategy "fedavg" (docs/flower.md §6): Flower's own FedAvg strategy
(`flwr.serverapp.strategy.FedAvg`, docs/algorithms.md §1), with three FedSeg needs added around it
and its aggregation left as Flower wrote it:

- only train-role sites train: unseen (eval-role) sites get `evaluate` messages only;
- the rounds are recorded for `history.json` and the `FEDSEG round` line;
- in a mixed federation the replies' metric keys differ (a FedSeg site reports Dice and HD95 per
  class, a Python ClientApp perhaps only `num-examples`), which Flower's FedAvg refuses to average;
  then the metrics are cut down to the keys every reply has and aggregated again, so the model
  average is not lost over a metric name. Replies whose array names or shapes differ are still
  refused (Flower's check, or NumPy's), and the round keeps the previous global model.

The model spec and the training config travel in `Strategy.start`'s `train_config` /
`evaluate_config` (see server_app.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from logging import INFO, WARNING

from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.common.logger import log
from flwr.serverapp import Grid
from flwr.serverapp.exception import InconsistentMessageReplies
from flwr.serverapp.strategy import FedAvg

from .history import RoundLog
from .records import error_reason, reply_metrics


def _common_metric_keys(replies: list[Message]) -> list[Message] | None:
    """The valid replies with each one's MetricRecord cut down to the keys all of them have;
    None when that cannot help (a reply with no or several MetricRecords)."""
    valid = [m for m in replies if not m.has_error()]
    if not valid or any(len(m.content.metric_records) != 1 for m in valid):
        return None
    key_sets = [set(next(iter(m.content.metric_records.values())).keys()) for m in valid]
    common = set.intersection(*key_sets)
    for message in valid:
        name, record = next(iter(message.content.metric_records.items()))
        message.content[name] = MetricRecord({k: v for k, v in record.items() if k in common})
    return replies


class FedSegFedAvg(FedAvg):
    """Flower's FedAvg restricted to the train-role nodes, recording each round."""

    def __init__(
        self,
        train_nodes: Iterable[int],
        on_round: Callable[[RoundLog], None],
        **fedavg_args: object,
    ) -> None:
        super().__init__(**fedavg_args)  # type: ignore[arg-type]
        self.train_nodes = set(train_nodes)
        self.on_round = on_round
        self._round: RoundLog | None = None

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Flower's train messages, kept for the train-role nodes only."""
        self._round = RoundLog(server_round)
        messages = [m for m in super().configure_train(server_round, arrays, config, grid)
                    if m.metadata.dst_node_id in self.train_nodes]
        log(INFO, "configure_train: %d train-role node(s) of those sampled", len(messages))
        return messages

    def _aggregate_or_trim(
        self, aggregate: Callable[[list[Message]], object], replies: list[Message], step: str
    ) -> object:
        """Flower's aggregation; on differing metric keys, again with the keys all replies share."""
        try:
            return aggregate(replies)
        except InconsistentMessageReplies as exc:
            log(WARNING, "%s: %s; aggregating the metric keys every reply has", step, exc)
            trimmed = _common_metric_keys(replies)
            if trimmed is None:
                raise
            return aggregate(trimmed)

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Flower's FedAvg over the replies; the updates used are recorded for the round."""
        replies = list(replies)
        record = self._round if self._round is not None else RoundLog(server_round)
        # The full metrics, before a trim for Flower's key check can cut them down.
        reported = [reply_metrics(reply) if not reply.has_error() else {} for reply in replies]
        for reply in replies:
            if reply.has_error():
                record.add_error(reply.metadata.src_node_id, "train", error_reason(reply))
        try:
            result = self._aggregate_or_trim(
                lambda r: super(FedSegFedAvg, self).aggregate_train(server_round, r), replies, "aggregate_train")
        except (InconsistentMessageReplies, ValueError) as exc:
            # ValueError: NumPy refusing to add arrays of different shapes in Flower's average.
            log(WARNING, "aggregate_train: no average this round, the global model stays (%s)", exc)
            for reply in replies:
                if not reply.has_error():
                    record.add_error(reply.metadata.src_node_id, "train", f"left out: {exc}")
            return None, None
        arrays, metrics = result  # type: ignore[misc]
        if arrays is not None:
            for reply, metrics_of in zip(replies, reported):
                if not reply.has_error():
                    weight = metrics_of.get(self.weighted_by_key)
                    record.add_update(reply.metadata.src_node_id, weight, metrics_of)  # type: ignore[arg-type]
        return arrays, metrics

    def aggregate_evaluate(self, server_round: int, replies: Iterable[Message]) -> MetricRecord | None:
        """Flower's metric average; every node's metrics are recorded and the round reported."""
        replies = list(replies)
        record = self._round if self._round is not None else RoundLog(server_round)
        for reply in replies:
            if reply.has_error():
                record.add_error(reply.metadata.src_node_id, "evaluate", error_reason(reply))
            else:
                record.add_evaluation(reply.metadata.src_node_id, reply_metrics(reply))
        try:
            metrics = self._aggregate_or_trim(
                lambda r: super(FedSegFedAvg, self).aggregate_evaluate(server_round, r), replies, "aggregate_evaluate")
        except InconsistentMessageReplies as exc:
            log(WARNING, "aggregate_evaluate: metrics not aggregated (%s)", exc)
            metrics = None
        self._round = None
        self.on_round(record)
        return metrics  # type: ignore[return-value]
