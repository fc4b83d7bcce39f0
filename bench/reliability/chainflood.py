"""The chain's part of the abuse flood: refused transactions sent as fast as one process can.

    python -m bench.reliability.chainflood ENDPOINT --seed-file F --max-seconds S [--fast-workers 16]
                                                    [--overdraft-workers 40]

Kinds (what the chain must answer): signed garbage bodies, random signatures, a transfer to a 60 KB junk address
(over the body cap) and to a 4 KB one, a weight row with unequal lengths, transfers from unfunded keys (all refused
at admission, never stored), and overdrafts from the funded key in the seed file (hex): admitted, refused in their
block with the fee kept, or refused at admission once the signer's queue allowance is used. ``bench_chain_spam.py``
runs ``attack`` in a process of its own; run as a module, this prints ``START`` when it begins and, at the end, one
JSON line with the counts per (kind, gRPC status, reason), the elapsed time and the fees of the in-block refusals.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import grpc
import grpc.aio

from consensus.emission import UNITS_PER_TOKEN
from subnet.chain import calls
from subnet.chain.codec import build_transaction, signing_payload
from subnet.keys import Keypair
from subnet.proto import subnet_pb2 as pb
from subnet.proto import subnet_pb2_grpc as pb_grpc

FAST_KINDS = ("garbage_body", "bad_signature", "junk_address_60k", "junk_address_4k", "bad_weights", "unfunded")
# What the chain must answer at admission, per kind: (gRPC status, the chain's reason).
EXPECTED = {
    "garbage_body": ("INVALID_ARGUMENT", "malformed"),
    "bad_signature": ("UNAUTHENTICATED", "bad_signature"),
    "junk_address_60k": ("INVALID_ARGUMENT", "malformed"),
    "junk_address_4k": ("INVALID_ARGUMENT", "invalid_address"),
    "bad_weights": ("INVALID_ARGUMENT", "length_mismatch"),
    "unfunded": ("FAILED_PRECONDITION", "cannot_pay_fee"),
}
OVERDRAFT_EXPECTED = {("RESOURCE_EXHAUSTED", "too_many_queued"), ("OK", "in-block insufficient_balance")}


def logical_db_bytes(db: Path) -> int:
    """The database's size as of its last commit, WAL content included (page_count x page_size, read through a
    read-only connection): what the file holds once checkpointed, whatever the WAL's own file size."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:  # closed: the node's close checkpoints
        return conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]


def as_expected(kind: str, status: str, reason: str) -> bool:
    if kind == "overdraft":
        return (status, reason) in OVERDRAFT_EXPECTED
    return EXPECTED.get(kind) == (status, reason)


class Forger:
    """Builds the attacker's transactions, each new (a fresh nonce), signed where the kind needs a signature."""

    def __init__(self, genesis_hash: str, funded: Keypair, valid_until: int) -> None:
        self.genesis_hash = genesis_hash
        self.funded = funded
        self.strangers = [Keypair.generate() for _ in range(32)]  # never funded
        self.valid_until = valid_until
        self.dest = Keypair.generate().ss58_address
        self.i = 0

    def stranger(self) -> Keypair:
        self.i += 1
        return self.strangers[self.i % len(self.strangers)]

    def build(self, kind: str) -> pb.Transaction:
        key = self.stranger()
        match kind:
            case "garbage_body":  # a valid signature over bytes that are no TxBody
                body = os.urandom(160)
                return pb.Transaction(body=body, signer=key.ss58_address,
                                      signature=key.sign(signing_payload(self.genesis_hash, body)))
            case "bad_signature":
                tx = self._tx(key, calls.Transfer(self.dest, UNITS_PER_TOKEN))
                tx.signature = os.urandom(64)
                return tx
            case "junk_address_60k":
                return self._tx(key, calls.Transfer("5" * 60_000, 1))
            case "junk_address_4k":
                return self._tx(key, calls.Transfer("5" * 4_000, 1))
            case "bad_weights":
                return self._tx(key, calls.SetWeights((1, 2), (1,)))
            case "unfunded":
                return self._tx(key, calls.Transfer(self.dest, UNITS_PER_TOKEN))
            case "overdraft":  # admitted (the fee is covered), refused in the block: insufficient balance
                return self._tx(self.funded, calls.Transfer(self.dest, 1_000_000 * UNITS_PER_TOKEN))
        raise ValueError(kind)

    def _tx(self, key: Keypair, call: calls.Call) -> pb.Transaction:
        return build_transaction(key, self.genesis_hash, call, self.valid_until)


