"""Per-block cost of the chain node against the number of funded accounts.

Builds, in this process, one ``ChainNode`` per account count (default 1,000 and 100,000 funded accounts, every one
holding at least the existential deposit) straight from a genesis, each in its own temp dir with its real SQLite
store (WAL, synchronous=FULL), then times ``produce_block``:
- empty blocks (no transactions: block reward, burn decay, state root, invariant check, SQLite commit);
- blocks with ``--transfers`` signed transfers each, from funded senders to random existing accounts (signing,
  decoding and admission happen outside the timed call; inclusion, fees, the state root and the commit inside).
The sizes are measured round-robin, block by block (alternating the order), so that the machine's other load
hits every size alike; the smallest size is the baseline. Epochs are kept out of the timed blocks (tempo above
the number of blocks), so this is the cost every block pays. Prints median and p90 per size and the ratio
largest/smallest (goal: <= 1.5, i.e. a block does not cost more with more accounts). Before the incremental state
root an empty block took 0.4 ms at 2 accounts, 134 ms at 50k and 286 ms at 100k. Takes about 10 s.

Run: .venv/bin/python bench/bench_chain_block.py [--accounts 1000,100000] [--blocks 50] [--transfers 10]
                                                 [--profile] [--check]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consensus.emission import UNITS_PER_TOKEN
from subnet import ss58
from subnet.chain import calls
from subnet.chain.codec import build_transaction, decode_transaction
from subnet.chain.genesis import Genesis
from subnet.chain.node import ChainNode
from subnet.chain.params import Hyperparameters
from subnet.chain.store import DB_NAME
from subnet.keys import Keypair

GOAL_RATIO = 1.5
N_SENDERS = 10  # funded keys that sign the transfers (at most max_queued_txs_per_signer each per block)


@dataclass
class Subject:
    accounts: int
    node: ChainNode
    senders: list[Keypair]
    others: list[str]  # funded addresses without keys: transfer destinations
    open_s: float
    empty_ms: list[float] = field(default_factory=list)
    transfer_ms: list[float] = field(default_factory=list)
    refused: int = 0


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def build(accounts: int, parent: Path, rng: random.Random, tempo: int) -> Subject:
    """A node whose genesis funds ``accounts`` accounts (the owner's coldkey, the senders and random addresses)."""
    owner_cold, owner_hot = Keypair.generate(), Keypair.generate()
    senders = [Keypair.generate() for _ in range(N_SENDERS)]
    others = [ss58.encode(rng.randbytes(32)) for _ in range(accounts - 1 - len(senders))]
    hyper = Hyperparameters(tempo=tempo)
    balances = [(owner_cold.ss58_address, 1000 * UNITS_PER_TOKEN)]
    balances += [(k.ss58_address, 1000 * UNITS_PER_TOKEN) for k in senders]
    balances += [(a, UNITS_PER_TOKEN) for a in others]  # 1 token: 1000x the existential deposit
    assert min(units for _, units in balances) >= hyper.existential_deposit
    genesis = Genesis(owner_cold.ss58_address, owner_hot.ss58_address, hyper, tuple(sorted(balances)))
    start = time.perf_counter()
    node = ChainNode.open(parent / f"chain-{accounts}", genesis)
    open_s = time.perf_counter() - start
    if len(node.state.ledger.balances) != accounts:
        raise SystemExit(f"expected {accounts} accounts, the node holds {len(node.state.ledger.balances)}")
    return Subject(accounts, node, senders, others, open_s)


def timed_block(node: ChainNode) -> float:
    start = time.perf_counter()
    node.produce_block()
    return (time.perf_counter() - start) * 1e3


def queue_transfers(subject: Subject, count: int, rng: random.Random) -> list:
    """Sign, decode and submit ``count`` transfers (outside the timed block); return their futures."""
    node = subject.node
    genesis_hash, valid_until = node.state.genesis_hash, node.state.block + 10
    futures = []
    for i in range(count):
        sender = subject.senders[i % len(subject.senders)]
        call = calls.Transfer(rng.choice(subject.others), UNITS_PER_TOKEN // 100)
        tx = decode_transaction(build_transaction(sender, genesis_hash, call, valid_until), genesis_hash)
        futures.append(node.submit(tx))
    return futures


def ratio_line(what: str, base: Subject, big: Subject, pick) -> tuple[float, str]:
    b_med, g_med = statistics.median(pick(base)), statistics.median(pick(big))
    b_p90, g_p90 = percentile(pick(base), 90), percentile(pick(big), 90)
    ratio = g_med / b_med
    return ratio, (f"{what:<22} {big.accounts:,}/{base.accounts:,} accounts: median {ratio:.2f}x "
                   f"(p90 {g_p90 / b_p90:.2f}x)")


def profile_blocks(subject: Subject, blocks: int, transfers: int, rng: random.Random) -> str:
    """cProfile of ``blocks`` more blocks of each kind on ``subject``: the top functions by cumulative time."""
    profiler = cProfile.Profile()
    for _ in range(blocks):
        profiler.enable()
        subject.node.produce_block()
        profiler.disable()
        queue_transfers(subject, transfers, rng)
        profiler.enable()
        subject.node.produce_block()
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    return out.getvalue()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", default="1000,100000",
                   help="comma-separated account counts; the smallest is the baseline (default 1000,100000)")
    p.add_argument("--blocks", type=int, default=50, help="timed blocks of each kind per size (default 50)")
    p.add_argument("--transfers", type=int, default=10, help="transfers per non-empty block (default 10)")
    p.add_argument("--warmup", type=int, default=5, help="untimed blocks per size first (default 5)")
    p.add_argument("--dir", type=Path, default=None, help="parent of the temp dirs (default: the system temp dir)")
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--profile", action="store_true", help="also print a cProfile of the largest size's blocks")
    p.add_argument("--check", action="store_true", help=f"exit 1 if a median ratio is above {GOAL_RATIO}")
    args = p.parse_args()
    sizes = sorted({int(x) for x in args.accounts.split(",")})
    if sizes[0] <= N_SENDERS + 1 or args.blocks < 2:
        p.error(f"every size must be above {N_SENDERS + 1} accounts, and --blocks at least 2")
    rng = random.Random(args.seed)
    tempo = args.warmup + 2 * args.blocks + (2 * args.blocks if args.profile else 0) + 100  # no epoch in the run

    with tempfile.TemporaryDirectory(prefix="bench-chain-block-", dir=args.dir) as tmp:
        subjects = []
        for n in sizes:
            start = time.perf_counter()
            subject = build(n, Path(tmp), rng, tempo)
            subjects.append(subject)
            db_bytes = sum(f.stat().st_size for f in (Path(tmp) / f"chain-{n}").glob(f"{DB_NAME}*"))
            print(f"{n:>8,} accounts: built and opened in {time.perf_counter() - start:.1f} s "
                  f"(ChainNode.open {subject.open_s:.2f} s), database with its WAL {db_bytes / 2**20:.1f} MiB",
                  flush=True)
        gc.collect()
        for subject in subjects:
            for _ in range(args.warmup):
                subject.node.produce_block()
        # Round-robin: block i of every size, then block i + 1 (in the reverse order), so that background load
        # and the order hit every size alike.
        for i in range(args.blocks):
            for subject in subjects[::-1] if i % 2 else subjects:
                subject.empty_ms.append(timed_block(subject.node))
        for i in range(args.blocks):
            for subject in subjects[::-1] if i % 2 else subjects:
                futures = queue_transfers(subject, args.transfers, rng)
                subject.transfer_ms.append(timed_block(subject.node))
                outcomes = [f.result(timeout=0) for f in futures]
                subject.refused += sum(not o.ok for o in outcomes)
        profile = profile_blocks(subjects[-1], 10, args.transfers, rng) if args.profile else ""
        for subject in subjects:
            subject.node.close()

    print(f"\nproduce_block, {args.blocks} blocks of each kind per size (ms):")
    print(f"{'accounts':>10} | {'empty: median':>13} {'p90':>7} | {f'{args.transfers} transfers: median':>22} "
          f"{'p90':>7} | refused")
    for s in subjects:
        print(f"{s.accounts:>10,} | {statistics.median(s.empty_ms):13.2f} {percentile(s.empty_ms, 90):7.2f} | "
              f"{statistics.median(s.transfer_ms):22.2f} {percentile(s.transfer_ms, 90):7.2f} | {s.refused}")
    base, big = subjects[0], subjects[-1]
    empty_ratio, empty_line = ratio_line("empty block", base, big, lambda s: s.empty_ms)
    transfer_ratio, transfer_line = ratio_line(f"{args.transfers}-transfer block", base, big, lambda s: s.transfer_ms)
    print(empty_line)
    print(transfer_line)
    print("(before the incremental state root: empty block 0.4 ms at 2 accounts, 134 ms at 50k, 286 ms at 100k)")
    met = empty_ratio <= GOAL_RATIO and transfer_ratio <= GOAL_RATIO and not any(s.refused for s in subjects)
    print(f"goal: median ratio {big.accounts:,}/{base.accounts:,} <= {GOAL_RATIO} for both kinds, every transfer "
          f"included: {'met' if met else 'NOT met'} (empty {empty_ratio:.2f}x, transfers {transfer_ratio:.2f}x)")
    if profile:
        print(f"\ncProfile of 10 empty + 10 transfer blocks at {big.accounts:,} accounts:\n{profile}")
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
