#!/usr/bin/env bash
# The ServerApp (docs/flower.md §5-6) on a real Flower SuperLink, Python only:
#   flower-superlink --insecure + 2 x flower-supernode --insecure (node config num-examples=3
#   site="a" / num-examples=1 site="b", plus the probe's keys), then through run_local.py (the
#   function behind `flwr run`), with the package's reference ClientApp:
#   1. strategy "fedavg", 2 rounds, initial-model = an .npz written here;
#   2. strategy "elcfs", 2 rounds, same model: no node shares windows, so every bank is empty and the
#      rounds run as FedAvg;
#   3. no initial-model and no FedSeg site: the run fails with the one FEDSEG_ERROR line;
#   4. min-nodes=3 with 2 nodes and timeout=4: the run fails with the waiting error.
#   The reference client returns the weights unchanged, so 1-2 must end with exactly the initial
#   model (names, order, values, FEDSEG_FINAL's sha256) and a history of 2 rounds x 2 updates.
#   Then with tests/probe_client_app.py as the ClientApp (a's update = model + 1, b's = model + 5):
#   5. strategy "elcfs": a shares 2 windows of 1.0, b 1 window of 2.0; a's bank must hold b's window
#      only and b's a's two, both train in mode elcfs, and the model gains (3*1 + 1*5)/4 = 2 a round;
#   6. strategy "fedavg" (Flower's FedAvg): the same average, with only a reporting a mean_dice (the
#      metric keys differ, which Flower's FedAvg refuses until they are cut to the common ones).
# Env: FLOWER_DIR (Flower's tree: bin/ + site/; default ../shared/flower/v1.26.1 beside the repo),
#      WORK (a scratch dir, emptied; default a new temp dir), PORT_BASE (default 19491: ServerAppIo
#      +0, Fleet +1, Control +2, ClientAppIo +3 and +4; all on 127.0.0.1), PYTHON (/usr/bin/python3).
# Every process started here (and the flower-superexec / flwr-serverapp / flwr-clientapp children
# they start) is stopped by PID on exit.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
APP_SRC="$(cd "$HERE/.." && pwd)"
REPO="$(cd "$APP_SRC/../.." && pwd)"
FLOWER_DIR="$(cd "${FLOWER_DIR:-$REPO/../shared/flower/v1.26.1}" && pwd)"
WORK="${WORK:-$(mktemp -d)}"
B="${PORT_BASE:-19491}"
SAIO=$B; FLEET=$((B+1)); CTRL=$((B+2)); CAIO0=$((B+3)); CAIO1=$((B+4))
PY="${PYTHON:-/usr/bin/python3}"
T0=$(date +%s)

rm -rf "$WORK"; mkdir -p "$WORK/home/.flwr"
export HOME="$WORK/home" FLWR_HOME="$WORK/home/.flwr" PATH="$FLOWER_DIR/bin:$PATH"
export PYTHONPATH="$FLOWER_DIR/site" PYTHONDONTWRITEBYTECODE=1
cat > "$FLWR_HOME/config.toml" <<T
[superlink]
default = "fedseg-test"

[superlink.fedseg-test]
address = "127.0.0.1:$CTRL"
insecure = true
T
# A copy: `flwr run` may rewrite the app's pyproject.toml, and the FAB should hold only the app.
mkdir -p "$WORK/app"
cp "$APP_SRC/pyproject.toml" "$APP_SRC/README.md" "$WORK/app/"
cp -r "$APP_SRC/fedseg_flower" "$WORK/app/"
find "$WORK/app" -name __pycache__ -prune -exec rm -rf {} +
cp -r "$WORK/app" "$WORK/app-probe"
cp "$HERE/probe_client_app.py" "$WORK/app-probe/"
sed -i 's/^clientapp = .*/clientapp = "probe_client_app:app"/' "$WORK/app-probe/pyproject.toml"
grep -q '^clientapp = "probe_client_app:app"' "$WORK/app-probe/pyproject.toml"

# The initial model: names not in sorted order, so a reordering anywhere would show.
"$PY" - "$WORK/initial.npz" <<'PY'
import sys
import numpy as np
np.savez(sys.argv[1], **{"z.kernel": np.ones((2, 2), np.float32),
                         "a.bias": np.array([0.5, -1.25, 2.0], np.float32)})
PY

