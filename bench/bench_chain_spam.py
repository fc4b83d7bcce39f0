"""Honest transactions on a real ``subnet-chain`` process while an attacker floods it with refused ones.

Starts ``subnet-chain`` (its own temp dir, ``--port 0``, 0.5 s blocks) and honest clients that submit transfers in
a loop through ``ChainClient``, each waiting for its acknowledgement (the durable block) before the next; the
acknowledgement latency of each is recorded. Two phases of the same length by default:
- quiet: only the honest clients (the baseline, measured in the same run);
- spam: the same, while an attacker process (one process, one asyncio loop, so about one core) sends refused
  transactions as fast as it can: garbage bodies (signed), bad signatures, invalid fields (a transfer to a 60 KB
  junk address, over the body cap; a 4 KB junk address, under it; a weight row with unequal lengths), transfers
  from unfunded keys (``cannot_pay_fee``, refused at admission), and overdrafts from a funded attacker key (a
  transfer far beyond its balance: admitted, refused in its block with the fee charged and the refusal stored;
  more than ``max_queued_txs_per_signer`` waiting are refused with ``too_many_queued``).
Reports the honest latency p50/p99 per phase and the ratio p99 spam/quiet (goal <= 2), the attacker's submissions
per second by outcome (gRPC status and the chain's reason), the fees it paid (its balance before and after), the
chain's CPU and blocks per phase, and the growth of the data dir's files (chain.sqlite3, -wal, -shm) during each
phase, next to the growth of the database's content (its pages as of the last commit, WAL included; goal during
the spam phase: under 1 MB. The files also grow while the WAL fills up to its autocheckpoint size, about 4 MB, once,
attack or not) and what each phase's blocks stored, read after the node stopped. No timing assertions; ``--check``
exits 1 if a goal is missed. Takes about 65 s with the defaults.

Run: .venv/bin/python bench/bench_chain_spam.py [--quiet-s 30] [--spam-s 30] [--honest 4] [--check]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.reliability.chainflood import attack, logical_db_bytes
from consensus.emission import UNITS_PER_TOKEN
from subnet.chain.client import ChainClient
from subnet.chain.genesis import Genesis
from subnet.chain.params import Hyperparameters
from subnet.chain.store import DB_NAME
from subnet.keys import Keypair
from tests.chain_fixtures import start_chain

GOAL_P99_RATIO = 2.0
GOAL_DB_GROWTH_BYTES = 1_000_000
ATTACKER_TOKENS = 100


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dir_files(data_dir: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(data_dir.iterdir()) if p.is_file()}


def tokens(units: int) -> str:
    return f"{units / UNITS_PER_TOKEN:.6f}"


def attacker_main(endpoint: str, funded_seed_hex: str, duration_s: float, fast_workers: int, overdraft_workers: int,
                  go, report) -> None:
    asyncio.run(attack(endpoint, funded_seed_hex, duration_s, fast_workers, overdraft_workers, go, report))


# --- the honest clients and the phases ----------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    chain_cpu_s: float = 0.0
    blocks: tuple[int, int] = (0, 0)  # head at the start and at the end
    files_before: dict[str, int] = field(default_factory=dict)
    files_after: dict[str, int] = field(default_factory=dict)
    logical: tuple[int, int] = (0, 0)  # logical_db_bytes at the start and at the end

    @property
    def growth(self) -> int:
        return sum(self.files_after.values()) - sum(self.files_before.values())


async def honest_load(client: ChainClient, senders: list[Keypair], dest: str, duration_s: float,
                      phase: Phase) -> None:
    deadline = time.perf_counter() + duration_s

    async def sender(key: Keypair) -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                await client.transfer(key, dest, UNITS_PER_TOKEN // 100)
            except Exception as exc:  # counted and reported: an honest transfer must not fail
                phase.failures[type(exc).__name__ + ": " + str(exc)[:80]] += 1
                continue
            phase.latencies_ms.append((time.perf_counter() - start) * 1e3)

    await asyncio.gather(*(sender(k) for k in senders))


async def run_phase(phase: Phase, client: ChainClient, senders: list[Keypair], dest: str, duration_s: float,
                    chain_pid: int, data_dir: Path) -> None:
    phase.files_before = dir_files(data_dir)
    phase.logical = (logical_db_bytes(data_dir / DB_NAME), 0)
    start_block = (await client.status()).block
    cpu0, t0 = process_cpu_s(chain_pid), time.perf_counter()
    await honest_load(client, senders, dest, duration_s, phase)
    phase.seconds = time.perf_counter() - t0
    phase.chain_cpu_s = process_cpu_s(chain_pid) - cpu0
    phase.blocks = (start_block, (await client.status()).block)
    phase.files_after = dir_files(data_dir)
    phase.logical = (phase.logical[0], logical_db_bytes(data_dir / DB_NAME))


def stored_rows(db: Path, first: int, last: int) -> list[tuple[int, str, int, int]]:
    """(ok, reason, rows, bytes of their fields) of the transactions stored in blocks first..last."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute(
            "SELECT ok, reason, count(*), sum(length(hash) + length(signer) + length(body) + length(signature) "
            "+ length(reason) + length(message)) FROM txs WHERE height BETWEEN ? AND ? GROUP BY ok, reason "
            "ORDER BY 3 DESC", (first, last)).fetchall()


