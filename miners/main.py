"""``subnet-miner``: serve a language model to the subnet's validators.

    subnet-miner --wallet.name W --wallet.hotkey H --chain.endpoint HOST:PORT --axon.port P
                 [--axon.external_ip IP] [--model smollm2-135m | tiny | PATH | PATH.gguf | echo]
                 [--device auto|cpu|cuda] [--dtype auto|float32|bfloat16|float16] [--threads N] [--max-batch N]
                 [--max-new-tokens N] [--max-prompt-tokens N] [--allowlist SS58,...] [--min-stake TOKENS]

Loads the model (with progress), starts the gRPC server, then announces the endpoint and the model commitment
(name + SHA-256 of the weights) with a ``serve`` transaction, and prints ``READY miner HOST:PORT``. Who may call
comes from the live metagraph (registered, validator permit, minimum stake), refreshed every few seconds, plus
the allowlist (the demo gateway). SIGINT/SIGTERM finish in-flight requests for a few seconds, then stop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from consensus.units import UNITS_PER_TOKEN
from miners.generators import EchoGenerator, EngineGenerator, Generator
from miners.service import MinerService
from subnet.auth.policy import MetagraphPolicy, NeuronAccess
from subnet.chain.client import ChainClient, ChainUnavailable, TransactionRefused, add_chain_trust_flags
from subnet.errors import SubnetError
from subnet.metagraph import Metagraph
from subnet.models import ModelIdentity
from subnet.server import create_server, service
from subnet.wallet import Wallet, default_wallet_root

log = logging.getLogger("subnet.miner")


@dataclass(frozen=True)
class MinerSettings:
    chain_endpoint: str = "127.0.0.1:9944"
    chain_node_address: str | None = None  # pin the chain node key (see ChainClient)
    chain_tls_ca: Path | None = None
    wallet_name: str = "default"
    wallet_hotkey: str = "default"
    wallet_path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8091
    external_ip: str | None = None
    model: str = "smollm2-135m"
    device: str = "auto"
    dtype: str = "auto"
    max_batch: int = 8
    max_queue: int = 64
    max_new_tokens: int = 256
    max_prompt_tokens: int = 1024
    allowlist: tuple[str, ...] = ()
    min_stake_units: int = 0
    policy_refresh_s: float = 3.0
    shutdown_grace_s: float = 5.0
    temperature_floor: float = 0.0  # > 0 never samples colder than this (a deliberately noisier miner)
    echo_delay_s: float = 0.0
    metrics_port: int | None = None
    threads: int | None = None  # torch threads on CPU; None = every core but one


class MinerStartupError(SubnetError):
    """The miner cannot start; the message says what to do."""


def load_generator(s: MinerSettings) -> Generator:
    if s.model == "echo":
        return EchoGenerator(max_new_tokens=s.max_new_tokens, delay_s=s.echo_delay_s)
    from miners.engine import Engine, EngineSettings
    from miners.transformers_backend import TransformersBackend
    from subnet.model_loading import load_model

    print(f"loading model {s.model} ...", flush=True)
    loaded = load_model(s.model, device=s.device, dtype=s.dtype)
    print(f"loaded {loaded.identity.name} ({loaded.identity.weights_sha256[:12]}) on {loaded.device} "
          f"in {str(loaded.dtype).removeprefix('torch.')}", flush=True)
    engine = Engine(TransformersBackend(loaded, threads=s.threads), EngineSettings(
        max_batch=s.max_batch, max_queue=s.max_queue, max_prompt_tokens=s.max_prompt_tokens,
        max_new_tokens=s.max_new_tokens))
    return EngineGenerator(engine)


async def refresh_policy(chain: ChainClient, policy: MetagraphPolicy, every_s: float, stop: asyncio.Event) -> None:
    """Keep the access policy in step with the chain: who is registered, their stake and permits."""
    while not stop.is_set():
        try:
            graph = await Metagraph.sync(chain)
            policy.update({graph.hotkeys[i]: NeuronAccess(i, int(graph.stake_units[i]),
                                                          bool(graph.validator_permit[i])) for i in range(graph.n)})
        except Exception as exc:  # the chain restarting: keep the last snapshot
            log.debug("metagraph refresh failed: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)


async def announce(chain: ChainClient, hotkey, endpoint: str, identity: ModelIdentity) -> None:
    """Send the serve transaction (endpoint + model commitment), retrying while the chain is unreachable."""
    while True:
        try:
            graph = await Metagraph.sync(chain)
            if graph.uid_of(hotkey.ss58_address) is None:
                raise MinerStartupError(f"hotkey {hotkey.ss58_address} is not registered on the subnet: run "
                                        "`subnet register` first")
            await chain.serve(hotkey, endpoint, identity.name, identity.weights_sha256)
            warn_if_not_admitted(graph, identity)
            return
        except ChainUnavailable as exc:
            log.warning("cannot reach the chain to announce the endpoint (%s); retrying", exc)
            await asyncio.sleep(2)
        except TransactionRefused as exc:
            raise MinerStartupError(f"the chain refused the serve transaction: {exc}") from None


def warn_if_not_admitted(graph: Metagraph, identity: ModelIdentity) -> None:
    """Say so when validators will not pay for this model: it is not on the owner's admitted list, or the list
    requires another precision. (The miner still serves: the owner may admit the model later.)"""
    admitted = graph.admitted(identity.weights_sha256)
    if not graph.admitted_models:
        log.warning("the subnet admits no models yet: validators pay only miners serving a model they hold "
                    "themselves")
    elif admitted is None:
        names = ", ".join(f"{m.name} ({m.model_hash[:12]}..)" for m in graph.admitted_models)
        log.warning("%s (%s..) is not an admitted model of this subnet, so it earns nothing; admitted: %s",
                    identity.name, identity.weights_sha256[:12], names)
    elif admitted.dtype and admitted.dtype != identity.dtype:
        log.warning("the subnet admits %s only in %s but this miner computes in %s, so it earns nothing: pass "
                    "--dtype %s", admitted.name, admitted.dtype, identity.dtype or "an undeclared dtype", admitted.dtype)


async def run(s: MinerSettings, generator: Generator | None = None) -> None:
    """Serve until SIGINT/SIGTERM. ``generator`` replaces the one ``s.model`` names (tests run real miners
    with deliberately faulty generators this way)."""
    wallet = Wallet(name=s.wallet_name, hotkey=s.wallet_hotkey, root=s.wallet_path or default_wallet_root())
    hotkey = wallet.load_hotkey()
    if generator is None:
        generator = await asyncio.to_thread(load_generator, s)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if hasattr(generator, "engine"):
        await generator.engine.start()
    policy = MetagraphPolicy({}, min_stake_units=s.min_stake_units, allowlist=s.allowlist,
                             allowlist_stake_units=0)
    servicer = MinerService(generator, hotkey.ss58_address, temperature_floor=s.temperature_floor)
    server, port = await create_server(service(servicer, "Miner"), identity=hotkey, policy=policy, host=s.host,
                                       port=s.port)
    await server.start()
    if s.metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(s.metrics_port, addr="127.0.0.1")
    async with ChainClient(s.chain_endpoint, node_address=s.chain_node_address, tls_ca=s.chain_tls_ca,
                           reconnect_budget_s=30) as chain:
        refresher = asyncio.create_task(refresh_policy(chain, policy, s.policy_refresh_s, stop))
        try:
            endpoint = f"{s.external_ip or s.host}:{port}"
            await announce(chain, hotkey, endpoint, generator.identity)
            print(f"READY miner {endpoint} {generator.identity.name}", flush=True)
            await stop.wait()
        finally:
            stop.set()
            await refresher
            await server.stop(s.shutdown_grace_s)
            await generator.stop(s.shutdown_grace_s)


def parse_args(argv: list[str] | None) -> MinerSettings:
    d = MinerSettings()
    p = argparse.ArgumentParser(prog="subnet-miner", description="Serve a language model to the subnet.")
    p.add_argument("--wallet.name", "--wallet-name", dest="wallet_name",
                   default=os.environ.get("SUBNET_WALLET_NAME", d.wallet_name))
    p.add_argument("--wallet.hotkey", "--wallet-hotkey", dest="wallet_hotkey",
                   default=os.environ.get("SUBNET_WALLET_HOTKEY", d.wallet_hotkey))
    p.add_argument("--wallet.path", "--wallet-path", dest="wallet_path", type=Path, default=None)
    p.add_argument("--chain.endpoint", "--chain-endpoint", dest="chain_endpoint",
                   default=os.environ.get("SUBNET_CHAIN_ENDPOINT", d.chain_endpoint))
    add_chain_trust_flags(p)
    p.add_argument("--axon.port", "--axon-port", dest="port", type=int, default=d.port, help="0 picks a free port")
    p.add_argument("--axon.ip", "--axon-ip", dest="host", default=d.host, help="address to listen on")
    p.add_argument("--axon.external_ip", "--axon-external-ip", dest="external_ip", default=None,
                   help="address announced on chain (default: the listening address)")
    p.add_argument("--model", default=d.model, help="smollm2-135m, tiny, tiny-SEED, a HF folder, a .gguf (any of them + :layers=F for its first layers), or echo")
    p.add_argument("--device", default=d.device, choices=("auto", "cpu", "cuda"))
    p.add_argument("--dtype", default=d.dtype, choices=("auto", "float32", "bfloat16", "float16"))
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for the model (default: every core but one, kept for serving)")
    p.add_argument("--max-batch", type=int, default=d.max_batch)
    p.add_argument("--max-queue", type=int, default=d.max_queue)
    p.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens)
    p.add_argument("--max-prompt-tokens", type=int, default=d.max_prompt_tokens)
    p.add_argument("--allowlist", default="", help="comma-separated hotkeys always admitted (the demo gateway)")
    p.add_argument("--min-stake", default="0", help="tokens of stake a validator needs to be served")
    p.add_argument("--temperature-floor", type=float, default=0.0, help="never sample colder than this")
    p.add_argument("--echo-delay-s", type=float, default=0.0, help="with --model echo: seconds per token")
    p.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port")
    p.add_argument("--log-level", default=os.environ.get("SUBNET_LOG_LEVEL", "INFO"))
    a = p.parse_args(argv)
    logging.basicConfig(level=a.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if a.threads is not None and a.threads < 1:
        p.error("--threads must be at least 1")
    return MinerSettings(
        chain_endpoint=a.chain_endpoint, chain_node_address=a.chain_node_address, chain_tls_ca=a.chain_tls_ca, wallet_name=a.wallet_name, wallet_hotkey=a.wallet_hotkey,
        wallet_path=a.wallet_path, host=a.host, port=a.port, external_ip=a.external_ip, model=a.model,
        device=a.device, dtype=a.dtype, max_batch=a.max_batch, max_queue=a.max_queue,
        max_new_tokens=a.max_new_tokens, max_prompt_tokens=a.max_prompt_tokens,
        allowlist=tuple(x for x in a.allowlist.split(",") if x),
        min_stake_units=int(Decimal(a.min_stake) * UNITS_PER_TOKEN),
        temperature_floor=a.temperature_floor, echo_delay_s=a.echo_delay_s, metrics_port=a.metrics_port,
        threads=a.threads,
    )


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    try:
        asyncio.run(run(settings))
    except SubnetError as exc:  # named errors (model not found, not registered...) are one clear line
        print(f"subnet-miner: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
