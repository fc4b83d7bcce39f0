"""Cost of signing: a small unary call (Miner.Info) signed-and-verified versus the same call unsigned.

Starts a server process (this script with ``--serve``) hosting the echo miner twice: on one port every call is
verified, policy-checked, rate-limited and its response signed; on the other the auth layer passes calls
through. This process is the client and measures requests per second and p50/p99 latency, sequentially and
with 32 calls in flight, alternating signed and unsigned phases so that machine noise hits both alike. Prints
the figures, the CPU time per call of each process, and the signed/unsigned ratios (goal: signed throughput >= 70%
of unsigned). Takes about a minute.

    .venv/bin/python bench/bench_wire.py [--phase-s 2] [--rounds 7] [--concurrency 32] [--breakdown]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import grpc.aio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from subnet.auth import OPEN, PASSTHROUGH, AuthSettings, RateLimitSettings
from subnet.auth.wire import sign_request
from subnet.client import MinerClient
from subnet.keys import Keypair, verify_signature, verify_signature_fast
from subnet.server import create_server, service
from subnet.testing import EchoMiner, policy_for

BENCH_AUTH = AuthSettings(rate_limit=RateLimitSettings(base_burst_requests=1e9, max_burst_requests=1e9))


async def serve(client_seed_hex: str) -> None:
    """Run both servers until SIGTERM/SIGINT; print their ports and the server address on one line."""
    identity = Keypair.generate()
    policy = policy_for([Keypair.from_seed_hex(client_seed_hex)])
    signed, signed_port = await create_server(
        service(EchoMiner(identity.ss58_address), "Miner"), identity=identity, policy=policy, auth=BENCH_AUTH
    )
    plain, plain_port = await create_server(
        service(EchoMiner(identity.ss58_address), "Miner"),
        identity=identity,
        policy=policy,
        methods={"/subnet.v1.Miner/": PASSTHROUGH},
    )
    # For --breakdown: the interceptor's raw-bytes handler with no check to run (OPEN rule, unsigned callers).
    wrapper, wrapper_port = await create_server(
        service(EchoMiner(identity.ss58_address), "Miner"),
        identity=identity,
        policy=policy,
        methods={"/subnet.v1.Miner/": OPEN},
    )
    for server in (signed, plain, wrapper):
        await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"READY {signed_port} {plain_port} {wrapper_port} {identity.ss58_address}", flush=True)
    await stop.wait()
    await asyncio.gather(signed.stop(1.0), plain.stop(1.0), wrapper.stop(1.0))


class FixedMetadata:
    """A stand-in signer that attaches one pre-signed auth header to every call and checks nothing: what carrying
    the metadata costs, without the cryptography."""

    verify_responses = False

    def __init__(self, keypair: Keypair, receiver_ss58: str) -> None:
        self._signed = sign_request(keypair, "/subnet.v1.Miner/Info", b"", receiver_ss58)

    def sign(self, method: str, body: bytes) -> tuple[tuple[tuple[str, str], ...], str]:
        return self._signed


def ed25519_us(n: int = 2000) -> tuple[float, float, float]:
    """Microseconds per ed25519 signature, per libsodium verification (``verify_signature``) and per verification
    on the wire's path (``verify_signature_fast``, zebra once the key is vetted) of a 200-byte message."""
    keypair, message = Keypair.generate(), b"x" * 200
    signature = keypair.sign(message)

    def per_call_us(fn) -> float:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - start) / n * 1e6

    return (
        per_call_us(lambda: keypair.sign(message)),
        per_call_us(lambda: verify_signature(keypair.ss58_address, message, signature)),
        per_call_us(lambda: verify_signature_fast(keypair.public_key, message, signature)),
    )


async def run_phase(client: MinerClient, duration_s: float, concurrency: int) -> tuple[float, list[float]]:
    """Call Info from ``concurrency`` workers for ``duration_s``; return (calls per second, latencies in s)."""
    latencies: list[float] = []
    deadline = time.perf_counter() + duration_s

    async def worker() -> None:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            await client.info(timeout_s=10)
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - start), latencies


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    rps: float
    latencies: list[float]
    client_cpu_us: float  # per call
    server_cpu_us: float  # per call


