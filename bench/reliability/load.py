"""Scenario 6, load: 64 miners (the trivial ``echo`` backend) and 4 validators on one machine for some tempos.

The validators (no reference model, exact challenges) query all 64 miners every step. Echo miners answer no
exact challenge correctly, so the validators' scores stay 0 and they have no weights to set; to give the chain a
real epoch to compute, the benchmark sets a full weight row (64 miners) for each validator hotkey twice per
tempo. Per tempo it measures:

- epoch time: the interval between the epoch block's header and the block before it (a block's time is taken
  after it was applied, so this is one block interval plus the epoch's cost), and the median other interval;
- metagraph query time: the median of 5 ``GetMetagraph`` calls with the W and B matrices;
- every validator step's duration against its budget (goal: none over, no "over its budget" warning).

Flat: the last tempo's figure over the first tempo's, goal <= 1.5 (or within 50 ms, the scheduler's jitter).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import time
from pathlib import Path

from bench.reliability.market import step_lines
from bench.reliability.net import Network
from bench.reliability.report import Report
from subnet.chain.client import TransactionRefused
from subnet.chain.params import Hyperparameters
from subnet.metagraph import Metagraph

TIMEOUT_S, STEP_INTERVAL_S = 3.0, 5.0


def _flat(values: list[float], slack: float) -> tuple[float, bool]:
    ratio = values[-1] / values[0] if values[0] > 0 else float("inf")
    return ratio, ratio <= 1.5 or values[-1] - values[0] <= slack


async def scenario_load(root: Path, report: Report, *, miners: int, validators: int, tempos: int) -> None:
    tempo, block_time = 20, 0.5
    hyper = Hyperparameters(tempo=tempo, weights_rate_limit=2, immunity_period=100_000, activity_cutoff=100_000,
                            burn_increase_ppm=1_000_000)
    m_names, v_names = [f"e{i}" for i in range(miners)], [f"lv{i}" for i in range(validators)]
    net = Network(root, hyper, block_time_s=block_time, names=[*m_names, *v_names])
    rng = random.Random(6)
    epoch_ms: list[float] = []
    block_ms: list[float] = []
    query_ms: list[float] = []
    refused = 0  # set_weights refused (rate limit): retried at the next round
    try:
        net.start_chain()
        await net.register([*m_names, *v_names], {v: 100 * (i + 1) for i, v in enumerate(v_names)})
        started = time.monotonic()
        for name in m_names:
            net.start_miner(name, ["--model", "echo", "--max-new-tokens", "16"])
        await net.wait_ready(m_names, 600)
        report.figure(f"{miners} echo miners started and ready (s)", round(time.monotonic() - started, 1))
        for name in v_names:
            net.start_validator(name, ["--reference-model", "none", "--timeout-s", str(TIMEOUT_S),
                                       "--step-interval-s", str(STEP_INTERVAL_S), "--n-exact", "2", "--n-open", "0"])
        await net.wait_ready(v_names, 300)
        await net.wait_permits(v_names, 120)
        offsets = {v: len(net.log(v)) for v in v_names}
        async with net.client(timeout_s=20) as chain:
            graph = await Metagraph.sync(chain)
            uids = [graph.uid_of(net.hot[m].ss58_address) for m in m_names]
            rows = {v: [rng.randint(1, 65535) for _ in uids] for v in v_names}
            last_epoch = (await chain.status()).epoch_index
            next_weights = 0.0
            while len(epoch_ms) < tempos:
                if time.monotonic() >= next_weights:
                    results = await asyncio.gather(*(chain.set_weights(net.hot[v], uids, rows[v]) for v in v_names),
                                                   return_exceptions=True)
                    refused += sum(isinstance(r, TransactionRefused) for r in results)
                    for r in results:
                        if isinstance(r, Exception) and not isinstance(r, TransactionRefused):
                            raise r
                    next_weights = time.monotonic() + tempo * block_time / 2
                status = await chain.status()
                if status.epoch_index != last_epoch:
                    last_epoch = status.epoch_index
                    headers = await chain.headers(max(1, status.block - tempo), status.block)
                    gaps = {h.height: h.time_ms - p.time_ms for p, h in itertools.pairwise(headers)}
                    paid = [h.height for h in headers if h.epoch_paid is not None]
                    if paid and paid[-1] in gaps:
                        epoch_ms.append(gaps[paid[-1]])
                        block_ms.append(statistics.median(g for k, g in gaps.items() if k != paid[-1]))
                        times = []
                        for _ in range(5):
                            t0 = time.perf_counter()
                            await Metagraph.sync(chain, include_matrices=True)
                            times.append((time.perf_counter() - t0) * 1e3)
                        query_ms.append(statistics.median(times))
                await asyncio.sleep(block_time / 2)
        logs = {v: net.log(v)[offsets[v]:] for v in v_names}
    finally:
        net.stop_all()
    steps = [line for log in logs.values() for line in step_lines(log)]
    budget = TIMEOUT_S + max(STEP_INTERVAL_S, 30.0)
    overruns = sum(log.count("over its budget") for log in logs.values())
    report.figure("validator steps / miners per step (min)", f"{len(steps)} / {min((n for _, n, _, _ in steps), default=0)}")
    report.figure("step seconds: median / max", f"{statistics.median(s for _, _, s, _ in steps):.2f} / "
                                                f"{max(s for _, _, s, _ in steps):.2f}")
    report.goal("steps over their budget", f"{overruns} (budget {budget:.0f}s)", "0",
                overruns == 0 and all(s <= budget for _, _, s, _ in steps) and len(steps) > 0)
    report.figure("weight rows set by the benchmark refused (rate limit, retried)", refused)
    report.figure("epoch block interval per tempo (ms)", [round(x) for x in epoch_ms])
    report.figure("median other block interval per tempo (ms)", [round(x) for x in block_ms])
    report.figure("metagraph query with matrices per tempo (ms)", [round(x, 1) for x in query_ms])
    ratio, ok = _flat(epoch_ms, 50.0)
    report.goal("epoch time last / first tempo", ratio, "<= 1.5 (or +50 ms)", ok)
    ratio, ok = _flat(query_ms, 50.0)
    report.goal("metagraph query time last / first tempo", ratio, "<= 1.5 (or +50 ms)", ok)
