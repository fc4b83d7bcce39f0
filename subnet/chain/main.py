"""``subnet-chain``: run the chain node.

    subnet-chain --data-dir DIR [--port 9944] [--host 127.0.0.1] [--block-time-s 12] [--tempo 360]
                 [--genesis FILE] [--metrics-port P] [--tls-cert FILE --tls-key FILE]
                 [--max-subscribers N] [--max-subscribers-per-connection N]

The first start needs ``--genesis``; later starts resume the chain in DIR (``--genesis`` is then checked against
it). ``--tempo`` overrides the genesis file's tempo when a chain is created. Once serving, the node prints one line
``READY chain 127.0.0.1:PORT`` on stdout, so scripts and tests that pass ``--port 0`` learn the port.

The node signs its query answers with the key in ``DIR/node_key``. A genesis that names ``node_address`` pins
that key: the node refuses to start (exit 2) with any other key, so clients pinned to the genesis can trust it.
``subnet-chain --data-dir DIR --print-node-address`` prints that key's address (creating the key if needed) and
exits: put it in the genesis as ``[subnet] node_address``. With ``--tls-cert``/``--tls-key`` the port speaks TLS
only.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from subnet.chain.genesis import GenesisError, load_genesis
from subnet.chain.node import ChainNode
from subnet.chain.node_key import check_node_key, load_or_create_node_key
from subnet.chain.service import MAX_SUBSCRIBERS, MAX_SUBSCRIBERS_PER_CONNECTION, BlockClock, ChainService
from subnet.chain.store import StoreError

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
    print_node_address: bool = False  # print the node key's address and exit
    tls_cert: Path | None = None  # PEM certificate chain; with tls_key, the port speaks TLS only
    tls_key: Path | None = None
    max_subscribers: int = MAX_SUBSCRIBERS
    max_subscribers_per_connection: int = MAX_SUBSCRIBERS_PER_CONNECTION


def open_node(settings: ChainSettings) -> ChainNode:
    genesis = None
    if settings.genesis_path is not None:
        genesis = load_genesis(settings.genesis_path)
        check_node_key(genesis, settings.data_dir)  # before anything is created in the data dir
        if settings.tempo is not None:
            genesis = dataclasses.replace(genesis, hyper=genesis.hyper.replace(tempo=settings.tempo))
    return ChainNode.open(settings.data_dir, genesis)


async def serve(settings: ChainSettings, stop: asyncio.Event) -> None:
    from subnet.auth.policy import AllowAll
    from subnet.auth.settings import OPEN
    from subnet.server import create_server, service, tls_server_credentials

    credentials = None
    if settings.tls_cert is not None and settings.tls_key is not None:
        credentials = tls_server_credentials(settings.tls_cert, settings.tls_key)  # read before opening the node
    node = open_node(settings)
    clock = BlockClock(node, settings.block_time_s)
    chain_service = ChainService(node, clock, max_subscribers=settings.max_subscribers,
                                 max_subscribers_per_connection=settings.max_subscribers_per_connection)
    try:
        server, port = await create_server(
            service(chain_service, "Chain"), identity=load_or_create_node_key(settings.data_dir), policy=AllowAll(),
            host=settings.host, port=settings.port, methods={"/subnet.v1.Chain/": OPEN},
            server_credentials=credentials,
        )
        if settings.metrics_port is not None:
            from subnet.chain.metrics import start_metrics

            start_metrics(settings.metrics_port, node)
        await server.start()
        clock.start()
        log.info("chain at block %d, serving on %s:%d", node.head.height, settings.host, port)
        print(f"READY chain {settings.host}:{port}", flush=True)
        await stop.wait()
        await chain_service.stop()  # ends waiting block subscriptions, so the server stops without waiting
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
    p.add_argument("--tls-cert", type=Path, default=None, help="PEM certificate (chain): serve TLS only")
    p.add_argument("--tls-key", type=Path, default=None, help="PEM private key of --tls-cert")
    p.add_argument("--max-subscribers", type=int, default=MAX_SUBSCRIBERS,
                   help=f"block subscriptions served at once (default {MAX_SUBSCRIBERS})")
    p.add_argument("--max-subscribers-per-connection", type=int, default=MAX_SUBSCRIBERS_PER_CONNECTION,
                   help=f"block subscriptions one connection may hold (default {MAX_SUBSCRIBERS_PER_CONNECTION})")
    p.add_argument("--print-node-address", action="store_true",
                   help="print this node's key address (for the genesis's node_address) and exit")
    p.add_argument("--log-level", default=os.environ.get("SUBNET_LOG_LEVEL", "INFO"))
    args = p.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every block at INFO
    if args.block_time_s <= 0:
        p.error("--block-time-s must be positive")
    if (args.tls_cert is None) != (args.tls_key is None):
        p.error("--tls-cert and --tls-key go together")
    if args.max_subscribers < 1 or args.max_subscribers_per_connection < 1:
        p.error("--max-subscribers and --max-subscribers-per-connection must be at least 1")
    return ChainSettings(data_dir=args.data_dir, genesis_path=args.genesis, host=args.host, port=args.port,
                         block_time_s=args.block_time_s, tempo=args.tempo, metrics_port=args.metrics_port,
                         tls_cert=args.tls_cert, tls_key=args.tls_key, max_subscribers=args.max_subscribers,
                         max_subscribers_per_connection=args.max_subscribers_per_connection,
                         print_node_address=args.print_node_address)


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    if settings.print_node_address:
        try:
            print(load_or_create_node_key(settings.data_dir).ss58_address)
        except (StoreError, OSError) as exc:
            print(f"subnet-chain: {exc}", file=sys.stderr)
            return 2
        return 0

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
