"""Scenario 7, the cheaters' market: honest SmolLM2 miners against miners that fake it, on real processes.

One chain, two validators holding both admitted models (SmolLM2-135M and its first-half-layers version), three
honest miners (full ``A``, full ``B``, half-layer ``C``) and six cheaters, each committing to the full model as
an honest miner does (``tests/misbehaving_miner.py``):

- ``solver``: no model; exact tasks answered by rules (``tests/cheater_solver.py``), open prompts by canned text;
- ``lookup``: no model per request; every answer from a table of greedy answers to a few generic prompts;
- ``greedy``: the model, but greedy when asked to sample;
- ``wrongdtype``: the model in bfloat16, declaring float32;
- ``relay``: relays every request to ``A``;
- ``griefer``: relays sampled requests to ``B`` and answers exact tasks wrong on purpose.

The subnet owner admits exactly the two honest models (a SetAdmittedModels transaction from the genesis owner's
coldkey, once the miners have committed). The run lasts a number of epochs after every validator has set
weights; figures come from the later half of them. Goals: every cheater's mean incentive is at most 5% of the
honest median; the relay earns less than its source ``A``; the griefed ``B`` keeps at least 90% of what its
untargeted twin ``A`` earns; both full-model miners rank above the half-layer one. Also reported: how often each
validator logged "caught lying" for each miner (an honest miner never should be).
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bench.reliability.market import Market, MarketConfig, step_lines
from bench.reliability.net import Network
from bench.reliability.report import Report
from subnet.chain.calls import AdmittedModel
from subnet.metagraph import Metagraph

FULL_MODEL = "smollm2-135m"
HALF_MODEL = "smollm2-135m:layers=0.5"
HONEST = ("A", "B", "C")  # A: the relay's source; B: the griefer's target; C: the half-layer model
CHEATERS = ("solver", "lookup", "greedy", "wrongdtype", "relay", "griefer")
UPSTREAM_FREE = ("solver", "lookup", "greedy", "wrongdtype")  # the cheaters that call no other miner
CAUGHT_LINE = re.compile(r"uid (\d+) caught lying: (.+)$", re.M)
FAILED_LINE = re.compile(r"failed queries: (\{[^}]*\})")
MAX_CHEATER_SHARE = 0.05  # of the honest median incentive
MIN_GRIEFED_SHARE = 0.9  # of the untargeted twin's incentive


def cheaters_config(epochs: int) -> MarketConfig:
    """The market's timing for this scenario. Five of the miners run SmolLM2 on the same two cores as the
    validators, and A and B also serve the relay's and the griefer's requests: one validator's step (27 queries
    and 2 probes) took 41-58 s alone and 65-130 s when both validators stepped at once, with timeouts, nearly all
    A's and B's (steps every 60 s, 60 s deadline: 32 timeouts in 8 steps; every 90 s, half a step apart: the two
    drifted together, 11 timeouts in 5 steps; every 120 s: still 7 in 9 steps, when one step ran into the other's
    start). So a step every 120 s, the two validators half a step apart, and a 90 s deadline that absorbs such an
    overlap (a timeout would rank the honest miners by the load the cheaters put on them, not by their answers);
    1 s blocks with a tempo of 30 give four epochs per step interval."""
    return MarketConfig(grades=(), tempos=epochs, stakes=(1000, 500), block_time_s=1.0, tempo=30, timeout_s=90.0,
                        step_interval_s=120.0)


def validator_flags(config: MarketConfig, index: int) -> list[str]:
    return ["--reference-model", FULL_MODEL, "--reference-model", HALF_MODEL, "--timeout-s", str(config.timeout_s),
            "--step-interval-s", str(config.step_interval_s), "--seed", str(700 + index)]


def honest_flags(net: Network, name: str) -> list[str]:
    """A and B admit the relay and the griefer (which call them with their own hotkeys, holding no permit)."""
    if name == "C":
        return ["--model", HALF_MODEL]
    callers = ",".join(net.hot[n].ss58_address for n in ("relay", "griefer"))
    return ["--model", FULL_MODEL, "--allowlist", callers]


def relay_behaviours(net: Network) -> dict[str, str]:
    """The relay's and the griefer's behaviours: each names its upstream honest miner (hotkey and endpoint, known
    once that miner has announced it). The other cheaters' behaviours are their names."""

    def upstream(name: str) -> str:
        return f"{net.hot[name].ss58_address}@{net.procs[name].endpoint}"

    return {"relay": f"relay:{upstream('A')}", "griefer": f"griefer:{upstream('B')}"}


