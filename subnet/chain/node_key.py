"""The chain node's own key: it signs every query answer, and a genesis may pin it (``node_address``).

Kept as a hex seed in ``DATA_DIR/node_key`` (mode 0600), created on first start. Clients that pin the key
(``ChainClient(node_address=...)``, ``--chain.node-address``) refuse answers it did not sign, so a node serving
under another key would be useless to them: ``check_node_key`` refuses to start it instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from subnet.chain.genesis import Genesis
from subnet.chain.store import StoreError
from subnet.keys import Keypair


def read_node_key(data_dir: Path) -> Keypair | None:
    """The node key kept in ``data_dir``, or None when there is none yet."""
    path = data_dir / "node_key"
    if not path.exists():
        return None
    try:
        return Keypair.from_seed_hex(path.read_text().strip())
    except ValueError as exc:
        raise StoreError(f"{path} is not a node key ({exc}): restore it from a backup, or delete it to give "
                         "the node a new identity") from None


def load_or_create_node_key(data_dir: Path) -> Keypair:
    """The node's own key, which signs query responses; created once, kept 0600 in the data dir."""
    existing = read_node_key(data_dir)
    if existing is not None:
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "node_key"
    key = Keypair.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.seed.hex())
    return key


def check_node_key(genesis: Genesis, data_dir: Path) -> None:
    """Refuse to serve under a key other than the one the genesis names (clients pinned to it would refuse us)."""
    if genesis.node_address is None:
        return
    key = read_node_key(data_dir)
    if key is None:
        raise StoreError(f"the genesis pins node_address {genesis.node_address} but {data_dir / 'node_key'} does "
                         "not exist: copy that node's key there, or drop node_address from the genesis")
    if key.ss58_address != genesis.node_address:
        raise StoreError(f"the genesis pins node_address {genesis.node_address} but {data_dir / 'node_key'} is "
                         f"{key.ss58_address}: use the data dir of that node, or a genesis that names this key")
