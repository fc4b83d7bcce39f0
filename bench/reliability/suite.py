"""The scenarios' durations per mode (``Plan``) and the runner that chains them on their networks."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from bench.reliability.abuse import scenario_abuse
from bench.reliability.chainfaults import scenario_chain_faults
from bench.reliability.cheaters import scenario_cheaters
from bench.reliability.faults import scenario_miner_faults, scenario_validator_fault
from bench.reliability.load import scenario_load
from bench.reliability.market import GRADES, QUICK_GRADES, MarketConfig, scenario_market, start_market
from bench.reliability.report import Report


@dataclass(frozen=True)
class Plan:
    """How long each scenario runs in one mode."""

    grades: tuple[int, ...]
    market_tempos: int
    down_tempos: int
    after_tempos: int
    chain_kills: int
    flood_count: int
    flood_s: float
    good_calls: int
    load_miners: int
    load_tempos: int
    bonds_moving_average_ppm: int = 900_000  # see MarketConfig
    cheater_epochs: int = 0  # epochs of scenario 7 after every validator set weights (0: no short version)


# Six market tempos, so the figures come from three epochs: with two, the dividend-share figure swung around its
# 10% goal (0.116 and 0.128 in two runs on 2 busy cores, 0.02 in the full mode).
QUICK = Plan(QUICK_GRADES, 6, 2, 6, 0, 1500, 15.0, 80, 0, 0, bonds_moving_average_ppm=500_000)
# Fourteen cheaters'-market epochs of 30 s after the validators' first weights (a step every 120 s each): the
# figures come from the last seven, and the whole scenario takes about 11 minutes.
FULL = Plan(GRADES, 10, 3, 10, 10, 6000, 30.0, 150, 64, 5, cheater_epochs=14)


async def run_market(plan: Plan, scenarios: set[int], work: Path, reports: list[Report]) -> None:
    config = MarketConfig(grades=plan.grades, tempos=plan.market_tempos,
                          bonds_moving_average_ppm=plan.bonds_moving_average_ppm)
    started = time.monotonic()
    market = None
    stop = asyncio.Event()
    sampler = None
    try:
        market = await start_market(config, work / "market")
        print(f"  market of {len(config.grades)} miners and {len(config.stakes)} validators ready in "
              f"{time.monotonic() - started:.0f}s", flush=True)
        sampler = asyncio.create_task(market.sample(stop))
        report = Report("1 market")
        reports.append(report)
        await scenario_market(market, report)
        if 2 in scenarios:
            report = Report("2 miner faults")
            reports.append(report)
            await scenario_miner_faults(market, report, tempos_down=plan.down_tempos, tempos_after=plan.after_tempos)
        if 3 in scenarios:
            report = Report("3 validator fault")
            reports.append(report)
            await scenario_validator_fault(market, report)
        if 4 in scenarios:
            report = Report("4 chain faults")
            reports.append(report)
            await scenario_chain_faults(market, report, kills=plan.chain_kills, seed=int(time.time()))
    finally:
        stop.set()
        if sampler is not None:
            await sampler
        if market is not None:
            market.net.stop_all()


async def run(plan: Plan, scenarios: set[int], work: Path) -> list[Report]:
    reports: list[Report] = []
    for first, label in ((1, "market"), (5, "abuse"), (6, "load"), (7, "cheaters")):
        if first == 1 and not scenarios & {1, 2, 3, 4}:
            continue
        if first != 1 and first not in scenarios:
            continue
        print(f"== scenario {label}", flush=True)
        t0 = time.monotonic()
        try:
            if first == 1:
                await run_market(plan, scenarios, work, reports)
            elif first == 5:
                reports.append(Report("5 abuse"))
                await scenario_abuse(work / "abuse", reports[-1], calls=plan.good_calls,
                                     flood_count=plan.flood_count, flood_s=plan.flood_s)
            elif first == 6:
                reports.append(Report("6 load"))
                await scenario_load(work / "load", reports[-1], miners=plan.load_miners, validators=4,
                                    tempos=plan.load_tempos)
            else:
                reports.append(Report("7 cheaters"))
                await scenario_cheaters(work / "cheaters", reports[-1], epochs=plan.cheater_epochs)
        except Exception as exc:  # a scenario that could not finish is a failed goal, not a crash of the suite
            broken = Report(f"{label} (aborted)")
            broken.goal("scenario completed", f"{type(exc).__name__}: {exc}"[:300], "no error", False)
            reports.append(broken)
        print(f"   ({time.monotonic() - t0:.0f}s)", flush=True)
    return reports
