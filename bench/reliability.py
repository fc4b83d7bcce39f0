"""The subnet under faults, load and cheating (issue 8): seven scenarios on real processes, each printing its
figures and PASS/FAIL per goal.

    .venv/bin/python bench/reliability.py --full              # all seven scenarios (make reliability)
    .venv/bin/python bench/reliability.py --quick             # short versions of 1, 2 and 5 (a few minutes)
    .venv/bin/python bench/reliability.py --quick --scenario 2  # 1 and 2 (2 runs on 1's market); 3, 4, 6, 7: an error
    .venv/bin/python bench/reliability.py --full --scenario 5 --scenario 6
    .venv/bin/python bench/reliability.py --scenario 7        # the cheaters' market alone (about 11 minutes)

1 market, 2 miner faults, 3 validator fault and 4 chain faults run on one market network, one after the other
(``bench/reliability/market.py``, ``faults.py``, ``chainfaults.py``); 5 abuse (``abuse.py``, ``flood.py``),
6 load (``load.py``) and 7 the cheaters' market (``cheaters.py``: real SmolLM2 miners against miners that fake
it) have networks of their own. Logs of every process stay in the work directory (printed).
Exit code 0 when every goal passed. Timing figures are ratios against a baseline of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.reliability.suite import FULL, QUICK, run

QUICK_SCENARIOS = {1, 2, 5}  # the others have no short version (QUICK runs no chain kills, load or cheaters)
ALL_SCENARIOS = {1, 2, 3, 4, 5, 6, 7}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return f"{cores} cores, {mem / 2**20:.0f} GiB, {cpu}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="short versions of scenarios 1, 2 and 5")
    mode.add_argument("--full", action="store_true", help="all seven scenarios (default)")
    p.add_argument("--scenario", type=int, action="append", choices=sorted(ALL_SCENARIOS), help="run only these")
    p.add_argument("--work-dir", type=Path, default=None, help="where logs go (default: a new temp dir)")
    a = p.parse_args()
    plan = QUICK if a.quick else FULL
    scenarios = set(a.scenario or (QUICK_SCENARIOS if a.quick else ALL_SCENARIOS))
    if a.quick and scenarios - QUICK_SCENARIOS:
        p.error(f"--quick has no short version of scenario(s) {sorted(scenarios - QUICK_SCENARIOS)}: "
                f"choose among {sorted(QUICK_SCENARIOS)}, or use --full")
    work = a.work_dir or Path(tempfile.mkdtemp(prefix="reliability-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print(f"reliability {'--quick' if a.quick else '--full'}, scenarios {sorted(scenarios)}; logs in {work}", flush=True)
    reports = asyncio.run(run(plan, scenarios, work))
    elapsed = time.monotonic() - started
    summary = [f"Run: `{' '.join(sys.argv)}`, {time.strftime('%Y-%m-%d %H:%M %Z')}, {machine()}, "
               f"{elapsed / 60:.1f} min", "", *(r.markdown() for r in reports)]
    (work / "results.md").write_text("\n".join(summary))
    failed = [(r.scenario, g.name) for r in reports for g in r.failed()]
    print(f"== done in {elapsed / 60:.1f} min: {sum(len(r.goals) for r in reports) - len(failed)} goals passed, "
          f"{len(failed)} failed{': ' + str(failed) if failed else ''}; summary in {work / 'results.md'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
