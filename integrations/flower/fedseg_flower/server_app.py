"""FedSeg's ServerApp: FedAvg or ELCFS on a Flower SuperLink (docs/flower.md §5-6,
docs/algorithms.md §1-2).

A run:
1. waits for `min-nodes` nodes (at most `timeout` s);
2. `query.describe` to every node: a FedSeg site says whether it trains or is unseen ("eval"); a
   node answering with an error or without the describe config is a generic Flower node that trains;
3. the initial model: the `initial-model` .npz, else `query.init` to the first FedSeg train site
   (the ModelSpec `fedseg-model` built from `seed`), so every site starts from one model (§1);
4. strategy "elcfs": `query.spectra` to every train node; each train node's bank holds every other
   sharing node's amplitude windows (§2, bank.py); then per round `train` to the train nodes (with
   its bank when it has one), FedAvg of the replies by `num-examples` (aggregate.py) and `evaluate`
   to every node, unseen sites included;
   strategy "fedavg": Flower's own FedAvg (fedavg_strategy.py) with the same initial model;
5. one `FEDSEG round r/R: ...` line per round, `FEDSEG_FINAL rounds=R arrays=N sha256=...` at the
   end, and with `out-dir` set `final_model.npz` and `history.json` (history.py).
A run that cannot go on prints `FEDSEG_ERROR <reason>` and fails.
"""

from __future__ import annotations

import time
from logging import ERROR, INFO, WARNING

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, RecordDict
from flwr.common.logger import log
from flwr.serverapp import Grid, ServerApp

from .aggregate import NamedArrays, Update, fedavg
from .bank import bank_record_names, build_banks, select_shares
from .fedavg_strategy import FedSegFedAvg
from .history import History, RoundLog, final_line, mean_dice, round_line
from .model_io import as_float32, load_npz
from .protocol import DESCRIBE, EVALUATE, INIT, PROTOCOL_VERSION, SPECTRA, TRAIN, NodeInfo, parse_describe
from .records import (
    config_record,
    error_reason,
    exchange,
    from_array_record,
    reply_arrays,
    reply_config,
    reply_metrics,
    to_array_record,
)
from .run_config import RunConfigError, RunSettings, evaluate_config, parse_run_config, train_config

app = ServerApp()


class FedSegRunError(Exception):
    """A run that cannot go on; its message is the one line the coordinator sees.

    Not a RuntimeError: flwr-serverapp takes a RuntimeError for a run that never started and
    leaves the run's status open until the SuperLink times it out (about a minute); any other
    exception marks the run failed at once, with this message as the reason."""


def _fail(message: str) -> FedSegRunError:
    log(ERROR, "%s", message)
    print(f"FEDSEG_ERROR {message}", flush=True)
    return FedSegRunError(message)


def _say(line: str) -> None:
    print(line, flush=True)


