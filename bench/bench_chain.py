"""Chain throughput and query latency, against a no-op gRPC call (the health check) in the same run.

Starts a real ``subnet-chain`` process (block time 0.5 s, 256 uids, 64 validators), then measures:
- signed ``set_weights`` transactions (256 uids per row) accepted and made durable per second, with 64 validators
  submitting concurrently;
- ``GetMetagraph`` latency for 256 uids (without and with the W and B matrices);
- the health check's latency (the floor of any call on this machine) and its calls per second with as many in
  flight as the ``set_weights`` run (the transaction rate as a share of what the same concurrency of bare calls
  does; a transaction also waits for its block, so with N in flight and block time T the rate is at most N / T).

Run: .venv/bin/python bench/bench_chain.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consensus.emission import UNITS_PER_TOKEN
from subnet.chain.client import ChainClient
from subnet.chain.params import Hyperparameters
from subnet.keys import Keypair
from tests.chain_fixtures import DevKeys, start_chain

N_UIDS = 256
N_VALIDATORS = 64
BLOCK_TIME_S = 0.5
DURATION_S = 10.0
IN_FLIGHT_PER_VALIDATOR = 8  # enough transactions in flight that the chain, not the round trips, is the limit


async def latency_ms(call, repeats: int = 60) -> float:
    await call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        await call()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


async def main() -> None:
    keys = DevKeys()
    hyper = Hyperparameters(tempo=4, max_uids=N_UIDS, max_validators=N_VALIDATORS, weights_rate_limit=0,
                            burn_initial=UNITS_PER_TOKEN // 1000, burn_min=UNITS_PER_TOKEN // 1000,
                            burn_increase_ppm=1_000_000, immunity_period=10_000, activity_cutoff=10_000)
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_chain(Path(tmp) / "chain", keys.genesis(hyper, balance_tokens=100_000), block_time_s=BLOCK_TIME_S)
        try:
            async with ChainClient(proc.endpoint, timeout_s=60) as client:
                hotkeys = [Keypair.generate() for _ in range(N_UIDS - 1)]  # uid 0 is the owner
                payer = keys.colds[0]
                await asyncio.gather(*(client.register(payer, h) for h in hotkeys))
                validators = hotkeys[:N_VALIDATORS]
                await asyncio.gather(*(client.add_stake(payer, v.ss58_address, (1000 + i) * UNITS_PER_TOKEN)
                                       for i, v in enumerate(validators)))
                start_epoch = (await client.status()).epoch_index
                while (await client.status()).epoch_index < start_epoch + 1:  # permits are granted at the epoch
                    await asyncio.sleep(0.1)
                uids, values = list(range(N_UIDS)), [(7919 * i) % 65536 for i in range(N_UIDS)]

                done = 0
                stop_at = time.perf_counter() + DURATION_S

                async def submitter(key: Keypair) -> None:
                    nonlocal done
                    while time.perf_counter() < stop_at:
                        await client.set_weights(key, uids, values)
                        done += 1

                began = time.perf_counter()
                await asyncio.gather(*(submitter(v) for v in validators for _ in range(IN_FLIGHT_PER_VALIDATOR)))
                tx_per_s = done / (time.perf_counter() - began)

                health = health_pb2_grpc.HealthStub(grpc.aio.insecure_channel(proc.endpoint))
                noop_done = 0
                noop_stop_at = time.perf_counter() + DURATION_S / 2

                async def caller() -> None:
                    nonlocal noop_done
                    while time.perf_counter() < noop_stop_at:
                        await health.Check(health_pb2.HealthCheckRequest())
                        noop_done += 1

                began = time.perf_counter()
                await asyncio.gather(*(caller() for _ in range(N_VALIDATORS * IN_FLIGHT_PER_VALIDATOR)))
                noop_per_s = noop_done / (time.perf_counter() - began)
                noop_ms = await latency_ms(lambda: health.Check(health_pb2.HealthCheckRequest()))
                meta_ms = await latency_ms(lambda: client.metagraph(False))
                meta_w_ms = await latency_ms(lambda: client.metagraph(True), repeats=20)
        finally:
            proc.stop()
    print(f"set_weights (256 uids/row, {N_VALIDATORS} validators, block {BLOCK_TIME_S}s): "
          f"{tx_per_s:.1f} durable tx/s ({N_VALIDATORS * IN_FLIGHT_PER_VALIDATOR} in flight); no-op calls at the same "
          f"concurrency: {noop_per_s:.0f}/s, so {tx_per_s / noop_per_s:.2f}x; block-time bound "
          f"{N_VALIDATORS * IN_FLIGHT_PER_VALIDATOR / BLOCK_TIME_S:.0f}/s")
    print(f"no-op call (health check):      {noop_ms:7.2f} ms")
    print(f"metagraph, 256 uids:            {meta_ms:7.2f} ms  ({meta_ms / noop_ms:.1f}x no-op)")
    print(f"metagraph + W and B matrices:   {meta_w_ms:7.2f} ms  ({meta_w_ms / noop_ms:.1f}x no-op)")


if __name__ == "__main__":
    asyncio.run(main())