async def admit_honest_models(net: Network) -> list[AdmittedModel]:
    """As the subnet owner (the genesis names ``net.owner_cold``), admit exactly what A and C committed to."""
    async with net.client(timeout_s=30) as client:
        graph = await Metagraph.sync(client)
        committed = {a.hotkey: a for a in graph.axons}
        models = [AdmittedModel(committed[net.hot[n].ss58_address].model_hash,
                                committed[net.hot[n].ss58_address].model_name) for n in ("A", "C")]
        await client.set_admitted_models(net.owner_cold, models)
        deadline = asyncio.get_running_loop().time() + 30
        while set((await Metagraph.sync(client)).admitted_models) != set(models):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("the owner's SetAdmittedModels did not land within 30s")
            await asyncio.sleep(net.block_time_s)
    return models


async def start_cheaters_market(config: MarketConfig, root: Path) -> Market:
    """Chain, registrations, honest miners, cheaters, the owner's admitted list, then the two validators, started
    half a step apart so that their steps (each one loads every model-running miner) do not coincide."""
    miners = [*HONEST, *CHEATERS]
    net = Network(root, config.hyper(), block_time_s=config.block_time_s, names=[*miners, *config.validators])
    market = Market(config, net)
    net.start_chain()
    await net.register([*miners, *config.validators], dict(zip(config.validators, config.stakes, strict=True)))
    market.uid = await net.uids([*miners, *config.validators])
    for name in HONEST:
        net.start_miner(name, honest_flags(net, name))
    # The relay and the griefer need their upstream's endpoint; the others start now (lookup's table of greedy
    # answers takes a minute or more to generate on these busy cores).
    for name in UPSTREAM_FREE:
        net.start_miner(name, ["--model", FULL_MODEL], name)
    await net.wait_ready(list(HONEST), 600)
    for name, behaviour in relay_behaviours(net).items():
        net.start_miner(name, ["--model", FULL_MODEL], behaviour)
    await net.wait_ready(list(CHEATERS), 600)
    admitted = await admit_honest_models(net)
    print(f"  admitted: {', '.join(m.name for m in admitted)}", flush=True)
    await net.wait_permits(config.validators, 120)
    for i, name in enumerate(config.validators):
        if i:
            await asyncio.sleep(config.step_interval_s / len(config.validators))
        net.start_validator(name, validator_flags(config, i))
        await net.wait_ready([name], 600)
    return market


def caught_counts(log: str) -> Counter[int]:
    """How many times a validator's log says each uid was caught lying."""
    return Counter(int(m[1]) for m in CAUGHT_LINE.finditer(log))


def first_reasons(log: str) -> dict[int, str]:
    """The reason a validator's log gives the first time it caught each uid lying."""
    reasons: dict[int, str] = {}
    for m in CAUGHT_LINE.finditer(log):
        reasons.setdefault(int(m[1]), m[2].strip())
    return reasons


def failed_queries(log: str) -> Counter[str]:
    """Failed queries of every step of a validator's log, by reason."""
    total: Counter[str] = Counter()
    for m in FAILED_LINE.finditer(log):
        for reason, n in re.findall(r"'([^']+)': (\d+)", m[1]):
            total[reason] += int(n)
    return total


def mean_step_rewards(logs: list[str], uid: dict[str, int], names: list[str]) -> dict[str, float]:
    """Each miner's mean step reward over every step of the given validators' logs (0 when never rewarded)."""
    steps = [rewards for log in logs for _, _, _, rewards in step_lines(log)]
    return {n: round(float(np.mean([r.get(uid[n], 0.0) for r in steps])) if steps else 0.0, 3) for n in names}


