"""The message types a FedSeg ServerApp and its sites exchange, and what a `query.describe` reply
says about a node (docs/flower.md §5).

A node that answers `query.describe` with an error, or without a `config` naming its `client`, is a
generic Flower node (a Python SuperNode running some ClientApp): it trains (role "train", client
"python") but has no FedSeg model to initialise from and shares no amplitude windows.

Pure Python (no Flower import).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DESCRIBE = "query.describe"
INIT = "query.init"
SPECTRA = "query.spectra"
TRAIN = "train"
EVALUATE = "evaluate"

PROTOCOL_VERSION = 1
ROLES = ("train", "eval")


@dataclass(frozen=True)
class NodeInfo:
    """A node as its `query.describe` reply presents it."""

    node_id: int
    client: str
    site: str
    role: str
    kinds: tuple[str, ...] = ()
    note: str = ""

    @property
    def is_fedseg(self) -> bool:
        """Whether the node is a FedSeg site (it can build the model and share windows)."""
        return self.client == "fedseg"


def parse_describe(node_id: int, config: Mapping[str, object] | None, error: str | None) -> NodeInfo:
    """The NodeInfo of a `query.describe` reply: its `config` record (None when absent) or the
    error reply's reason. `note` says why a node was taken as a generic Flower node."""
    if error is not None:
        return NodeInfo(node_id, "python", f"node-{node_id}", "train", note=f"describe error: {error}")
    if config is None or not isinstance(config.get("client"), str) or not config["client"]:
        return NodeInfo(node_id, "python", f"node-{node_id}", "train", note="no describe config")
    client = str(config["client"])
    site = config.get("site")
    site_name = site if isinstance(site, str) and site else f"node-{node_id}"
    role = config.get("role")
    note = ""
    if role not in ROLES:
        note = f"role {role!r} is neither train nor eval; taken as train"
        role = "train"
    kinds_value = config.get("kinds")
    kinds = tuple(k.strip() for k in kinds_value.split(",") if k.strip()) if isinstance(kinds_value, str) else ()
    return NodeInfo(node_id, client, site_name, str(role), kinds, note)
