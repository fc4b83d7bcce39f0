"""``subnet-chain``: run the chain node.

    subnet-chain --data-dir DIR [--port 9944] [--host 127.0.0.1] [--block-time-s 12] [--tempo 360]
                 [--genesis FILE] [--metrics-port P]

The first start needs ``--genesis``; later starts resume the chain in DIR (``--genesis`` is then checked against
it). ``--tempo`` overrides the genesis file's tempo when a chain is created. Once serving, the node prints one line
``READY chain 127.0.0.1:PORT`` on stdout, so scripts and tests that pass ``--port 0`` learn the port.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from subnet.chain.genesis import GenesisError, load_genesis
from subnet.chain.node import ChainNode
from subnet.chain.service import BlockClock, ChainService
from subnet.chain.store import StoreError
from subnet.keys import Keypair

log = logging.getLogger("subnet.chain")


@dataclass(frozen=True)
class ChainSettings:
    data_dir: Path
    genesis_path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 9944
    block_time_s: float = 12.0
    tempo: int | None = None  # overrides the genesis tempo at creation
    metrics_port: int | None = None
    shutdown_grace_s: float = 3.0


def node_key(data_dir: Path) -> Keypair:
    """The node's own key, which signs query responses; created once, kept 0600 in the data dir."""
    path = data_dir / "node_key"
    if path.exists():
        try:
            return Keypair.from_seed_hex(path.read_text().strip())
        except ValueError as exc:
            raise StoreError(f"{path} is not a node key ({exc}): restore it from a backup, or delete it to give "
                             "the node a new identity") from None
    key = Keypair.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.seed.hex())
    return key


def open_node(settings: ChainSettings) -> ChainNode:
    genesis = None
    if settings.genesis_path is not None:
        genesis = load_genesis(settings.genesis_path)
        if settings.tempo is not None:
            genesis = type(genesis)(genesis.owner_coldkey, genesis.owner_hotkey,
                                    genesis.hyper.replace(tempo=settings.tempo), genesis.accounts)
    return ChainNode.open(settings.data_dir, genesis)


async def serve(settings: ChainSettings, stop: asyncio.Event) -> None:
    from subnet.auth.policy import AllowAll
    from subnet.auth.settings import OPEN
    from subnet.server import create_server, service

    node = open_node(settings)
    clock = BlockClock(node, settings.block_time_s)
    chain_service = ChainService(node, clock)
    try:
        server, port = await create_server(
            service(chain_service, "Chain"), identity=node_key(settings.data_dir), policy=AllowAll(),
            host=settings.host, port=settings.port, methods={"/subnet.v1.Chain/": OPEN},
        )
        if settings.metrics_port is not None:
            from subnet.chain.metrics import start_metrics

            start_metrics(settings.metrics_port, node)
        await server.start()
        clock.start()
        log.info("chain at block %d, serving on %s:%d", node.head.height, settings.host, port)
        print(f"READY chain {settings.host}:{port}", flush=True)
        await stop.wait()
        chain_service.stopping = True
        await clock.stop()
        await server.stop(settings.shutdown_grace_s)
    finally:
        node.close()


def parse_args(argv: list[str] | None) -> ChainSettings:
    p = argparse.ArgumentParser(prog="subnet-chain", description="Run the subnet's chain node.")
    p.add_argument("--data-dir", type=Path, required=True, help="where the chain database lives")
    p.add_argument("--genesis", type=Path, default=None, help="genesis TOML (needed on the first start)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=9944, help="gRPC port (0 picks a free one)")
    p.add_argument("--block-time-s", type=float, default=12.0, help="seconds between blocks (default 12)")
    p.add_argument("--tempo", type=int, default=None, help="blocks between epochs, when creating the chain")
    p.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port")
    p.add_argument("--log-level", default=os.environ.get("SUBNET_LOG_LEVEL", "INFO"))
    args = p.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every block at INFO
    if args.block_time_s <= 0:
        p.error("--block-time-s must be positive")
    return ChainSettings(data_dir=args.data_dir, genesis_path=args.genesis, host=args.host, port=args.port,
                         block_time_s=args.block_time_s, tempo=args.tempo, metrics_port=args.metrics_port)


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    try:
        asyncio.run(run())
    except (StoreError, GenesisError, OSError) as exc:
        print(f"subnet-chain: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
