"""The short version of the end-to-end reliability suite: scenarios 1 (market), 2 (miner faults) and 5 (abuse)
on real processes, with the goals of ``bench/reliability.py --quick`` as assertions; and that ``--quick`` refuses
the scenarios it has no short version of.

Every process is started through ``bench.reliability.net.Network``, which stops each one by PID in ``finally``.
The full suite (every scenario, see docs/DESIGN.md §10) is ``make reliability``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.reliability.abuse import scenario_abuse
from bench.reliability.report import Report
from bench.reliability.suite import QUICK, run_market

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "reliability.py"


def _failures(reports: list[Report]) -> str:
    return "; ".join(f"{r.scenario}: {g.name} = {g.value} (goal {g.target})" for r in reports for g in r.failed())


@pytest.mark.parametrize("scenario", [3, 4, 6])
def test_quick_refuses_a_scenario_it_has_no_short_version_of(scenario: int) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--scenario", str(scenario)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"no short version of scenario(s) [{scenario}]" in done.stderr


@pytest.mark.slow
@pytest.mark.timeout(420)
async def test_market_ranks_by_quality_and_survives_miner_faults(tmp_path: Path) -> None:
    reports: list[Report] = []
    await run_market(QUICK, {1, 2}, tmp_path, reports)
    assert [r.scenario for r in reports] == ["1 market", "2 miner faults"]
    assert [len(r.goals) for r in reports] == [2, 3]
    assert not _failures(reports), _failures(reports)


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_miner_and_chain_refuse_floods_of_bad_calls_and_keep_serving(tmp_path: Path) -> None:
    report = Report("5 abuse")
    await scenario_abuse(tmp_path, report, calls=QUICK.good_calls, flood_count=QUICK.flood_count,
                         flood_s=QUICK.flood_s)
    assert len(report.goals) == 8  # 4 on the miner, 4 on the chain
    assert report.ok, _failures([report])
