"""Scenario 1, the market: one chain, three validators with unequal stake, miners of graded quality.

Miners serve the validators' reference model (``tiny``), cut at different answer lengths (``--max-new-tokens``),
so the true quality order is known: validators pay an open answer cut without an end token for the share of the
requested tokens it holds (``validators.rewards``), and a random-weight model practically never ends early. The market runs for a number of tempos with fast blocks; a
sampler records the metagraph at every epoch. Figures, over the second half of the epochs (the first ones
still carry the start-up, when not every validator had set weights):

- Spearman rank correlation between true quality and on-chain incentive (goal >= 0.9);
- the share of miner emission that went to the top 3 miners;
- each validator's share of validator emission against its share of validator stake (goal: within 10%).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.reliability.net import Network
from bench.reliability.report import Report
from bench.reliability.stats import spearman
from subnet.chain.params import Hyperparameters
from subnet.metagraph import Metagraph

# Answer lengths (tokens) of the market's miners, best first; 96 is the open challenges' full length.
GRADES: tuple[int, ...] = (96, 48, 28, 18, 12, 7, 4, 2)
QUICK_GRADES: tuple[int, ...] = (96, 28, 10, 3)
STEP_LINE = re.compile(r"step (\d+): (\d+) miners in ([\d.]+)s; rewards (\{[^}]*\})")


@dataclass(frozen=True)
class MarketConfig:
    grades: tuple[int, ...]  # --max-new-tokens of each miner, best first
    tempos: int  # epochs of the plain market run (scenario 1)
    stakes: tuple[int, ...] = (1000, 500, 250)  # validator stakes, tokens
    block_time_s: float = 0.5
    tempo: int = 20
    timeout_s: float = 5.0
    step_interval_s: float = 4.0
    # Bond EMA (the chain's default 900_000: alpha 0.1 per epoch). A validator whose first weights land one epoch
    # after the others' holds (1 - 0.9^(k-1)) / (1 - 0.9^k) of its bonds' due share after k epochs: 0.70 at k = 3,
    # 0.94 at k = 10. A short run uses faster bonds so that dividends reach proportion to stake within it.
    bonds_moving_average_ppm: int = 900_000

    def hyper(self) -> Hyperparameters:
        return Hyperparameters(tempo=self.tempo, weights_rate_limit=2, immunity_period=100_000,
                               activity_cutoff=100_000, burn_increase_ppm=1_000_000,
                               bonds_moving_average_ppm=self.bonds_moving_average_ppm)

    @property
    def miners(self) -> list[str]:
        return [f"m{i}" for i in range(len(self.grades))]

    @property
    def validators(self) -> list[str]:
        return [f"v{i}" for i in range(len(self.stakes))]

    def validator_flags(self, index: int) -> list[str]:
        # Open challenges only: a random-weight model answers no exact task, so they would add nothing.
        return ["--reference-model", "tiny", "--timeout-s", str(self.timeout_s), "--step-interval-s",
                str(self.step_interval_s), "--n-exact", "0", "--n-open", "1", "--seed", str(100 + index)]


@dataclass
class Snapshot:
    epoch: int
    graph: Metagraph


@dataclass
class Market:
    """A running market and the metagraph of every epoch since the sampler started."""

    config: MarketConfig
    net: Network
    uid: dict[str, int] = field(default_factory=dict)
    snapshots: list[Snapshot] = field(default_factory=list)
    sampler_errors: int = 0
    killed: set[str] = field(default_factory=set)  # miners a scenario killed on purpose and did not restart

    async def sample(self, stop: asyncio.Event) -> None:
        """Record the metagraph once per epoch; survives chain restarts (errors are counted and retried)."""
        last = -1
        async with self.net.client(timeout_s=5, reconnect_budget_s=60) as client:
            while not stop.is_set():
                try:
                    status = await client.status()
                    if status.epoch_index != last:
                        graph = await Metagraph.sync(client, include_matrices=True)
                        last = status.epoch_index
                        self.snapshots.append(Snapshot(status.epoch_index, graph))
                except Exception:
                    self.sampler_errors += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.config.block_time_s)

    async def wait_all_weights(self, timeout_s: float) -> None:
        """Wait until every validator has set weights once, so that measured epochs all see every validator."""
        async with self.net.client() as client:
            deadline = asyncio.get_running_loop().time() + timeout_s
            while asyncio.get_running_loop().time() < deadline:
                graph = await Metagraph.sync(client)
                if all(graph.last_update[self.uid[v]] > graph.registered_at[self.uid[v]] for v in self.config.validators):
                    return
                await asyncio.sleep(self.config.block_time_s)
        raise TimeoutError(f"not every validator set weights within {timeout_s:.0f}s")

    async def wait_epochs(self, n: int, timeout_s: float | None = None) -> None:
        """Wait until the sampler has seen ``n`` more epochs."""
        target = len(self.snapshots) + n
        limit = timeout_s or n * self.config.tempo * self.config.block_time_s * 3 + 60
        deadline = asyncio.get_running_loop().time() + limit
        while len(self.snapshots) < target:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{target - len(self.snapshots)} epochs still missing after {limit:.0f}s")
            await asyncio.sleep(0.2)

    def incentive(self, name: str, last: int) -> float:
        """Mean incentive of ``name`` over the last ``last`` epochs."""
        return float(np.mean([s.graph.I[self.uid[name]] for s in self.snapshots[-last:]]))

    def miner_rank(self, name: str, last: int) -> int:
        """Rank (0 = best) of ``name`` by mean incentive over the last ``last`` epochs among all the market's
        miners, killed and hung ones included (their incentive decays, so they sink); ties keep the grade order."""
        values = {m: self.incentive(m, last) for m in self.config.miners}
        return sorted(values, key=lambda m: -values[m]).index(name)


async def start_market(config: MarketConfig, root: Path) -> Market:
    """Chain, registrations and stakes, miners and validators started and ready, validators holding permits."""
    net = Network(root, config.hyper(), block_time_s=config.block_time_s, names=[*config.miners, *config.validators])
    market = Market(config, net)
    net.start_chain()
    await net.register([*config.miners, *config.validators], dict(zip(config.validators, config.stakes, strict=True)))
    market.uid = await net.uids([*config.miners, *config.validators])
    for name, tokens in zip(config.miners, config.grades, strict=True):
        net.start_miner(name, ["--model", "tiny", "--max-new-tokens", str(tokens)])
    await net.wait_ready(config.miners, 600)
    for i, name in enumerate(config.validators):
        net.start_validator(name, config.validator_flags(i))
    await net.wait_ready(config.validators, 600)
    await net.wait_permits(config.validators, 120)
    await market.wait_all_weights(120)
    return market


def step_lines(log: str) -> list[tuple[int, int, float, dict[int, float]]]:
    """(step, miners, seconds, rewards) of every step a validator logged."""
    return [(int(m[1]), int(m[2]), float(m[3]), ast.literal_eval(m[4])) for m in STEP_LINE.finditer(log)]


@dataclass(frozen=True)
class StepHealth:
    """How one validator kept its steps over a window of its log."""

    steps: int  # steps completed (logged) in the window
    allowed: int  # steps its interval allows in the window: floor(window / interval)
    over_budget: int  # "step N took Xs, over its budget" warnings
    failed: int  # "step failed" (the step raised; logged by the scheduler job)
    skipped: int  # APScheduler runs skipped because the previous step was still running
    longest_s: float

    @property
    def required(self) -> int:
        """At least about half the steps the interval allows (a step may run into the next interval, whose run
        is then skipped), one less for the window's edges, and at least 1."""
        return max(1, self.allowed // 2 - 1)

    def ok(self, budget_s: float) -> bool:
        return (self.over_budget == self.failed == 0 and self.longest_s <= budget_s
                and self.steps >= self.required)


def step_health(log: str, *, window_s: float, interval_s: float) -> StepHealth:
    """``StepHealth`` of the part of one validator's log written during a window of ``window_s`` seconds."""
    lines = step_lines(log)
    return StepHealth(
        steps=len(lines), allowed=int(window_s // interval_s), over_budget=log.count("over its budget"),
        failed=sum(line.rstrip().endswith("step failed") for line in log.splitlines()),
        skipped=log.count("skipped: maximum number of running instances"),
        longest_s=max((secs for _, _, secs, _ in lines), default=0.0))


def market_figures(market: Market, report: Report) -> None:
    """Scenario 1's figures over the second half of the sampled epochs."""
    cfg, half = market.config, market.snapshots[len(market.snapshots) // 2:]
    miners, validators = cfg.miners, cfg.validators
    quality = list(cfg.grades)  # an answer cut at N tokens is worth N / 96 of a whole one
    incentive = [float(np.mean([s.graph.I[market.uid[m]] for s in half])) for m in miners]
    rho = spearman(quality, incentive)
    report.figure("epochs measured (second half of the run)", len(half))
    report.figure("mean incentive per miner, best quality first", [round(x, 4) for x in incentive])
    report.goal("Spearman(true quality, incentive)", rho, ">= 0.9", rho >= 0.9)

    emission = {n: sum(int(s.graph.E[market.uid[n]]) for s in half) for n in [*miners, *validators]}
    miner_total = sum(emission[m] for m in miners)
    top3 = sorted(miners, key=lambda m: -emission[m])[:3]
    share_top3 = sum(emission[m] for m in top3) / miner_total if miner_total else 0.0
    report.figure("miner emission share of the top 3 miners", share_top3)
    report.figure("top 3 miners by emission", top3)

    stake = {v: float(np.mean([s.graph.stake_units[market.uid[v]] for s in half])) for v in validators}
    v_total, s_total = sum(emission[v] for v in validators), sum(stake.values())
    ratios = {v: (emission[v] / v_total) / (stake[v] / s_total) if v_total else 0.0 for v in validators}
    report.figure("validator stake shares", [round(stake[v] / s_total, 3) for v in validators])
    report.figure("validator emission shares", [round(emission[v] / v_total, 3) if v_total else 0 for v in validators])
    worst = max(abs(r - 1.0) for r in ratios.values())
    report.goal("max |dividend share / stake share - 1| over validators", worst, "<= 0.10", worst <= 0.10)


async def scenario_market(market: Market, report: Report) -> None:
    """Run the market for ``config.tempos`` epochs and report scenario 1's figures."""
    await market.wait_epochs(market.config.tempos)
    market_figures(market, report)
