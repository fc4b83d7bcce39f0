"""Scenarios 2 and 3: miners and a validator fail during the market run.

Scenario 2 (miner faults): kill -9 two miners, restart one of them later, and hang a third (SIGSTOP: it keeps
its socket and answers nothing). Measured: the validators' step durations against their budget (no step may
overrun), the dead miner's incentive against its value before the kill (goal: it decays below 25%), and the
restarted miner's rank among the miners before the kill and at the end (goal: recovered, within one place).

Scenario 3 (validator fault): kill -9 a validator just after one of its steps began, restart it on the same
state dir. Measured: the persisted step and scores before and after (goal: the state loads and the first new
step follows the last saved one, scores within 25%), and the cosine similarity of its on-chain weight row
before the crash and the first one it sets after the restart (goal: >= 0.95).
"""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np

from bench.reliability.market import Market, step_lines
from bench.reliability.report import Report
from subnet.metagraph import Metagraph


def step_overruns(market: Market, since: dict[str, int]) -> tuple[int, float, int]:
    """(overrun warnings, longest step in seconds, steps) of every validator after the given log offsets."""
    overruns, longest, steps = 0, 0.0, 0
    for v in market.config.validators:
        log = market.net.log(v)[since.get(v, 0):]
        overruns += log.count("over its budget")
        lines = step_lines(log)
        steps += len(lines)
        longest = max([longest, *(secs for _, _, secs, _ in lines)])
    return overruns, longest, steps


async def scenario_miner_faults(market: Market, report: Report, *, tempos_down: int, tempos_after: int) -> None:
    cfg, net = market.config, market.net
    miners = cfg.miners
    dead, restarted, hung = miners[len(miners) // 2], miners[1], miners[-1]
    ranks_before = {m: market.miner_rank(m, 2) for m in (dead, restarted)}
    before = {m: market.incentive(m, 2) for m in (dead, restarted, hung)}
    offsets = {v: len(net.log(v)) for v in cfg.validators}
    report.figure("faults", f"kill -9 {dead} and {restarted}, hang {hung} (SIGSTOP), restart {restarted} later")
    net.procs[dead].kill()
    net.procs[restarted].kill()
    net.hang(hung)
    await market.wait_epochs(tempos_down)
    down = {m: market.incentive(m, 1) for m in (dead, restarted, hung)}
    flags = ["--model", "tiny", "--max-new-tokens", str(cfg.grades[1])]
    started = time.monotonic()
    net.start_miner(restarted, flags)
    await net.wait_ready([restarted], 300)
    report.figure(f"restart of {restarted} until READY (s)", round(time.monotonic() - started, 1))
    # At least 2 epochs, then one at a time up to ``tempos_after`` until the restarted miner is back within one
    # place and the dead one has decayed (how fast depends on how many steps the validators manage per tempo).
    rank_after, recovery = len(miners), 0
    while recovery < tempos_after and (recovery < 2 or rank_after > ranks_before[restarted] + 1
                                       or market.incentive(dead, 1) >= 0.25 * before[dead]):
        await market.wait_epochs(1)
        recovery += 1
        rank_after = market.miner_rank(restarted, 1)
    net.resume(hung)
    after = {m: market.incentive(m, 1) for m in (dead, restarted, hung)}
    overruns, longest, steps = step_overruns(market, offsets)
    budget = cfg.timeout_s + max(cfg.step_interval_s, 30.0)
    report.figure("incentive before / while down / at the end",
                  {m: (round(before[m], 4), round(down[m], 4), round(after[m], 4)) for m in before})
    report.figure("validator steps during the faults", steps)
    report.goal("steps over budget (longest step, s)", f"{overruns} ({longest:.1f}s, budget {budget:.0f}s)", "0",
                overruns == 0 and longest <= budget)
    decay = after[dead] / before[dead] if before[dead] > 0 else float("nan")
    report.goal(f"dead miner {dead}: incentive at the end / before", decay, "< 0.25", decay < 0.25)
    hung_decay = after[hung] / before[hung] if before[hung] > 0 else float("nan")
    report.figure(f"hung miner {hung}: incentive at the end / before", hung_decay)
    report.figure(f"tempos after the restart of {restarted} (until back within one place and {dead} decayed)",
                  recovery)
    report.goal(f"restarted miner {restarted}: rank before -> after (0 = best)",
                f"{ranks_before[restarted]} -> {rank_after}", "within 1", rank_after <= ranks_before[restarted] + 1)


async def _weights_row(market: Market, name: str) -> tuple[np.ndarray, int]:
    async with market.net.client(timeout_s=10, reconnect_budget_s=30) as client:
        graph = await Metagraph.sync(client, include_matrices=True)
    uid = market.uid[name]
    assert graph.W is not None
    return graph.W[uid].copy(), int(graph.last_update[uid])


async def scenario_validator_fault(market: Market, report: Report) -> None:
    cfg, net = market.config, market.net
    name = cfg.validators[1]
    state_file = net.root / f"{name}-state" / "scores.json"
    # Steps start every step_interval_s: the next one begins one interval after the last one began.
    log_len = len(net.log(name))
    while len(net.log(name)) == log_len or not step_lines(net.log(name)[log_len:]):
        await asyncio.sleep(0.05)
    _, _, secs, _ = step_lines(net.log(name)[log_len:])[-1]
    await asyncio.sleep(max(0.0, cfg.step_interval_s - secs) + 0.3)
    row_before, update_before = await _weights_row(market, name)
    saved = json.loads(state_file.read_text())
    net.procs[name].kill()
    report.figure("killed", f"{name} 0.3 s after its step {saved['body']['step'] + 1} was due to start (last saved step "
                            f"{saved['body']['step']})")
    started = time.monotonic()
    net.start_validator(name, cfg.validator_flags(1))
    await net.wait_ready([name], 300)
    report.figure("restart until READY (s)", round(time.monotonic() - started, 1))
    # The first step after the restart.
    deadline = time.monotonic() + 120
    doc = saved
    while doc["body"]["step"] <= saved["body"]["step"] and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        doc = json.loads(state_file.read_text())
    first = doc["body"]["step"]
    old = {m["uid"]: m["score"] for m in saved["body"]["miners"]}
    new = {m["uid"]: m["score"] for m in doc["body"]["miners"]}
    # A step moves each queried score by alpha = 0.2 toward its reward, so at most 20% of the range.
    drift = max((abs(new.get(u, 0.0) - s) for u, s in old.items()), default=1.0)
    report.figure("scores before the crash", {u: round(s, 3) for u, s in old.items()})
    report.figure("scores after the first new step", {u: round(s, 3) for u, s in new.items()})
    report.goal("state resumed: first step after restart == last saved + 1", f"{saved['body']['step']} -> {first}",
                "+1", first == saved["body"]["step"] + 1)
    report.goal("largest score change over that step", drift, "<= 0.25", drift <= 0.25)
    # The next weights it sets: wait until its last_update moves (only the restarted process can move it).
    deadline = time.monotonic() + 60
    row_after, update = row_before, update_before
    while update == update_before and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        row_after, update = await _weights_row(market, name)
    cosine = float(row_before @ row_after / (np.linalg.norm(row_before) * np.linalg.norm(row_after) + 1e-12))
    report.goal("cosine(weights before crash, first weights after)", cosine, ">= 0.95",
                update != update_before and cosine >= 0.95)