async def measure(
    args: argparse.Namespace, ports: list[int], server_ss58: str, me: Keypair, server_pid: int
) -> dict[tuple[str, int], list[Phase]]:
    signed_port, plain_port, wrapper_port = ports
    signed = MinerClient.connect(f"127.0.0.1:{signed_port}", keypair=me, receiver_ss58=server_ss58)
    plain = MinerClient(grpc.aio.insecure_channel(f"127.0.0.1:{plain_port}"), signer=None)
    modes = [("unsigned", plain), ("signed", signed)]
    if args.breakdown:
        modes += [
            (
                "+metadata",
                MinerClient(
                    grpc.aio.insecure_channel(f"127.0.0.1:{plain_port}"), signer=FixedMetadata(me, server_ss58)
                ),
            ),
            ("+wrapper", MinerClient(grpc.aio.insecure_channel(f"127.0.0.1:{wrapper_port}"), signer=None)),
        ]
    # Sanity: the signed server really checks callers, so the benchmark measures signing.
    stranger = MinerClient.connect(f"127.0.0.1:{signed_port}", keypair=Keypair.generate(), receiver_ss58=server_ss58)
    try:
        await stranger.info(timeout_s=5)
        raise SystemExit("the signed server accepted a stranger: the benchmark would not measure signing")
    except grpc.aio.AioRpcError as e:
        if e.code() != grpc.StatusCode.PERMISSION_DENIED:
            raise
    await stranger.close()
    results: dict[tuple[str, int], list[Phase]] = {}
    for _, client in modes:  # warm up connections and code paths
        await run_phase(client, 0.3, args.concurrency)
    for _ in range(args.rounds):
        for concurrency in (1, args.concurrency):
            for name, client in modes[:2] if concurrency == 1 else modes:
                client_cpu, server_cpu = time.process_time(), process_cpu_s(server_pid)
                rps, lat = await run_phase(client, args.phase_s, concurrency)
                client_cpu, server_cpu = time.process_time() - client_cpu, process_cpu_s(server_pid) - server_cpu
                calls = len(lat)
                results.setdefault((name, concurrency), []).append(
                    Phase(rps, lat, client_cpu / calls * 1e6, server_cpu / calls * 1e6)
                )
    for _, client in modes:
        await client.close()
    return results


def report(results: dict[tuple[str, int], list[Phase]], concurrency: int) -> None:
    """Medians over rounds; the ratio is the median of each round's signed/unsigned pair (adjacent phases, so
    a burst of load from elsewhere hits both sides of a pair alike)."""
    print(f"{'mode':<10}{'in flight':>10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'client us':>11}{'server us':>11}")
    for c in (1, concurrency):
        for name in [n for n, k in results if k == c]:
            phases = results[(name, c)]
            lat = [x for p in phases for x in p.latencies]
            print(
                f"{name:<10}{c:>10}{statistics.median(p.rps for p in phases):>10.0f}"
                f"{percentile(lat, 50) * 1e3:>10.2f}{percentile(lat, 99) * 1e3:>10.2f}"
                f"{statistics.median(p.client_cpu_us for p in phases):>11.0f}"
                f"{statistics.median(p.server_cpu_us for p in phases):>11.0f}"
            )
    print("(client us / server us: CPU time per call in each process)")
    if ("+metadata", concurrency) in results:
        print(
            "breakdown: +metadata = unsigned calls carrying a signed call's auth header to the pass-through server; "
            "+wrapper = unsigned calls through the interceptor's raw-bytes handler with no check to run"
        )
    sign_us, verify_us, fast_verify_us = ed25519_us()
    print(
        f"ed25519 in this process: sign {sign_us:.0f} us, verify {verify_us:.0f} us (libsodium), "
        f"{fast_verify_us:.0f} us (zebra, the wire's path)"
    )
    for c in (1, concurrency):
        pairs = zip(results[("signed", c)], results[("unsigned", c)], strict=True)
        ratios = sorted(sig.rps / plain.rps for sig, plain in pairs)
        print(
            f"signed/unsigned throughput, {c} in flight: median {statistics.median(ratios):.2f} "
            f"(rounds {ratios[0]:.2f}-{ratios[-1]:.2f}; goal >= 0.70)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="signed vs unsigned unary call throughput and latency")
    parser.add_argument("--serve", metavar="CLIENT_SEED_HEX", help=argparse.SUPPRESS)
    parser.add_argument("--phase-s", type=float, default=2.0, help="seconds per measured phase")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds; medians are reported")
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight in the concurrent phases")
    parser.add_argument(
        "--breakdown", action="store_true", help="also time the metadata alone and the raw-bytes handler alone"
    )
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.serve))
        return 0

    me = Keypair.generate()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", me.seed.hex()],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = server.stdout.readline().split() if server.stdout else []
        if len(line) != 5 or line[0] != "READY":
            raise SystemExit(f"the server process did not start (said {line!r})")
        results = asyncio.run(measure(args, [int(x) for x in line[1:4]], line[4], me, server.pid))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    print(
        f"Miner.Info over loopback, separate client and server processes, {args.rounds} alternating rounds of "
        f"{args.phase_s:g} s per phase (medians over rounds)"
    )
    report(results, args.concurrency)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
