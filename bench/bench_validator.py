"""One validator scoring step against 32 miners on loopback, as a ratio to the slowest single miner's latency.

Starts a real chain and 32 ``subnet-miner --model echo`` processes (trivial backends whose per-token delay differs
from miner to miner), then runs the validator's step in this process: sync the metagraph, build the challenges,
query every miner concurrently through the signed client, verify the signatures, score, update and persist the
scores. The baseline is each miner's latency for the same request asked alone, in the same run; a step cannot be
faster than its slowest miner, so the ratio shows what the step adds on top (goal: <= 1.2).

Run: .venv/bin/python bench/bench_validator.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from consensus.emission import UNITS_PER_TOKEN
from subnet.chain.client import ChainClient
from subnet.chain.params import Hyperparameters
from subnet.keys import Keypair
from subnet.metagraph import Metagraph
from subnet.wallet import Wallet
from tests.chain_fixtures import DevKeys, start_chain
from tests.proc import Proc, command
from validators.config import ValidatorSettings
from validators.loop import Validator
from validators.querying import Query, request_of
from validators.reference import ReferenceModels

N_MINERS = 32
REPEATS = 5


async def main() -> None:
    keys = DevKeys()
    hyper = Hyperparameters(tempo=5, burn_increase_ppm=1_000_000, burn_initial=UNITS_PER_TOKEN // 1000,
                            burn_min=UNITS_PER_TOKEN // 1000, immunity_period=10_000, activity_cutoff=10_000)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        chain = start_chain(tmp / "chain", keys.genesis(hyper), block_time_s=0.25)
        wallets = tmp / "wallets"
        miners: list[Proc] = []
        validator: Validator | None = None
        try:
            hotkeys = [Wallet(name=f"m{i}", hotkey="default", root=wallets).create_hotkey()[0]
                       for i in range(N_MINERS)]
            me = Keypair.generate()
            async with ChainClient(chain.endpoint, timeout_s=60) as client:
                await asyncio.gather(*(client.register(keys.colds[0], h) for h in [me, *hotkeys]))
                await client.add_stake(keys.colds[1], me.ss58_address, 100 * UNITS_PER_TOKEN)
                start = (await client.status()).epoch_index
                while (await client.status()).epoch_index < start + 1:
                    await asyncio.sleep(0.1)
            for i in range(N_MINERS):
                delay = 0.004 + 0.0005 * i  # 4 .. 19.5 ms per token: the miners are not equally fast
                miners.append(Proc([command("subnet-miner"), "--wallet.name", f"m{i}", "--wallet.path", str(wallets),
                                    "--chain.endpoint", chain.endpoint, "--axon.port", "0", "--model", "echo",
                                    "--echo-delay-s", str(delay), "--max-new-tokens", "32"]))
            for m in miners:
                await asyncio.to_thread(m.wait_ready, 120)
            await asyncio.sleep(4)  # every miner's access policy has seen the validator's permit
            settings = ValidatorSettings(chain_endpoint=chain.endpoint, state_dir=tmp / "vstate", reference_models=(),
                                         n_exact=2, n_open=0, timeout_s=20, seed=1)
            # No model held: echo answers are queried and decoded, then score 0 (this measures the fan-out).
            validator = Validator(settings, me, models=ReferenceModels([]))
            await validator.step()  # warm-up: connections opened, caches filled

            graph = await Metagraph.sync(validator.chain)
            steps, slowest, fanout = [], [], []
            for _ in range(REPEATS):
                started = time.perf_counter()
                report = await validator.step()
                steps.append(time.perf_counter() - started)
                assert len(report.queried) == N_MINERS
                # Baseline: each miner alone, the same kind of request (an exact challenge, 32 tokens at most).
                import random

                from validators.challenges import build_challenges

                challenge = build_challenges(random.Random(report.step), 1, 0)[0]
                alone = []
                for axon in graph.serving():
                    client = validator.clients.get(axon.endpoint, axon.hotkey)
                    request = request_of(Query(axon.uid, axon.hotkey, axon.endpoint, challenge, 1))
                    t0 = time.perf_counter()
                    await client.generate(request, timeout_s=20)
                    alone.append(time.perf_counter() - t0)
                slowest.append(max(alone))
                # Second baseline: the same 2 requests per miner fanned out at once with a bare gather, no scoring
                # (what the machine itself costs when 32 miner processes answer at once on 2 cores).
                requests = [(validator.clients.get(a.endpoint, a.hotkey),
                             request_of(Query(a.uid, a.hotkey, a.endpoint, challenge, k))) for a in graph.serving()
                            for k in (1, 2)]
                t0 = time.perf_counter()
                await asyncio.gather(*(c.generate(r, timeout_s=20) for c, r in requests))
                fanout.append(time.perf_counter() - t0)
        finally:
            if validator is not None:
                await validator.close()
            for m in miners:
                m.stop()
            chain.stop()
    step_s, slow_s, fan_s = statistics.median(steps), statistics.median(slowest), statistics.median(fanout)
    print(f"{N_MINERS} miners x 2 challenges, {REPEATS} steps")
    print(f"scoring step (median):            {step_s * 1e3:8.1f} ms")
    print(f"slowest single miner, alone:      {slow_s * 1e3:8.1f} ms")
    print(f"bare concurrent fan-out, no scoring: {fan_s * 1e3:5.1f} ms")
    print(f"step / slowest miner:             {step_s / slow_s:8.2f}x  (goal <= 1.2)")
    print(f"step / bare fan-out:              {step_s / fan_s:8.2f}x  (what the validator's own work adds)")


if __name__ == "__main__":
    asyncio.run(main())