def print_phase(phase: Phase) -> None:
    lat = phase.latencies_ms
    blocks = phase.blocks[1] - phase.blocks[0]
    print(f"  {phase.name:<5}: {len(lat)} acknowledged transfers in {phase.seconds:.1f} s "
          f"({len(lat) / phase.seconds:.1f}/s), latency p50 {percentile(lat, 50):.0f} ms, p99 "
          f"{percentile(lat, 99):.0f} ms, max {max(lat):.0f} ms; failures {sum(phase.failures.values())}; "
          f"blocks {blocks} ({phase.seconds / max(blocks, 1):.2f} s each); chain CPU "
          f"{phase.chain_cpu_s / phase.seconds:.0%} of a core")
    for what, n in phase.failures.most_common(5):
        print(f"      failure x{n}: {what}")


def print_files(phase: Phase) -> None:
    names = sorted(set(phase.files_before) | set(phase.files_after))
    parts = [f"{n} {phase.files_before.get(n, 0):,} -> {phase.files_after.get(n, 0):,}" for n in names
             if phase.files_before.get(n, 0) != phase.files_after.get(n, 0)]
    print(f"  {phase.name:<5}: {phase.growth:+,} bytes ({'; '.join(parts) or 'no change'}); the database as of its "
          f"last commit (pages, WAL included): {phase.logical[0]:,} -> {phase.logical[1]:,} = "
          f"{phase.logical[1] - phase.logical[0]:+,} bytes")


