"""Scenarios 2 and 3: miners and a validator fail during the market run.

Scenario 2 (miner faults): kill -9 two miners, restart one of them later, and hang a third (SIGSTOP: it keeps
its socket and answers nothing). Measured: the validators' steps (goal: none over its budget, none failed, and
each validator completed at least about half the steps its interval allows, since a step that runs into the next
interval makes the scheduler skip that run), the dead miner's incentive against its value before the kill (goal:
it decays below 25%), and the restarted miner's rank among the miners before the kill and at the end (goal: back
at its rank or better, waiting up to ``tempos_after`` tempos).

Scenario 3 (validator fault): at the end of one of a validator's steps, snapshot its saved state and weight row,
sleep into its next step and kill -9 it there, then restart it on the same state dir. Measured: how far into the
step the kill landed (from the previous step's log line), that the kill left the saved state unchanged, the
persisted step and scores before and after (goal: the state loads and the first new step follows the last saved
one, scores within 25%), and the cosine similarity of its on-chain weight row before the crash and the first one
it sets after the restart (goal: >= 0.95).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from datetime import datetime

import numpy as np

from bench.reliability.market import Market, StepHealth, step_health
from bench.reliability.report import Report
from subnet.metagraph import Metagraph

TIMED_STEP_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ \S+: step (\d+): \d+ miners in ([\d.]+)s",
                             re.MULTILINE)


def step_healths(market: Market, since: dict[str, int], window_s: float) -> dict[str, StepHealth]:
    """``StepHealth`` of every validator since the given log offsets, over a window of ``window_s`` seconds."""
    return {v: step_health(market.net.log(v)[since.get(v, 0):], window_s=window_s,
                           interval_s=market.config.step_interval_s) for v in market.config.validators}


async def scenario_miner_faults(market: Market, report: Report, *, tempos_down: int, tempos_after: int) -> None:
    cfg, net = market.config, market.net
    miners = cfg.miners
    dead, restarted, hung = miners[len(miners) // 2], miners[1], miners[-1]
    ranks_before = {m: market.miner_rank(m, 2) for m in (dead, restarted)}
    before = {m: market.incentive(m, 2) for m in (dead, restarted, hung)}
    offsets = {v: len(net.log(v)) for v in cfg.validators}
    window_started = time.monotonic()
    report.figure("faults", f"kill -9 {dead} and {restarted}, hang {hung} (SIGSTOP), restart {restarted} later")
    net.procs[dead].kill()
    net.procs[restarted].kill()
    market.killed |= {dead, restarted}
    net.hang(hung)
    await market.wait_epochs(tempos_down)
    down = {m: market.incentive(m, 1) for m in (dead, restarted, hung)}
    flags = ["--model", "tiny", "--max-new-tokens", str(cfg.grades[1])]
    started = time.monotonic()
    net.start_miner(restarted, flags)
    await net.wait_ready([restarted], 300)
    market.killed.discard(restarted)
    report.figure(f"restart of {restarted} until READY (s)", round(time.monotonic() - started, 1))
    # At least 2 epochs, then one at a time up to ``tempos_after`` until the restarted miner is back at its rank
    # and the dead one has decayed (how fast depends on how many steps the validators manage per tempo).
    rank_after, recovery = len(miners), 0
    while recovery < tempos_after and (recovery < 2 or rank_after > ranks_before[restarted]
                                       or market.incentive(dead, 1) >= 0.25 * before[dead]):
        await market.wait_epochs(1)
        recovery += 1
        rank_after = market.miner_rank(restarted, 1)
    net.resume(hung)
    window_s = time.monotonic() - window_started
    after = {m: market.incentive(m, 1) for m in (dead, restarted, hung)}
    health = step_healths(market, offsets, window_s)
    budget = cfg.timeout_s + max(cfg.step_interval_s, 30.0)
    report.figure("incentive before / while down / at the end",
                  {m: (round(before[m], 4), round(down[m], 4), round(after[m], 4)) for m in before})
    report.figure(f"validator steps during the faults ({window_s:.0f}s, one every {cfg.step_interval_s:g}s): "
                  "done / allowed (skipped runs)",
                  {v: f"{h.steps}/{h.allowed} ({h.skipped})" for v, h in health.items()})
    report.goal("steps over budget / failed / longest step (s) / validators under the step count",
                f"{sum(h.over_budget for h in health.values())} / {sum(h.failed for h in health.values())} / "
                f"{max(h.longest_s for h in health.values()):.1f} (budget {budget:.0f}) / "
                f"{[v for v, h in health.items() if h.steps < h.required] or 'none'}",
                "0 / 0 / <= budget / none under max(1, allowed // 2 - 1) steps",
                all(h.ok(budget) for h in health.values()))
    decay = after[dead] / before[dead] if before[dead] > 0 else float("nan")
    report.goal(f"dead miner {dead}: incentive at the end / before", decay, "< 0.25", decay < 0.25)
    hung_decay = after[hung] / before[hung] if before[hung] > 0 else float("nan")
    report.figure(f"hung miner {hung}: incentive at the end / before", hung_decay)
    report.figure(f"tempos after the restart of {restarted} (until back at its rank and {dead} decayed; "
                  f"at most {tempos_after})", recovery)
    recovered = rank_after <= ranks_before[restarted]
    report.goal(f"restarted miner {restarted}: rank before -> after (0 = best)",
                f"{ranks_before[restarted]} -> {rank_after}"
                + ("" if recovered else f" (not recovered after {recovery} tempos)"),
                "after <= before", recovered)


async def _weights_row(market: Market, name: str) -> tuple[np.ndarray, int]:
    async with market.net.client(timeout_s=10, reconnect_budget_s=30) as client:
        graph = await Metagraph.sync(client, include_matrices=True)
    uid = market.uid[name]
    assert graph.W is not None
    return graph.W[uid].copy(), int(graph.last_update[uid])


def timed_step_lines(log: str) -> list[tuple[float, int, float]]:
    """(unix time the line was logged, step, seconds) of every step a validator logged."""
    return [(datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp(), int(m[2]), float(m[3]))
            for m in TIMED_STEP_LINE.finditer(log)]


async def scenario_validator_fault(market: Market, report: Report) -> None:
    cfg, net = market.config, market.net
    name = cfg.validators[1]
    state_file = net.root / f"{name}-state" / "scores.json"
    # At the end of a step (its line is logged after its state is saved), snapshot what the crash must not lose:
    # the saved state and the on-chain weight row. Then sleep into the next step and kill at once.
    log_len = len(net.log(name))
    while not (lines := timed_step_lines(net.log(name)[log_len:])):
        await asyncio.sleep(0.05)
    logged_at, step, secs = lines[-1]
    saved = json.loads(state_file.read_text())
    row_before, update_before = await _weights_row(market, name)
    # Runs are due every step_interval_s from this step's start; one due while it still ran was skipped.
    next_start = logged_at - secs + max(1, math.ceil(secs / cfg.step_interval_s)) * cfg.step_interval_s
    await asyncio.sleep(max(0.0, next_start + min(max(secs / 3, 0.2), 1.0) - time.time()))
    killed_at = time.time()
    net.procs[name].kill()
    after_kill = json.loads(state_file.read_text())["body"]["step"]  # nobody writes it any more
    logged_after = [n for _, n, _ in timed_step_lines(net.log(name)[log_len:]) if n > step]
    # A weights transaction sent before the kill lands within a block: after two, the chain row is the last one
    # the crashed process set (the check below needs it, not the snapshot, if it set weights while we slept).
    await asyncio.sleep(2 * cfg.block_time_s + 0.2)
    row_killed, update_killed = await _weights_row(market, name)
    report.figure("killed", f"{name} {killed_at - next_start:.2f}s into step {step + 1} (its start estimated from "
                            f"step {step}'s log line: {secs:.1f}s long, logged {killed_at - logged_at:.2f}s before "
                            f"the kill); last saved step {saved['body']['step']}")
    report.goal("kill landed inside the step: saved step before -> after the kill, steps logged after it",
                f"{saved['body']['step']} -> {after_kill}, {logged_after or 'none'}", "unchanged, none",
                after_kill == saved["body"]["step"] == step and not logged_after and killed_at > next_start)
    report.figure("weights set between the snapshot and the kill", update_killed != update_before)
    row_before, update_before = row_killed, update_killed
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
