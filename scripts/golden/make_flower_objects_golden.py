"""Golden fixture for core/flower/objects.ts (docs/flower.md §4): Flower's own code deflates a message
(arrays, repeated arrays, a multi-chunk array, metrics, config) and an error reply; the fixture keeps
every object's id and bytes so FedSeg's deflation can be compared byte for byte.

Run with Debian's python3 and the shared Flower tree:
  PYTHONPATH=../shared/flower/v1.26.1/site /usr/bin/python3 scripts/golden/make_flower_objects_golden.py
"""
import io
import json
import os

os.environ.setdefault("FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE", "5242880")
import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.common.inflatable import get_all_nested_objects, get_object_tree
from flwr.common.message import make_message
from flwr.common import Error

rng = np.random.default_rng(7)
w = rng.standard_normal((2, 3)).astype(np.float32)
big = (np.arange(1_400_000, dtype=np.float32) * 0.5).astype(np.float32)  # 5.6 MB: two chunks; reproducible without numpy
content = RecordDict({
    "arrays": ArrayRecord({"enc0.conv0.kernel": Array(w), "enc0.conv0.bias": Array(np.zeros(3, np.float32)),
                           "enc1.conv0.bias": Array(np.zeros(3, np.float32)), "big": Array(big)}),
    "metrics": MetricRecord({"num-examples": 5, "train_loss": 0.25, "dice": [0.5, 0.75]}),
    "config": ConfigRecord({"server-round": 2, "mode": "elcfs", "lr": 0.001, "flag": True, "counts": [1, 2]}),
})
from flwr.app import Metadata

meta = Metadata(run_id=7, message_id="", src_node_id=1, dst_node_id=42, reply_to_message_id="", group_id="2",
                created_at=1764690000.5, ttl=3600.0, message_type="train")
msg = make_message(metadata=meta, content=content)
err = make_message(metadata=Metadata(run_id=7, message_id="", src_node_id=1, dst_node_id=42, reply_to_message_id="", group_id="2", created_at=1764690000.5, ttl=3600.0, message_type="train"), error=Error(code=1, reason="refused: no consent"))


def dump(m):
    objs = get_all_nested_objects(m)
    tree = get_object_tree(m)

    def t(x):
        return {"id": x.object_id, "children": [t(c) for c in x.children]}

    return {"id": m.object_id, "tree": t(tree),
            "objects": {k: v.deflate().hex() for k, v in objs.items() if not k == "x"}}


out = {
    "metadata": {"run_id": 7, "src_node_id": 1, "dst_node_id": 42, "group_id": "2", "ttl": 3600.0,
                 "message_type": "train", "created_at": 1764690000.5},
    "arrays": {"w": w.tolist()},
    "big": {"seed": 7, "n": int(big.size), "sha256": __import__("hashlib").sha256(big.tobytes()).hexdigest()},
    "message": dump(msg),
    "error": dump(err),
}
# The 5.6 MB array's chunks are kept out of the fixture; their ids stay (the test rebuilds them).
big_id = content["arrays"]["big"].object_id
for cid in content["arrays"]["big"].children:
    out["message"]["objects"].pop(cid)
out["big"]["array_id"] = big_id
out["big"]["npy"] = None
buf = io.BytesIO()
np.save(buf, big, allow_pickle=False)
out["big"]["npy_sha256"] = __import__("hashlib").sha256(buf.getvalue()).hexdigest()
out["big"]["values_head"] = big[:4].tolist()
with open("test/fixtures/golden/flower-objects.json", "w") as f:
    json.dump(out, f, indent=1)
print("wrote test/fixtures/golden/flower-objects.json")