async def main_async(args: argparse.Namespace) -> int:
    owner_cold, owner_hot, attacker = Keypair.generate(), Keypair.generate(), Keypair.generate()
    honest = [Keypair.generate() for _ in range(args.honest)]
    dest = Keypair.generate().ss58_address
    hyper = Hyperparameters(tempo=args.tempo)
    accounts = [(k.ss58_address, 10_000 * UNITS_PER_TOKEN) for k in (owner_cold, *honest)]
    accounts.append((attacker.ss58_address, ATTACKER_TOKENS * UNITS_PER_TOKEN))
    genesis = Genesis(owner_cold.ss58_address, owner_hot.ss58_address, hyper, tuple(sorted(accounts)))
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="bench-chain-spam-", dir=args.dir) as tmp:
        data_dir = Path(tmp) / "chain"
        proc = start_chain(data_dir, genesis, block_time_s=args.block_time_s)
        go, report = ctx.Event(), ctx.Queue()
        attacker_proc = ctx.Process(target=attacker_main, name="attacker", daemon=True, args=(
            proc.endpoint, attacker.seed.hex(), args.spam_s, args.fast_workers, args.overdraft_workers, go, report))
        try:
            attacker_proc.start()
            if report.get(timeout=60)[0] != "ready":
                raise SystemExit("the attacker process did not start")
            async with ChainClient(proc.endpoint, timeout_s=30) as client:
                quiet, spam = Phase("quiet"), Phase("spam")
                await run_phase(quiet, client, honest, dest, args.quiet_s, proc.pid, data_dir)
                balance_before = (await client.balance(attacker.ss58_address)).free
                go.set()
                await run_phase(spam, client, honest, dest, args.spam_s, proc.pid, data_dir)
                kind, payload = report.get(timeout=60)  # sent after its last answers
                if kind != "done":
                    raise SystemExit(f"unexpected message from the attacker process: {kind}")
                counts, attack_s, attack_cpu_s, fee_charged = payload
                spam.files_after = dir_files(data_dir)  # its last overdrafts are in blocks now
                spam.logical = (spam.logical[0], logical_db_bytes(data_dir / DB_NAME))
                spam.blocks = (spam.blocks[0], (await client.status()).block)
                balance_after = (await client.balance(attacker.ss58_address)).free
            attacker_proc.join(30)
        finally:
            if attacker_proc.is_alive():
                os.kill(attacker_proc.pid, 9)  # the attacker started by this script, by its PID
                attacker_proc.join(10)
            exit_code = proc.stop()
        files_after_stop = dir_files(data_dir)
        quiet_rows = stored_rows(data_dir / DB_NAME, quiet.blocks[0] + 1, quiet.blocks[1])
        spam_rows = stored_rows(data_dir / DB_NAME, spam.blocks[0] + 1, spam.blocks[1])

    print(f"subnet-chain, block {args.block_time_s} s, {args.honest} honest senders (one transfer in flight each), "
          f"attacker: one process, {args.fast_workers} + {args.overdraft_workers} calls in flight; chain exit "
          f"code {exit_code}")
    print("honest acknowledgement latency (ChainClient.transfer: status + submit + wait for the durable block):")
    print_phase(quiet)
    print_phase(spam)
    ratio = percentile(spam.latencies_ms, 99) / percentile(quiet.latencies_ms, 99)
    p50_ratio = percentile(spam.latencies_ms, 50) / percentile(quiet.latencies_ms, 50)
    print(f"  p99 spam/quiet {ratio:.2f}x (p50 {p50_ratio:.2f}x)")

    total = sum(counts.values())
    print(f"attacker: {total:,} submissions in {attack_s:.1f} s = {total / attack_s:,.0f}/s, using "
          f"{attack_cpu_s / attack_s:.0%} of a core; by outcome (kind: gRPC status [chain reason]):")
    for (what, code, reason), n in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"  {what:<17} {code:<19} [{reason}]: {n:>7,} ({n / attack_s:,.1f}/s)")
    by_code = Counter()
    for (_, code, _), n in counts.items():
        by_code[code] += n
    print("  by status: " + ", ".join(f"{code} {n / attack_s:,.1f}/s" for code, n in by_code.most_common()))
    included = sum(n for (_, code, reason), n in counts.items() if code == "OK" and reason == "included")
    spent = balance_before - balance_after
    print(f"attacker fees: balance {balance_before:,} -> {balance_after:,} units: spent {spent:,} units = "
          f"{tokens(spent)} tokens ({tokens(spent * 3600 // max(1, round(attack_s)))} tokens/hour at this rate); "
          f"fees of its in-block refusals by the fee rule: {fee_charged:,} units; included by mistake: {included}")

    print("data dir files (chain.sqlite3, -wal, -shm, node_key), growth during each phase:")
    print_files(quiet)
    print_files(spam)
    for name, rows in (("quiet", quiet_rows), ("spam", spam_rows)):
        summary = ", ".join(f"{n:,} {'ok' if ok else reason} ({size / max(n, 1):.0f} B each)"
                            for ok, reason, n, size in rows) or "none"
        print(f"  stored transactions in the {name} blocks: {summary}")
    print("  files after the node stopped: " + ", ".join(f"{n} {size:,}" for n, size in files_after_stop.items()))

    latency_met = ratio <= GOAL_P99_RATIO and not spam.failures and not quiet.failures
    # The goal is on the database's content: the WAL file fills up to its autocheckpoint size once (about 4 MB,
    # reused after that) whether anyone attacks or not, as the quiet phase shows.
    content = [(ph.logical[1] - ph.logical[0]) / 1e6 for ph in (quiet, spam)]
    db_met = content[1] * 1e6 < GOAL_DB_GROWTH_BYTES
    print(f"summary: honest p99 spam/quiet {ratio:.2f}x (goal <= {GOAL_P99_RATIO}, no honest failure): "
          f"{'met' if latency_met else 'NOT met'}; database content growth during the spam phase "
          f"{content[1]:+.2f} MB (quiet {content[0]:+.2f} MB; goal < {GOAL_DB_GROWTH_BYTES / 1e6:.0f} MB): "
          f"{'met' if db_met else 'NOT met'}; data dir files {spam.growth / 1e6:+.2f} MB (quiet "
          f"{quiet.growth / 1e6:+.2f} MB, the WAL filling once); attacker {total / attack_s:,.0f} refused "
          f"submissions/s, paid {tokens(spent)} tokens")
    return 1 if args.check and not (latency_met and db_met) else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quiet-s", type=float, default=30.0, help="seconds of honest load alone (default 30)")
    p.add_argument("--spam-s", type=float, default=30.0, help="seconds of honest load under spam (default 30)")
    p.add_argument("--honest", type=int, default=4, help="honest senders, one transfer in flight each (default 4)")
    p.add_argument("--block-time-s", type=float, default=0.5)
    p.add_argument("--tempo", type=int, default=360, help="blocks between epochs (default 360)")
    p.add_argument("--fast-workers", type=int, default=16,
                   help="attacker calls in flight refused at admission (default 16)")
    p.add_argument("--overdraft-workers", type=int, default=40,
                   help="attacker overdrafts in flight; above max_queued_txs_per_signer (32) they are refused "
                        "as too_many_queued (default 40)")
    p.add_argument("--dir", type=Path, default=None, help="parent of the temp dir (default: the system temp dir)")
    p.add_argument("--check", action="store_true", help="exit 1 if a goal is missed")
    args = p.parse_args()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
