# numpy anchor for the hub's FedAvg row (docs/measured.md §10 CPU against PyTorch, "Averaging"): the
# sample-weighted float64 average of K updates of the reference U-Net with the checks that
# federation-hub/weighted-average.ts makes per update (exactly the global model's names with the same
# shapes, every value finite via the delta norm, positive sample count), so the hub's time has a measured
# baseline in the same run instead of a number from an old one.
#
# A worker like bench/anchors/torch_unet.py: one JSON command per stdin line, one JSON reply per line.
#   {"op":"setup","shapes":[{"name","shape"}],"seed":1}   -> {"ok":true,"params":N}
#   {"op":"time","updates":K,"runs":r,"warmup":w}          -> {"ok":true,"wall":[ms],"cpu":[ms]}
import json
import sys
import time

try:
    import numpy as np
except Exception as e:
    print(json.dumps({"ok": False, "error": f"import failed: {type(e).__name__}: {e}"}), flush=True)
    sys.exit(3)


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def model(shapes, rng):
    return [(s["name"], tuple(s["shape"]), ((rng.random(int(np.prod(s["shape"])), dtype=np.float32) - 0.5) * 0.1).reshape(s["shape"])) for s in shapes]


def check(global_model, update, num_samples):
    if not (isinstance(num_samples, int) and num_samples >= 1):
        raise ValueError(f"sample count must be a positive integer, got {num_samples}")
    by_name = {n: (sh, d) for n, sh, d in update}
    if len(by_name) != len(update):
        raise ValueError("update has duplicate weight names")
    for n, sh, _ in global_model:
        if n not in by_name:
            raise ValueError(f"update lacks weight '{n}'")
        if by_name[n][0] != sh or by_name[n][1].shape != sh:
            raise ValueError(f"weight '{n}' has shape {by_name[n][0]}, expected {sh}")
    if len(by_name) != len(global_model):
        raise ValueError("update has unknown weights")
    return [by_name[n][1] for n, _, _ in global_model]


def fedavg(global_model, updates, k_total):
    sums = [np.zeros(d.size, dtype=np.float64) for _, _, d in global_model]
    samples = 0
    for k in range(k_total):
        w = 10 + k
        arrays = check(global_model, updates[k % len(updates)], w)
        sq = 0.0
        for s, u, (_, _, g) in zip(sums, arrays, global_model):
            u64 = u.ravel().astype(np.float64)
            delta = u64 - g.ravel()
            part = float(np.dot(delta, delta))
            if not np.isfinite(part):
                raise ValueError("update holds a non-finite value")
            sq += part
            s += w * u64
        samples += w
    return [(s / samples).astype(np.float32) for s in sums]


def main():
    state = {}
    reply({"ok": True, "ready": True, "numpy": np.__version__})
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            m = json.loads(line)
            if m["op"] == "quit":
                reply({"ok": True})
                return
            if m["op"] == "setup":
                rng = np.random.default_rng(int(m.get("seed", 1)))
                state["global"] = model(m["shapes"], rng)
                state["updates"] = [model(m["shapes"], rng), model(m["shapes"], rng)]
                reply({"ok": True, "params": int(sum(d.size for _, _, d in state["global"]))})
                continue
            if m["op"] == "time":
                k = int(m["updates"])
                for _ in range(int(m.get("warmup", 0))):
                    fedavg(state["global"], state["updates"], k)
                walls, cpus = [], []
                for _ in range(int(m.get("runs", 1))):
                    c0, t0 = time.process_time(), time.perf_counter()
                    out = fedavg(state["global"], state["updates"], k)
                    walls.append((time.perf_counter() - t0) * 1000)
                    cpus.append((time.process_time() - c0) * 1000)
                    if not all(np.isfinite(a).all() for a in out):
                        raise ValueError("non-finite average")
                reply({"ok": True, "wall": walls, "cpu": cpus})
                continue
            raise ValueError(f"unknown op {m['op']!r}")
        except Exception as e:
            reply({"ok": False, "error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