def outcome_of(exc: grpc.aio.AioRpcError) -> tuple[str, str]:
    details = exc.details() or ""
    reason = details[1:details.index("]")] if details.startswith("[") and "]" in details else "-"
    return exc.code().name, reason


async def attack(endpoint: str, funded_seed_hex: str, duration_s: float, fast_workers: int, overdraft_workers: int,
                 go, report) -> None:
    channel = grpc.aio.insecure_channel(endpoint)
    stub = pb_grpc.ChainStub(channel)
    status = await stub.GetStatus(pb.StatusRequest(), timeout=10)
    hyper = (await stub.GetHyperparameters(pb.HyperparametersRequest(), timeout=10)).values
    forger = Forger(status.genesis_hash, Keypair.from_seed_hex(funded_seed_hex), status.block + 400)
    report.put(("ready", None))
    await asyncio.get_running_loop().run_in_executor(None, go.wait)
    status = await stub.GetStatus(pb.StatusRequest(), timeout=10)
    forger.valid_until = status.block + 400  # lifetime cap: 600 blocks ahead
    counts: Counter[tuple[str, str, str]] = Counter()
    fee_charged = 0  # the fees of the attacker's transactions refused in a block, per the chain's fee rule
    started, cpu_started = time.perf_counter(), time.process_time()
    deadline = started + duration_s

    async def worker(kinds: tuple[str, ...], offset: int) -> None:
        nonlocal fee_charged
        n = offset
        while time.perf_counter() < deadline:
            kind = kinds[n % len(kinds)]
            n += 1
            tx = forger.build(kind)
            try:
                result = await stub.SubmitTransaction(tx, timeout=10)
            except grpc.aio.AioRpcError as exc:
                counts[(kind, *outcome_of(exc))] += 1
                continue
            counts[(kind, "OK", "included" if result.ok else f"in-block {result.reason}")] += 1
            if kind == "overdraft":
                fee_charged += hyper["tx_fee_base"] + hyper["tx_fee_per_byte"] * len(tx.body)

    await asyncio.gather(*(worker(FAST_KINDS, i) for i in range(fast_workers)),
                         *(worker(("overdraft",), 0) for _ in range(overdraft_workers)))
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    await channel.close()
    report.put(("done", (dict(counts), elapsed, cpu_s, fee_charged)))


async def run(endpoint: str, seed_hex: str, duration_s: float, fast_workers: int, overdraft_workers: int) -> dict:
    """Flood for ``duration_s`` (printing START first); the counts as a JSON-ready dict."""

    class Now:  # ``attack``'s go/report handshake, in one process
        def wait(self) -> None:
            print("START", flush=True)

    reports: list = []

    class Queue:
        def put(self, item) -> None:
            reports.append(item)

    await attack(endpoint, seed_hex, duration_s, fast_workers, overdraft_workers, Now(), Queue())
    counts, elapsed, _cpu_s, fees = reports[-1][1]
    return {"counts": [[*key, n] for key, n in counts.items()], "elapsed_s": elapsed, "fees_units": fees}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("endpoint")
    p.add_argument("--seed-file", type=Path, required=True, help="hex seed of the funded attacker coldkey")
    p.add_argument("--max-seconds", type=float, required=True)
    p.add_argument("--fast-workers", type=int, default=16)
    p.add_argument("--overdraft-workers", type=int, default=40)
    a = p.parse_args()
    result = asyncio.run(run(a.endpoint, a.seed_file.read_text().strip(), a.max_seconds, a.fast_workers,
                             a.overdraft_workers))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