PIDS=()
tree() { local c; for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do tree "$c"; echo "$c"; done; }
cleanup() {
  local all=() p i alive
  for p in "${PIDS[@]}"; do all+=($(tree "$p")); all+=("$p"); done
  [ ${#all[@]} -gt 0 ] || return 0
  kill "${all[@]}" 2>/dev/null || true
  for ((i=0; i<20; i++)); do
    alive=0
    for p in "${all[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.5
  done
  for p in "${all[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

wait_port() {  # port seconds
  local i
  for ((i=0; i<$2*2; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.5
  done
  echo "port $1 is not listening after $2 s" >&2; return 1
}

cd "$WORK"
flower-superlink --insecure --serverappio-api-address "127.0.0.1:$SAIO" \
  --fleet-api-address "127.0.0.1:$FLEET" --control-api-address "127.0.0.1:$CTRL" > superlink.log 2>&1 &
PIDS+=($!)
wait_port "$FLEET" 60; wait_port "$CTRL" 60; wait_port "$SAIO" 60
flower-supernode --insecure --superlink "127.0.0.1:$FLEET" --clientappio-api-address "127.0.0.1:$CAIO0" \
  --node-config 'num-examples=3 site="a" windows=2 fill=1.0 delta=1.0 dice=0.5' > supernode-a.log 2>&1 &
PIDS+=($!)
flower-supernode --insecure --superlink "127.0.0.1:$FLEET" --clientappio-api-address "127.0.0.1:$CAIO1" \
  --node-config 'num-examples=1 site="b" windows=1 fill=2.0 delta=5.0' > supernode-b.log 2>&1 &
PIDS+=($!)
wait_port "$CAIO0" 60; wait_port "$CAIO1" 60
echo "SuperLink (Control 127.0.0.1:$CTRL) and 2 SuperNodes up after $(( $(date +%s) - T0 )) s"

run_app() {  # name run-config [app dir]
  local t=$(date +%s)
  local rc=0
  timeout 300 "$PY" "$APP_SRC/run_local.py" "${3:-$WORK/app}" fedseg-test --stream --run-config "$2" \
    > "run-$1.log" 2>&1 || rc=$?
  echo "$rc" > "run-$1.rc"
  echo "run $1: $(( $(date +%s) - t )) s, exit status $rc"
}

run_app fedavg "strategy=\"fedavg\" num-server-rounds=2 timeout=60 initial-model=\"$WORK/initial.npz\" out-dir=\"$WORK/out-fedavg\""
run_app elcfs "strategy=\"elcfs\" num-server-rounds=2 timeout=60 initial-model=\"$WORK/initial.npz\" out-dir=\"$WORK/out-elcfs\""
run_app no-init "strategy=\"elcfs\" num-server-rounds=1 timeout=60"
run_app few-nodes "strategy=\"fedavg\" min-nodes=3 timeout=4 initial-model=\"$WORK/initial.npz\""
run_app probe-elcfs "strategy=\"elcfs\" num-server-rounds=2 timeout=60 max-half-width=1 initial-model=\"$WORK/initial.npz\" out-dir=\"$WORK/out-probe-elcfs\"" "$WORK/app-probe"
run_app probe-fedavg "strategy=\"fedavg\" num-server-rounds=2 timeout=60 initial-model=\"$WORK/initial.npz\" out-dir=\"$WORK/out-probe-fedavg\"" "$WORK/app-probe"

status=0
"$PY" - "$WORK" <<'PY' || status=$?
import hashlib, json, re, sys
from pathlib import Path
import numpy as np

work = Path(sys.argv[1])
failures = []

def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)

statuses = {p.stem[4:]: p.read_text().strip() for p in work.glob("run-*.rc")}
check(statuses == {"fedavg": "0", "elcfs": "0", "no-init": "1", "few-nodes": "1", "probe-elcfs": "0", "probe-fedavg": "0"},
      f"run_local.py exits 0 for a finished run, 1 for a failed one ({statuses})")

with np.load(work / "initial.npz") as npz:
    initial = [(k, npz[k]) for k in npz.files]
digest = hashlib.sha256(b"".join(a.astype("<f4").tobytes() for _, a in initial)).hexdigest()

for strategy in ("fedavg", "elcfs"):
    log = (work / f"run-{strategy}.log").read_text(errors="replace")
    check(f"FEDSEG_FINAL rounds=2 arrays=2 sha256={digest}" in log, f"{strategy}: FEDSEG_FINAL line with the initial model's sha256")
    lines = re.findall(r"FEDSEG round (\d)/2: (\d+) updates, mean_dice n/a", log)
    check(lines == [("1", "2"), ("2", "2")], f"{strategy}: one FEDSEG round line per round, 2 updates each ({lines})")
    check("FEDSEG_ERROR" not in log, f"{strategy}: no FEDSEG_ERROR")
    out = work / f"out-{strategy}"
    if not (out / "final_model.npz").is_file() or not (out / "history.json").is_file():
        check(False, f"{strategy}: out-dir holds final_model.npz and history.json")
        continue
    with np.load(out / "final_model.npz") as npz:
        final = [(k, npz[k]) for k in npz.files]
    check([k for k, _ in final] == [k for k, _ in initial], f"{strategy}: final model keeps the names in order")
    check(all(f.dtype == np.float32 and np.array_equal(f, i) for (_, f), (_, i) in zip(final, initial)),
          f"{strategy}: final model equals the initial model (the reference client returns it unchanged)")
    history = json.loads((out / "history.json").read_text())
    check(history["strategy"] == strategy, f"{strategy}: history names the strategy")
    rounds = history["rounds"]
    check([r["round"] for r in rounds] == [1, 2], f"{strategy}: history lists 2 rounds")
    sites = {v["site"]: int(k) for k, v in history["nodes"].items()}
    check(sorted(sites) == ["a", "b"] and all(v["client"] == "python" and v["role"] == "train"
          for v in history["nodes"].values()), f"{strategy}: both nodes described as python train nodes ({history['nodes']})")
    for r in rounds:
        weights = sorted((u["node_id"], u["num_examples"]) for u in r["updates"])
        check(weights == sorted([(sites.get("a"), 3), (sites.get("b"), 1)]),
              f"{strategy} round {r['round']}: 2 updates weighted 3 and 1 ({weights})")
        evaluated = sorted(e["node_id"] for e in r["evaluations"])
        check(evaluated == sorted(sites.values()), f"{strategy} round {r['round']}: both nodes evaluated")
        check(r["errors"] == [], f"{strategy} round {r['round']}: no errors ({r['errors']})")
    if strategy == "elcfs":
        check(history["banks"] == {str(n): [] for n in sites.values()}, f"elcfs: every bank empty ({history['banks']})")
        check(log.count("shares no amplitude windows") >= 2, "elcfs: both refusals of query.spectra logged")
        check(log.count("trains as FedAvg") >= 2, "elcfs: both nodes train as FedAvg")
    else:
        check(history["banks"] == {}, "fedavg: no banks")

log = (work / "run-no-init.log").read_text(errors="replace")
check("FEDSEG_ERROR no FedSeg train site to build the initial model" in log, "no initial-model and no FedSeg site: clear error")
check("FEDSEG_FINAL" not in log, "no initial-model: the run does not finish")
log = (work / "run-few-nodes.log").read_text(errors="replace")
check("FEDSEG_ERROR only 2 of min-nodes=3 Flower nodes connected" in log, "min-nodes not reached: clear error")

# The probe: a's update is the model + 1 (weight 3), b's the model + 5 (weight 1): + 2 a round.
expected = [(k, a + np.float32(4.0)) for k, a in initial]
digest4 = hashlib.sha256(b"".join(a.astype("<f4").tobytes() for _, a in expected)).hexdigest()
for strategy in ("elcfs", "fedavg"):
    name = f"probe-{strategy}"
    log = (work / f"run-{name}.log").read_text(errors="replace")
    check(f"FEDSEG_FINAL rounds=2 arrays=2 sha256={digest4}" in log, f"{name}: FEDSEG_FINAL = the model + 4 after 2 rounds")
    lines = re.findall(r"FEDSEG round (\d)/2: (\d+) updates, mean_dice (\S+)", log)
    check(lines == [("1", "2", "0.500000"), ("2", "2", "0.500000")], f"{name}: round lines with a's mean_dice ({lines})")
    out = work / f"out-{name}"
    if not (out / "history.json").is_file():
        check(False, f"{name}: history.json written")
        continue
    with np.load(out / "final_model.npz") as npz:
        final = [(k, npz[k]) for k in npz.files]
    check([k for k, _ in final] == [k for k, _ in expected] and all(np.array_equal(f, e) for (_, f), (_, e) in zip(final, expected)),
          f"{name}: final_model.npz = the model + 4, names in order")
    history = json.loads((out / "history.json").read_text())
    sites = {v["site"]: k for k, v in history["nodes"].items()}
    for r in history["rounds"]:
        by_node = {str(u["node_id"]): u for u in r["updates"]}
        check(set(by_node) == set(sites.values()), f"{name} round {r['round']}: both updates averaged")
        check(all(u.get("metrics", {}).get("config-ok") == 1 for u in by_node.values()), f"{name} round {r['round']}: train config complete")
        if strategy == "elcfs":
            a, b = by_node.get(sites["a"], {}).get("metrics", {}), by_node.get(sites["b"], {}).get("metrics", {})
            check((a.get("mode-elcfs"), a.get("bank-windows"), a.get("bank-fill")) == (1, 1, 2.0),
                  f"elcfs round {r['round']}: a's bank = b's one window, mode elcfs ({a})")
            check((b.get("mode-elcfs"), b.get("bank-windows"), b.get("bank-fill")) == (1, 2, 1.0),
                  f"elcfs round {r['round']}: b's bank = a's two windows, mode elcfs ({b})")
        else:
            check(all(u["metrics"].get("mode-elcfs") == 0 and u["metrics"].get("bank-windows") == 0 for u in by_node.values()),
                  f"fedavg round {r['round']}: no bank, mode fedavg")
        dice = {str(e["node_id"]): e["metrics"].get("mean_dice") for e in r["evaluations"]}
        check(dice == {sites["a"]: 0.5, sites["b"]: None}, f"{name} round {r['round']}: evaluations of both ({dice})")
    if strategy == "elcfs":
        check(history["banks"] == {sites["a"]: [1], sites["b"]: [2]}, f"elcfs: banks a=[1] b=[2] ({history['banks']})")
    else:
        check("aggregating the metric keys every reply has" in log, "fedavg: differing metric keys trimmed for Flower's FedAvg")
sys.exit(1 if failures else 0)
PY
echo "test_server_app: $([ $status = 0 ] && echo PASSED || echo FAILED) in $(( $(date +%s) - T0 )) s (logs in $WORK)"
exit $status