def report_incentives(market: Market, report: Report, measured: int) -> None:
    """Every miner's mean incentive over the last ``measured`` epochs, and the scenario's goals on them."""
    names = [*HONEST, *CHEATERS]
    incentive = {n: market.incentive(n, measured) for n in names}
    report.figure("epochs measured (the later half, after every validator set weights)", measured)
    report.figure("uids", {n: market.uid[n] for n in names})
    report.figure("mean incentive per miner", {n: round(v, 4) for n, v in incentive.items()})
    median = statistics.median(incentive[n] for n in HONEST)
    report.figure("honest median incentive (A, B, C)", median)
    for name in CHEATERS:
        share = incentive[name] / median if median > 0 else float("inf")
        report.goal(f"{name} incentive / honest median", share, f"<= {MAX_CHEATER_SHARE}", share <= MAX_CHEATER_SHARE)
    a, b, c = (incentive[n] for n in HONEST)
    report.goal("relay incentive < its source A's", f"{incentive['relay']:.4f} vs {a:.4f}", "relay < A",
                incentive["relay"] < a)
    share_b = b / a if a > 0 else 0.0
    report.goal("griefed B / its untargeted twin A", f"{share_b:.3f} (B {b:.4f}, A {a:.4f})",
                f">= {MIN_GRIEFED_SHARE}", share_b >= MIN_GRIEFED_SHARE)
    report.goal("full model above the half-layer one (A > C and B > C)", f"A {a:.4f}, B {b:.4f}, C {c:.4f}",
                "A > C and B > C", a > c and b > c)


def zero_reward_steps(logs: list[str], uid: int) -> int:
    """Steps (of the given validators' logs) in which ``uid`` was queried and earned nothing."""
    return sum(rewards.get(uid, 1.0) == 0.0 for log in logs for _, _, _, rewards in step_lines(log))


def report_logs(market: Market, report: Report, logs: dict[str, str]) -> None:
    """What the validators' logs say (``logs``, taken before the network was stopped, so no step of the shutdown
    counts): who was caught lying, how often and first why; step rewards; failed queries."""
    validators = market.config.validators
    names = [*HONEST, *CHEATERS]
    counts = {v: caught_counts(logs[v]) for v in validators}
    report.figure(f"'caught lying' log lines per miner ({', '.join(validators)})",
                  {n: tuple(counts[v][market.uid[n]] for v in validators) for n in names})
    reasons = {v: first_reasons(logs[v]) for v in validators}
    for name in CHEATERS:
        why = next((reasons[v][market.uid[name]] for v in validators if market.uid[name] in reasons[v]), "never")
        report.figure(f"  first reason, {name}", why[:160])
    for v in validators:
        lines = step_lines(logs[v])
        report.figure(f"{v}: steps, longest step (s)", f"{len(lines)}, {max((s for _, _, s, _ in lines), default=0):.1f}")
        report.figure(f"{v}: failed queries by reason", dict(failed_queries(logs[v]).most_common()))
    # As the step lines log them: a uid under an earlier step's penalty shows its raw reward there (its score
    # takes 0 all the same, and its weight is 0).
    report.figure("mean step reward per miner as logged (both validators, every step)",
                  mean_step_rewards(list(logs.values()), market.uid, names))
    report.figure("steps in which an honest miner earned 0 (a failed call such as a timeout, or a model weight of 0)",
                  {n: zero_reward_steps(list(logs.values()), market.uid[n]) for n in HONEST})
    honest_caught = sum(counts[v][market.uid[n]] for v in validators for n in HONEST)
    report.goal("honest miners caught lying", honest_caught, "0", honest_caught == 0)
    uncaught = [n for n in CHEATERS if not any(counts[v][market.uid[n]] for v in validators)]
    report.goal("cheaters never caught lying by any validator", uncaught or "none", "none", not uncaught)


async def scenario_cheaters(root: Path, report: Report, *, epochs: int) -> None:
    """Run the cheaters' market for ``epochs`` epochs after every validator has set weights, and report."""
    config = cheaters_config(epochs)
    started = time.monotonic()
    market = None
    stop = asyncio.Event()
    sampler = None
    try:
        market = await start_cheaters_market(config, root)
        # Every validator's first step must end (and its weights land) before the epochs that are measured.
        await market.wait_all_weights(600)
        print(f"  cheaters' market of {len(HONEST) + len(CHEATERS)} miners and {len(config.validators)} validators "
              f"weighing in {time.monotonic() - started:.0f}s", flush=True)
        sampler = asyncio.create_task(market.sample(stop))
        await market.wait_epochs(epochs)
        logs = {v: market.net.log(v) for v in config.validators}
    finally:
        stop.set()
        if sampler is not None:
            await sampler
        if market is not None:
            market.net.stop_all()
    report_incentives(market, report, measured=max(1, len(market.snapshots) // 2))
    report_logs(market, report, logs)
