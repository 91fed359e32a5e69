"""Unit tests of the ServerApp's pure helpers, without Flower or a SuperLink: the ELCFS banks
(docs/algorithms.md §2), the FedAvg average (docs/algorithms.md §1), the run config, the describe
reply and the outputs (docs/flower.md §5-6).

Run: PYTHONPATH=integrations/flower /usr/bin/python3 -m unittest discover -s integrations/flower/tests
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import unittest
from pathlib import Path

import numpy as np

from fedseg_flower.aggregate import Update, check_update, fedavg
from fedseg_flower.bank import bank_record_names, build_banks, check_share, select_shares
from fedseg_flower.history import History, RoundLog, final_line, mean_dice, round_line
from fedseg_flower.model_io import load_npz, model_sha256, save_npz
from fedseg_flower.protocol import parse_describe
from fedseg_flower.run_config import DEFAULTS, RunConfigError, evaluate_config, parse_run_config, train_config


def windows(rng: np.random.Generator, n: int, c: int = 3, w: int = 3) -> np.ndarray:
    return rng.random((n, c, w, w)).astype(np.float32)


class BankTest(unittest.TestCase):
    def test_each_bank_holds_every_other_sharing_site_never_its_own(self) -> None:
        rng = np.random.default_rng(1)
        shares = {10: windows(rng, 4), 20: windows(rng, 2), 30: windows(rng, 5)}
        banks = build_banks([10, 20, 30, 40], shares)
        self.assertEqual({k: [s for s, _ in v] for k, v in banks.items()},
                         {10: [20, 30], 20: [10, 30], 30: [10, 20], 40: [10, 20, 30]})
        for node, bank in banks.items():
            for src, arr in bank:
                self.assertNotEqual(src, node)
                self.assertIs(arr, shares[src])

    def test_a_lone_sharer_gets_an_empty_bank(self) -> None:
        rng = np.random.default_rng(2)
        banks = build_banks([1, 2], {1: windows(rng, 3)})
        self.assertEqual(banks[1], [])
        self.assertEqual([s for s, _ in banks[2]], [1])
        self.assertEqual(build_banks([1, 2], {}), {1: [], 2: []})

    def test_shares_of_another_shape_are_dropped_with_a_reason(self) -> None:
        rng = np.random.default_rng(3)
        shares = {1: windows(rng, 2, c=3, w=3), 2: windows(rng, 2, c=1, w=3),
                  3: windows(rng, 4, c=3, w=3), 4: windows(rng, 2, c=3, w=5)}
        kept, notes = select_shares(shares, [1, 2, 3, 4], max_half_width=4)
        self.assertEqual(sorted(kept), [1, 3])
        self.assertEqual(len(notes), 2)
        self.assertTrue(any("node 2" in n and "C=1" in n for n in notes), notes)
        self.assertTrue(any("node 4" in n and "w=5" in n for n in notes), notes)
        self.assertTrue(all(v.dtype == np.float32 for v in kept.values()))

    def test_a_shape_tie_goes_to_the_first_site(self) -> None:
        rng = np.random.default_rng(4)
        shares = {7: windows(rng, 1, c=1, w=3), 5: windows(rng, 1, c=3, w=3)}
        kept, _ = select_shares(shares, [7, 5], max_half_width=1)
        self.assertEqual(list(kept), [7])

    def test_invalid_shares(self) -> None:
        rng = np.random.default_rng(5)
        self.assertIsNone(check_share(windows(rng, 2), 1))
        self.assertIn("[n, C, w, w]", check_share(np.zeros((3, 3, 3), np.float32), 4) or "")
        self.assertIn("n = 0", check_share(np.zeros((0, 3, 3, 3), np.float32), 4) or "")
        self.assertIn("2b+1", check_share(np.zeros((1, 3, 4, 4), np.float32), 4) or "")
        self.assertIn("2b+1", check_share(np.zeros((1, 3, 3, 5), np.float32), 4) or "")
        self.assertIn("max-half-width", check_share(np.zeros((1, 3, 5, 5), np.float32), 1) or "")
        bad = windows(rng, 2)
        bad[1, 0, 1, 1] = np.nan
        self.assertIn("NaN", check_share(bad, 4) or "")
        kept, notes = select_shares({1: bad, 2: windows(rng, 1)}, [1, 2], 4)
        self.assertEqual(list(kept), [2])
        self.assertIn("node 1", notes[0])

    def test_bank_record_names(self) -> None:
        self.assertEqual(bank_record_names(3), ["source-0", "source-1", "source-2"])
        self.assertEqual(bank_record_names(0), [])


class FedAvgTest(unittest.TestCase):
    def setUp(self) -> None:
        self.global_arrays = [("z.kernel", np.zeros((2, 2), np.float32)), ("a.bias", np.zeros(3, np.float32))]

    def update(self, node: int, value: float, n: float) -> Update:
        return Update(node, [("z.kernel", np.full((2, 2), value, np.float32)),
                             ("a.bias", np.full(3, -value, np.float32))], n)

    def test_weighted_by_num_examples_in_the_global_order(self) -> None:
        averaged, accepted, rejected = fedavg(self.global_arrays, [self.update(1, 1.0, 3), self.update(2, 5.0, 1)])
        assert averaged is not None
        self.assertEqual([n for n, _ in averaged], ["z.kernel", "a.bias"])
        np.testing.assert_array_equal(averaged[0][1], np.full((2, 2), 2.0, np.float32))  # (3*1 + 1*5) / 4
        np.testing.assert_array_equal(averaged[1][1], np.full(3, -2.0, np.float32))
        self.assertTrue(all(a.dtype == np.float32 for _, a in averaged))
        self.assertEqual([u.node_id for u in accepted], [1, 2])
        self.assertEqual(rejected, [])

    def test_identical_updates_average_to_themselves_exactly(self) -> None:
        rng = np.random.default_rng(6)
        model = [("w", rng.standard_normal((5, 7)).astype(np.float32))]
        updates = [Update(i, model, n) for i, n in enumerate([3, 1, 7])]
        averaged, _, _ = fedavg(model, updates)
        assert averaged is not None
        np.testing.assert_array_equal(averaged[0][1], model[0][1])

    def test_a_reply_in_another_order_is_matched_by_name(self) -> None:
        swapped = Update(3, [("a.bias", np.ones(3, np.float32)), ("z.kernel", np.ones((2, 2), np.float32))], 2)
        averaged, accepted, _ = fedavg(self.global_arrays, [swapped])
        assert averaged is not None
        self.assertEqual([n for n, _ in averaged], ["z.kernel", "a.bias"])
        self.assertEqual(len(accepted), 1)

    def test_mismatched_replies_are_left_out_with_a_reason(self) -> None:
        wrong_shape = Update(4, [("z.kernel", np.ones((2, 3), np.float32)), ("a.bias", np.ones(3, np.float32))], 1)
        wrong_name = Update(5, [("z.kernel", np.ones((2, 2), np.float32)), ("b.bias", np.ones(3, np.float32))], 1)
        missing = Update(6, [("z.kernel", np.ones((2, 2), np.float32))], 1)
        nan = self.update(7, float("nan"), 1)
        zero = self.update(8, 1.0, 0)
        no_weight = Update(9, self.update(9, 1.0, 1).arrays, None)  # type: ignore[arg-type]
        good = self.update(1, 4.0, 2)
        averaged, accepted, rejected = fedavg(self.global_arrays, [wrong_shape, wrong_name, missing, nan, zero, no_weight, good])
        assert averaged is not None
        np.testing.assert_array_equal(averaged[0][1], np.full((2, 2), 4.0, np.float32))
        self.assertEqual([u.node_id for u in accepted], [1])
        reasons = dict(rejected)
        self.assertEqual(sorted(reasons), [4, 5, 6, 7, 8, 9])
        self.assertIn("shape", reasons[4])
        self.assertIn("b.bias", reasons[5])
        self.assertIn("missing", reasons[6])
        self.assertIn("NaN", reasons[7])
        self.assertIn("> 0", reasons[8])
        self.assertIn("number", reasons[9])

    def test_no_valid_update_keeps_nothing(self) -> None:
        averaged, accepted, rejected = fedavg(self.global_arrays, [self.update(1, 1.0, -1)])
        self.assertIsNone(averaged)
        self.assertEqual(accepted, [])
        self.assertEqual(len(rejected), 1)
        self.assertEqual(fedavg(self.global_arrays, []), (None, [], []))

    def test_check_update_accepts_a_matching_reply(self) -> None:
        self.assertIsNone(check_update(self.global_arrays, self.update(1, 2.0, 1.5)))


class RunConfigTest(unittest.TestCase):
    def test_defaults_match_the_pyproject(self) -> None:
        import tomllib
        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        shipped = tomllib.loads(pyproject.read_text())["tool"]["flwr"]["app"]["config"]
        self.assertEqual(set(shipped), set(DEFAULTS))
        for key, value in shipped.items():
            self.assertEqual(value, DEFAULTS[key], key)
        settings = parse_run_config(shipped)
        self.assertEqual((settings.strategy, settings.model_kind, settings.timeout), ("elcfs", "unet", 600.0))

    def test_bad_values_name_their_key(self) -> None:
        for cfg, key in [({"strategy": "fedprox"}, "strategy"), ({"num-server-rounds": 0}, "num-server-rounds"),
                         ({"lr": -1.0}, "lr"), ({"min-nodes": 1.5}, "min-nodes"), ({"fedseg-model": "{"}, "fedseg-model"),
                         ({"fedseg-model": '{"classes":2}'}, "fedseg-model"), ({"timeout": 0}, "timeout"),
                         ({"seed": True}, "seed"), ({"out-dir": 3}, "out-dir")]:
            with self.assertRaises(RunConfigError) as ctx:
                parse_run_config(cfg)
            self.assertIn(key, str(ctx.exception))

    def test_message_configs(self) -> None:
        settings = parse_run_config({"strategy": "FedAvg", "lr": 1, "num-server-rounds": 3})
        self.assertEqual(settings.strategy, "fedavg")
        cfg = train_config(settings, 2, "elcfs")
        self.assertEqual(cfg["server-round"], 2)
        self.assertEqual(cfg["mode"], "elcfs")
        self.assertEqual(cfg["total-rounds"], 3)
        self.assertIsInstance(cfg["lr"], float)
        self.assertEqual(json.loads(str(cfg["fedseg-model"]))["kind"], "unet")
        self.assertEqual(set(cfg), {"server-round", "fedseg-model", "mode", "local-epochs", "batch-size", "lr",
                                    "alpha", "max-steps-per-epoch", "total-rounds"})
        self.assertEqual(evaluate_config(settings, 1), {"server-round": 1, "fedseg-model": settings.fedseg_model})


class DescribeTest(unittest.TestCase):
    def test_a_fedseg_site(self) -> None:
        info = parse_describe(5, {"client": "fedseg", "site": "lab-a", "role": "eval", "kinds": "unet, ascnet"}, None)
        self.assertEqual((info.client, info.site, info.role, info.kinds, info.is_fedseg),
                         ("fedseg", "lab-a", "eval", ("unet", "ascnet"), True))

    def test_generic_nodes_train_as_python(self) -> None:
        for info in [parse_describe(6, None, "No query function registered"), parse_describe(6, {}, None),
                     parse_describe(6, {"site": "x"}, None)]:
            self.assertEqual((info.client, info.role, info.is_fedseg), ("python", "train", False))
            self.assertTrue(info.note)
        odd = parse_describe(7, {"client": "fedseg", "role": "observer"}, None)
        self.assertEqual((odd.role, odd.site), ("train", "node-7"))
        self.assertIn("observer", odd.note)


class OutputsTest(unittest.TestCase):
    def test_npz_round_trip_keeps_order_and_float32(self) -> None:
        arrays = [("z", np.arange(4, dtype=np.float64).reshape(2, 2)), ("a", np.array([1.5], np.float32))]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "m.npz"
            save_npz(path, arrays)
            loaded = load_npz(path)
            self.assertEqual([n for n, _ in loaded], ["z", "a"])
            self.assertTrue(all(a.dtype == np.float32 for _, a in loaded))
            np.testing.assert_array_equal(loaded[0][1], arrays[0][1])
            with self.assertRaises(ValueError):
                load_npz(Path(tmp) / "missing.npz")
            (Path(tmp) / "bad.npz").write_bytes(b"not a zip")
            with self.assertRaises(ValueError):
                load_npz(Path(tmp) / "bad.npz")
            np.savez(Path(tmp) / "nan.npz", w=np.array([np.nan]))
            with self.assertRaises(ValueError):
                load_npz(Path(tmp) / "nan.npz")

    def test_sha256_is_over_float32_little_endian_bytes_in_order(self) -> None:
        a, b = np.array([1.0, 2.0], np.float64), np.array([[3.0]], np.float32)
        expected = hashlib.sha256(np.array([1, 2, 3], "<f4").tobytes()).hexdigest()
        self.assertEqual(model_sha256([("a", a), ("b", b)]), expected)
        self.assertNotEqual(model_sha256([("b", b), ("a", a)]), expected)
        self.assertEqual(final_line(2, [("a", a), ("b", b)]), f"FEDSEG_FINAL rounds=2 arrays=2 sha256={expected}")

    def test_round_line_and_mean_dice(self) -> None:
        evaluations = [{"node_id": 1, "metrics": {"num-examples": 3, "mean_dice": 0.5}},
                       {"node_id": 2, "metrics": {"num-examples": 1, "mean_dice": 0.9}},
                       {"node_id": 3, "metrics": {"num-examples": 4}}]
        dice = mean_dice(evaluations)
        self.assertAlmostEqual(dice or 0.0, 0.6)
        self.assertIsNone(mean_dice([{"node_id": 3, "metrics": {"num-examples": 4}}]))
        self.assertEqual(round_line(1, 5, 2, 0.6), "FEDSEG round 1/5: 2 updates, mean_dice 0.600000")
        self.assertEqual(round_line(2, 5, 0, None), "FEDSEG round 2/5: 0 updates, mean_dice n/a")

    def test_history_json(self) -> None:
        history = History("elcfs", nodes={11: {"client": "fedseg", "site": "a", "role": "train"}}, banks={11: [4, 2]})
        record = RoundLog(1)
        record.add_update(11, 3, {"num-examples": 3, "train_loss": 0.25})
        record.add_evaluation(12, {"num-examples": 2, "hd95_1": float("inf")})
        record.add_error(13, "train", "no consent")
        history.rounds.append(record)
        with tempfile.TemporaryDirectory() as tmp:
            history.write(Path(tmp) / "out", [("w", np.ones(2, np.float32))])
            data = json.loads((Path(tmp) / "out" / "history.json").read_text())
            self.assertEqual(load_npz(Path(tmp) / "out" / "final_model.npz")[0][0], "w")
        self.assertEqual(data["strategy"], "elcfs")
        self.assertEqual(data["banks"], {"11": [4, 2]})
        self.assertEqual(data["rounds"][0]["updates"], [{"node_id": 11, "num_examples": 3, "metrics": {"train_loss": 0.25}}])
        self.assertEqual(data["rounds"][0]["evaluations"], [{"node_id": 12, "metrics": {"num-examples": 2, "hd95_1": None}}])
        self.assertEqual(data["rounds"][0]["errors"], [{"node_id": 13, "step": "train", "reason": "no consent"}])


if __name__ == "__main__":
    unittest.main()