class Coordinator:
    """One ServerApp run over `grid` with the validated run config."""

    def __init__(self, grid: Grid, settings: RunSettings) -> None:
        self.grid = grid
        self.settings = settings
        self.history = History(settings.strategy)

    # -- 1. nodes ---------------------------------------------------------------------------
    def wait_for_nodes(self) -> list[int]:
        """The connected node ids once there are `min-nodes` of them."""
        want = self.settings.min_nodes
        deadline = time.monotonic() + self.settings.timeout
        next_note = 0.0
        while True:
            nodes = sorted(self.grid.get_node_ids())
            if len(nodes) >= want:
                log(INFO, "%d node(s) connected (min-nodes %d)", len(nodes), want)
                return nodes
            now = time.monotonic()
            if now >= deadline:
                raise _fail(
                    f"only {len(nodes)} of min-nodes={want} Flower nodes connected to the SuperLink "
                    f"within {self.settings.timeout:.0f} s (timeout); start the sites "
                    "(fedseg site --flower ...) or lower min-nodes"
                )
            if now >= next_note:
                log(INFO, "waiting for nodes: %d connected, min-nodes %d", len(nodes), want)
                next_note = now + 10
            time.sleep(1)

    # -- 2. describe ------------------------------------------------------------------------
    def describe(self, nodes: list[int]) -> dict[int, NodeInfo]:
        """Every replying node's description; nodes that do not reply take no part."""
        ask = {"fedseg-protocol": PROTOCOL_VERSION}
        result = exchange(
            self.grid,
            {n: (DESCRIBE, RecordDict({"config": config_record(ask)})) for n in nodes},
            self.settings.timeout,
            "describe",
        )
        infos: dict[int, NodeInfo] = {}
        for node_id in nodes:
            reply = result.replies.get(node_id)
            if reply is None:
                log(WARNING, "node %d did not answer query.describe; it takes no part in this run", node_id)
                continue
            if reply.has_error():
                info = parse_describe(node_id, None, error_reason(reply))
            else:
                info = parse_describe(node_id, reply_config(reply), None)
            infos[node_id] = info
            extra = f" ({info.note})" if info.note else ""
            log(INFO, "node %d: client %s, site %s, role %s%s", node_id, info.client, info.site, info.role, extra)
            self.history.nodes[node_id] = {"client": info.client, "site": info.site, "role": info.role}
        return infos

    # -- 3. initial model -------------------------------------------------------------------
    def initial_model(self, infos: dict[int, NodeInfo]) -> NamedArrays:
        """The `initial-model` file's arrays, else the first FedSeg train site's `query.init`."""
        if self.settings.initial_model:
            try:
                arrays = load_npz(self.settings.initial_model)
            except ValueError as exc:
                raise _fail(str(exc)) from exc
            log(INFO, "initial model: %d arrays from %s", len(arrays), self.settings.initial_model)
            return arrays
        site = next((i for i in infos.values() if i.is_fedseg and i.role == "train"), None)
        if site is None:
            raise _fail(
                "no FedSeg train site to build the initial model (query.init): connect a FedSeg "
                "site with role train, or set initial-model to an .npz of the model's arrays"
            )
        if site.kinds and self.settings.model_kind not in site.kinds:
            log(WARNING, "site %s lists kinds %s, not %s", site.site, ",".join(site.kinds), self.settings.model_kind)
        content = RecordDict({"config": config_record({"fedseg-model": self.settings.fedseg_model, "seed": self.settings.seed})})
        result = exchange(self.grid, {site.node_id: (INIT, content)}, self.settings.timeout, "init")
        reply = result.replies.get(site.node_id)
        if reply is None:
            raise _fail(f"site {site.site} (node {site.node_id}) did not answer query.init within {self.settings.timeout:.0f} s")
        if reply.has_error():
            raise _fail(f"site {site.site} (node {site.node_id}) could not build the initial model: {error_reason(reply)}")
        record = reply_arrays(reply)
        if record is None or len(record) == 0:
            raise _fail(f"site {site.site} (node {site.node_id}) answered query.init without arrays")
        arrays = as_float32(from_array_record(record))
        log(INFO, "initial model: %d arrays from site %s (seed %d)", len(arrays), site.site, self.settings.seed)
        return arrays

    # -- 4a. ELCFS --------------------------------------------------------------------------
    def banks(self, train: list[int]) -> dict[int, ArrayRecord]:
        """`query.spectra` to every train node, and each one's bank record (empty ones left out)."""
        content = {"alpha": self.settings.alpha, "max-windows": self.settings.max_windows,
                   "max-half-width": self.settings.max_half_width}
        result = exchange(
            self.grid,
            {n: (SPECTRA, RecordDict({"config": config_record(content)})) for n in train},
            self.settings.timeout,
            "spectra",
        )
        shares: dict[int, np.ndarray] = {}
        for node_id in train:
            reply = result.replies.get(node_id)
            if reply is None:
                continue  # exchange() logged it
            if reply.has_error():
                log(INFO, "node %d shares no amplitude windows: %s", node_id, error_reason(reply))
                continue
            record = reply_arrays(reply)
            if record is None or "windows" not in record:
                log(WARNING, "node %d answered query.spectra without a windows array; it shares nothing", node_id)
                continue
            shares[node_id] = record["windows"].numpy()
        kept, notes = select_shares(shares, train, self.settings.max_half_width)
        for note in notes:
            log(WARNING, "%s", note)
        for node_id, windows in kept.items():
            log(INFO, "node %d shares %d amplitude windows %s", node_id, windows.shape[0], list(windows.shape[1:]))
        # One Array per share, referenced from every bank that holds it: each travels once per bank.
        share_arrays = {n: Array(w) for n, w in kept.items()}
        records: dict[int, ArrayRecord] = {}
        for node_id, bank in build_banks(train, kept).items():
            self.history.banks[node_id] = [int(w.shape[0]) for _, w in bank]
            if bank:
                names = bank_record_names(len(bank))
                records[node_id] = ArrayRecord({name: share_arrays[src] for name, (src, _) in zip(names, bank)})
            else:
                log(INFO, "node %d: no other site shared windows; it trains as FedAvg", node_id)
        return records

    def run_elcfs(self, model: NamedArrays, infos: dict[int, NodeInfo]) -> NamedArrays:
        """The spectrum round, then `num-server-rounds` rounds of train + FedAvg + evaluate."""
        train = [n for n, i in infos.items() if i.role == "train"]
        everyone = list(infos)
        banks = self.banks(train)
        rounds = self.settings.num_server_rounds
        global_arrays = model
        for server_round in range(1, rounds + 1):
            record = RoundLog(server_round)
            global_record = to_array_record(global_arrays)
            requests = {}
            for node_id in train:
                bank = banks.get(node_id)
                mode = "elcfs" if bank is not None else "fedavg"
                content = RecordDict({"arrays": global_record,
                                      "config": config_record(train_config(self.settings, server_round, mode))})
                if bank is not None:
                    content["bank"] = bank
                requests[node_id] = (TRAIN, content)
            result = exchange(self.grid, requests, self.settings.timeout, str(server_round))
            updates: list[Update] = []
            reported: dict[int, dict[str, object]] = {}
            for node_id in result.missing:
                record.add_error(node_id, "train", f"no reply within {self.settings.timeout:.0f} s")
            for node_id, reply in result.replies.items():
                if reply.has_error():
                    log(WARNING, "round %d: node %d did not train: %s", server_round, node_id, error_reason(reply))
                    record.add_error(node_id, "train", error_reason(reply))
                    continue
                arrays = reply_arrays(reply)
                metrics = reply_metrics(reply)
                if arrays is None:
                    log(WARNING, "round %d: node %d replied without arrays; left out", server_round, node_id)
                    record.add_error(node_id, "train", "reply without arrays")
                    continue
                reported[node_id] = metrics
                updates.append(Update(node_id, from_array_record(arrays), metrics.get("num-examples")))  # type: ignore[arg-type]
            averaged, accepted, rejected = fedavg(global_arrays, updates)
            for node_id, reason in rejected:
                log(WARNING, "round %d: node %d's update left out: %s", server_round, node_id, reason)
                record.add_error(node_id, "train", f"left out: {reason}")
            if averaged is None:
                log(WARNING, "round %d: no valid update; the global model stays as it was", server_round)
            else:
                global_arrays = averaged
                global_record = to_array_record(global_arrays)
            for update in accepted:
                record.add_update(update.node_id, update.num_examples, reported[update.node_id])
            self.evaluate(server_round, global_record, everyone, record)
            self.history.rounds.append(record)
            _say(round_line(server_round, rounds, len(accepted), mean_dice(record.evaluations)))
        return global_arrays

    def evaluate(self, server_round: int, global_record: ArrayRecord, nodes: list[int], record: RoundLog) -> None:
        """`evaluate` with the global model to `nodes`; their metrics go into `record`."""
        config = evaluate_config(self.settings, server_round)
        requests = {n: (EVALUATE, RecordDict({"arrays": global_record, "config": config_record(config)})) for n in nodes}
        result = exchange(self.grid, requests, self.settings.timeout, str(server_round))
        for node_id in result.missing:
            record.add_error(node_id, "evaluate", f"no reply within {self.settings.timeout:.0f} s")
        for node_id, reply in result.replies.items():
            if reply.has_error():
                log(WARNING, "round %d: node %d did not evaluate: %s", server_round, node_id, error_reason(reply))
                record.add_error(node_id, "evaluate", error_reason(reply))
            else:
                record.add_evaluation(node_id, reply_metrics(reply))

    # -- 4b. Flower's FedAvg ----------------------------------------------------------------
    def run_fedavg(self, model: NamedArrays, infos: dict[int, NodeInfo]) -> NamedArrays:
        """Flower's FedAvg strategy from the same initial model, train-role nodes training."""
        train = [n for n, i in infos.items() if i.role == "train"]
        rounds = self.settings.num_server_rounds

        def on_round(record: RoundLog) -> None:
            self.history.rounds.append(record)
            _say(round_line(record.round, rounds, len(record.updates), mean_dice(record.evaluations)))

        # The minimums are 1: the nodes were already waited for, and Flower's sampler would wait
        # forever for a node that left mid-run.
        strategy = FedSegFedAvg(
            train_nodes=train, on_round=on_round, fraction_train=1.0, fraction_evaluate=1.0,
            min_train_nodes=1, min_evaluate_nodes=1, min_available_nodes=1,
        )
        base = train_config(self.settings, 0, "fedavg")
        del base["server-round"]  # Flower's FedAvg sets it each round
        evaluation = evaluate_config(self.settings, 0)
        del evaluation["server-round"]
        result = strategy.start(
            grid=self.grid, initial_arrays=to_array_record(model), num_rounds=rounds,
            timeout=self.settings.timeout, train_config=ConfigRecord(base),
            evaluate_config=ConfigRecord(evaluation),
        )
        if len(result.arrays) == 0:  # no round produced an average
            return model
        return as_float32(from_array_record(result.arrays))

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> NamedArrays:
        """The whole run; returns the final global model."""
        nodes = self.wait_for_nodes()
        infos = self.describe(nodes)
        if not any(i.role == "train" for i in infos.values()):
            raise _fail("no node with role train answered query.describe: nothing can be trained")
        model = self.initial_model(infos)
        log(INFO, "strategy %s, %d round(s), %d train node(s), %d node(s) in all", self.settings.strategy,
            self.settings.num_server_rounds, sum(i.role == "train" for i in infos.values()), len(infos))
        if self.settings.strategy == "elcfs":
            final = self.run_elcfs(model, infos)
        else:
            final = self.run_fedavg(model, infos)
        _say(final_line(self.settings.num_server_rounds, final))
        if self.settings.out_dir:
            self.history.write(self.settings.out_dir, final)
            log(INFO, "wrote final_model.npz and history.json to %s", self.settings.out_dir)
        return final


@app.main()
def main(grid: Grid, context: Context) -> None:
    """The ServerApp's entry point (`[tool.flwr.app.components] serverapp`)."""
    try:
        settings = parse_run_config(context.run_config)
    except RunConfigError as exc:
        raise _fail(str(exc)) from exc
    Coordinator(grid, settings).run()
