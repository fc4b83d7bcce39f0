"""Crash safety: SIGKILL the chain node at random moments under a stream of transactions, 20 times.

After every restart the node must resume from its last durable block; at the end the header chain verifies,
every acknowledged transaction is in the block it was acknowledged in, the ledger invariant holds and no epoch
was paid twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
from pathlib import Path

from subnet.chain.client import ChainClient, ChainUnavailable, TransactionRefused
from subnet.chain.node import ChainNode, verify_header_chain
from subnet.chain.params import Hyperparameters
from subnet.chain.store import ChainStore
from subnet.keys import Keypair
from tests.chain_fixtures import TOKEN, DevKeys, start_chain
from tests.proc import free_port

KILLS = 20
TEMPO = 5
AMOUNT = Hyperparameters().existential_deposit  # each transfer creates an account: the least it may hold


async def _sender(client: ChainClient, key: Keypair, acked: list[tuple[str, int]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            result = await client.transfer(key, Keypair.generate().ss58_address, AMOUNT)
            acked.append((result.tx_hash, result.block))
        except (ChainUnavailable, TransactionRefused, OSError):
            await asyncio.sleep(0.05)
        except Exception as exc:  # a deadline while the node was down: not acknowledged, fine
            if "DEADLINE" not in repr(exc) and "UNAVAILABLE" not in repr(exc):
                raise


async def test_sigkill_twenty_times_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    keys = DevKeys()
    genesis = keys.genesis(Hyperparameters(tempo=TEMPO))
    data_dir, port = tmp_path / "chain", free_port()
    proc = start_chain(data_dir, genesis, block_time_s=0.1, port=port)
    acked: list[tuple[str, int]] = []
    stop = asyncio.Event()
    heights_after_restart = []
    async with ChainClient(f"127.0.0.1:{port}", timeout_s=5, reconnect_budget_s=30) as client:
        senders = [asyncio.create_task(_sender(client, k, acked, stop)) for k in keys.colds[:4]]
        try:
            for _ in range(KILLS):
                await asyncio.sleep(rng.uniform(0.2, 0.7))
                highest_acked = max((block for _, block in acked), default=0)
                proc.kill()
                proc = start_chain(data_dir, None, block_time_s=0.1, port=port)
                resumed_at = (await client.status()).block
                # An acknowledged block was durable: the restarted node never resumes before it.
                assert resumed_at >= highest_acked, (resumed_at, highest_acked)
                heights_after_restart.append(resumed_at)
            # The senders get transactions through the last restart too.
            acked_at_last_kill = len(acked)
            async with asyncio.timeout(30):
                while len(acked) < acked_at_last_kill + 5:
                    await asyncio.sleep(0.1)
        finally:
            stop.set()
            for task in senders:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            exit_code = proc.stop()
    assert exit_code == 0
    assert len(acked) > 50, "too few transactions went through to test anything"
    assert heights_after_restart == sorted(heights_after_restart)

    store = ChainStore(data_dir)
    try:
        height = verify_header_chain(store)
        for tx_hash, block in acked:
            record = store.tx(tx_hash)
            assert record is not None and record.ok and record.height == block, tx_hash
        headers = store.headers(0, height)
    finally:
        store.close()
    node = ChainNode.open(data_dir, genesis)  # checks the state root and the ledger invariant
    try:
        state = node.state
        epochs = [h.height for h in headers if h.epoch_paid is not None]
        assert len(epochs) == state.epoch_index and len(set(epochs)) == len(epochs)
        assert all(b - a >= TEMPO for a, b in itertools.pairwise(epochs))
        genesis_units = sum(units for _, units in genesis.accounts)
        # Block by block: issuance grows by the block reward and shrinks by what was recycled, nothing else.
        assert headers[0].issuance == genesis_units
        for prev, cur in itertools.pairwise(headers):
            assert cur.issuance == prev.issuance + cur.minted - (cur.recycled - prev.recycled), cur.height
        assert state.ledger.issuance == genesis_units + sum(h.minted for h in headers) - state.ledger.recycled
        # Every acknowledged transfer left its sender, with its fee.
        sent = 4 * 10_000 * TOKEN - sum(state.ledger.balance(k.ss58_address) for k in keys.colds[:4])
        assert sent >= (AMOUNT + state.hyper.tx_fee(0)) * len(acked)
    finally:
        node.close()
