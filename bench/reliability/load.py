"""Scenario 6, load: 64 miners (the trivial ``echo`` backend) and 4 validators on one machine for some tempos.

The validators (no reference model, exact challenges) query all 64 miners every step. Echo miners answer no
exact challenge correctly, so the validators' scores stay 0 and they have no weights to set; to give the chain a
real epoch to compute, the benchmark sets a full weight row (64 miners) for each validator hotkey twice per
tempo. Per tempo it measures:

- epoch time, as the epoch's excess: the interval between the epoch block's header and the block before it minus
  the median of the tempo's other intervals. Blocks are due on a fixed clock and a header's time is taken once
  its block was applied (the epoch included) and before it is written, so the epoch block's interval is one block
  time plus the epoch's cost over a plain block's, plus scheduling jitter; the excess leaves the epoch's cost
  (the chain exposes no other timing: its Prometheus metrics are counts);
- metagraph query time: the median of 9 ``GetMetagraph`` calls with the W and B matrices;
- every validator's steps: none over its budget, none failed, and at least about half the steps its interval
  allows (``market.StepHealth``).

Flat: the mean epoch excess of the last 2 tempos may exceed that of the first 2 (the last and the first tempo's
under 4 tempos) by at most 20 ms (the excess was -1 to +8 ms in a full run); the metagraph query time of the last
tempo over the first <= 1.5, or within 3 ms.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import time
from pathlib import Path

from bench.reliability.market import step_health, step_lines
from bench.reliability.net import Network
from bench.reliability.report import Report
from subnet.chain.client import TransactionRefused
from subnet.chain.params import Hyperparameters
from subnet.metagraph import Metagraph

TIMEOUT_S, STEP_INTERVAL_S = 3.0, 5.0
EPOCH_GROWTH_MS, QUERY_SLACK_MS = 20.0, 3.0  # what "flat" allows, see above


def _flat(values: list[float], slack: float) -> tuple[float, bool]:
    """Last over first, and whether the last is within 1.5x or ``slack`` of the first."""
    if not values:
        return float("nan"), False
    ratio = values[-1] / values[0] if values[0] > 0 else float("inf")
    return ratio, ratio <= 1.5 or values[-1] - values[0] <= slack


def _growth(values: list[float]) -> float:
    """Mean of the last 2 values minus the mean of the first 2 (the last minus the first under 4 values)."""
    if not values:
        return float("nan")
    k = 2 if len(values) >= 4 else 1
    return statistics.fmean(values[-k:]) - statistics.fmean(values[:k])


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
        window_started = time.monotonic()
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
                        for _ in range(9):
                            t0 = time.perf_counter()
                            await Metagraph.sync(chain, include_matrices=True)
                            times.append((time.perf_counter() - t0) * 1e3)
                        query_ms.append(statistics.median(times))
                await asyncio.sleep(block_time / 2)
        logs = {v: net.log(v)[offsets[v]:] for v in v_names}
        window_s = time.monotonic() - window_started
    finally:
        net.stop_all()
    steps = [line for log in logs.values() for line in step_lines(log)]
    health = {v: step_health(log, window_s=window_s, interval_s=STEP_INTERVAL_S) for v, log in logs.items()}
    budget = TIMEOUT_S + max(STEP_INTERVAL_S, 30.0)
    report.figure("validator steps / miners per step (min)", f"{len(steps)} / {min((n for _, n, _, _ in steps), default=0)}")
    report.figure("step seconds: median / max", f"{statistics.median(s for _, _, s, _ in steps):.2f} / "
                                                f"{max(s for _, _, s, _ in steps):.2f}" if steps else "no steps")
    report.figure(f"validator steps in {window_s:.0f}s, one every {STEP_INTERVAL_S:g}s: done / allowed (skipped runs)",
                  {v: f"{h.steps}/{h.allowed} ({h.skipped})" for v, h in health.items()})
    report.goal("steps over budget / failed / validators under the step count",
                f"{sum(h.over_budget for h in health.values())} / {sum(h.failed for h in health.values())} / "
                f"{[v for v, h in health.items() if h.steps < h.required] or 'none'} (budget {budget:.0f}s)",
                "0 / 0 / none under max(1, allowed // 2 - 1) steps", all(h.ok(budget) for h in health.values()))
    report.figure("weight rows set by the benchmark refused (rate limit, retried)", refused)
    report.figure("epoch block interval per tempo (ms)", [round(x) for x in epoch_ms])
    report.figure("median other block interval per tempo (ms)", [round(x) for x in block_ms])
    excess = [e - b for e, b in zip(epoch_ms, block_ms, strict=True)]
    report.figure("epoch excess per tempo: epoch block interval - median other (ms)", [round(x) for x in excess])
    report.figure("metagraph query with matrices per tempo (ms)", [round(x, 1) for x in query_ms])
    growth = _growth(excess)
    report.goal("epoch excess growth, last 2 tempos - first 2 (ms)", growth, f"<= {EPOCH_GROWTH_MS:g}",
                growth <= EPOCH_GROWTH_MS)
    ratio, ok = _flat(query_ms, QUERY_SLACK_MS)
    report.goal("metagraph query time last / first tempo", ratio, f"<= 1.5 (or +{QUERY_SLACK_MS:g} ms)", ok)
