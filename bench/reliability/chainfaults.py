"""Scenario 4, chain faults: kill -9 the chain node N times at random moments during the market run.

While the market runs (miners, validators, the epoch sampler) two senders submit transfers and record every
acknowledged one. After each restart the node must have opened its store (which checks the state root and the
ledger invariant before it serves) and the header chain, read over the wire, must satisfy: each block's
issuance = the previous one + its block reward (``consensus.emission.block_reward``) - what it recycled. After
the kills: every validator process is still alive and reconnected by itself (each logs new steps and sets weights
again), every miner not killed on purpose by an earlier scenario is alive and earned a reward > 0 in a validator
step logged after the last restart (it reconnected by itself), then, with the node stopped, every acknowledged transfer
is in the block it was acknowledged in, the header chain verifies, and total issuance = genesis + the block
rewards of the header chain - recycling.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time

from bench.reliability.market import Market, step_lines
from bench.reliability.report import Report
from consensus.emission import block_reward
from subnet.chain.client import ChainClient, ChainUnavailable, TransactionRefused
from subnet.chain.node import ChainNode, verify_header_chain
from subnet.chain.params import Hyperparameters
from subnet.chain.store import ChainStore
from subnet.keys import Keypair
from subnet.metagraph import Metagraph

TRANSFER_UNITS = Hyperparameters().existential_deposit

async def _sender(client: ChainClient, key: Keypair, acked: list[tuple[str, int]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            # Each transfer creates an account: it must carry at least the existential deposit (smaller ones are
            # refused, so nothing would be acknowledged).
            result = await client.transfer(key, Keypair.generate().ss58_address, TRANSFER_UNITS)
            acked.append((result.tx_hash, result.block))
        except (ChainUnavailable, TransactionRefused, OSError):
            await asyncio.sleep(0.1)
        except Exception as exc:  # a deadline while the node was down: never acknowledged
            if "DEADLINE" not in repr(exc) and "UNAVAILABLE" not in repr(exc):
                raise
        await asyncio.sleep(0.05)


def header_errors(headers: list, genesis_units: int) -> list[str]:
    """Every block whose issuance is not the previous one + its block reward - what it recycled."""
    errors = [] if headers[0].issuance == genesis_units else ["genesis issuance"]
    for prev, cur in itertools.pairwise(headers):
        if cur.minted != block_reward(prev.issuance):
            errors.append(f"block {cur.height} minted {cur.minted}")
        if cur.issuance != prev.issuance + cur.minted - (cur.recycled - prev.recycled):
            errors.append(f"block {cur.height} issuance")
    return errors


def best_rewards(market: Market, since: dict[str, int]) -> dict[str, float]:
    """The best reward each miner got in any validator step logged after the given log offsets."""
    lines = [rw for v in market.config.validators for _, _, _, rw in step_lines(market.net.log(v)[since[v]:])]
    return {m: max((rw.get(market.uid[m], 0.0) for rw in lines), default=0.0) for m in market.config.miners}


async def scenario_chain_faults(market: Market, report: Report, *, kills: int, seed: int) -> None:
    net, cfg = market.net, market.config
    rng = random.Random(seed)
    genesis_units = sum(units for _, units in net.genesis.accounts)
    senders = [net.cold[v] for v in cfg.validators]  # funded coldkeys (their stake is not touched)
    acked: list[tuple[str, int]] = []
    stop = asyncio.Event()
    downtimes, bad_headers, heights = [], [], []
    sampler_errors = market.sampler_errors
    async with net.client(timeout_s=5, reconnect_budget_s=60) as client:
        tasks = [asyncio.create_task(_sender(client, k, acked, stop)) for k in senders]
        try:
            for _ in range(kills):
                await asyncio.sleep(rng.uniform(1.0, 6.0))
                net.kill_chain()
                started = time.monotonic()
                await asyncio.to_thread(net.restart_chain)  # READY: the store opened and its invariant held
                downtimes.append(time.monotonic() - started)
                tip = (await client.status()).block
                heights.append(tip)
                bad_headers += header_errors(await client.headers(0, tip), genesis_units)
            restarted_at = heights[-1] if heights else 0
            log_offsets = {v: len(net.log(v)) for v in cfg.validators}
            await market.wait_epochs(2)
            await asyncio.sleep(cfg.step_interval_s + 1)
            # Then up to 2 more epochs until every miner still meant to run has earned a reward again.
            deadline = time.monotonic() + 2 * cfg.tempo * cfg.block_time_s
            while time.monotonic() < deadline and not all(
                    best_rewards(market, log_offsets)[m] > 0 for m in cfg.miners if m not in market.killed):
                await asyncio.sleep(cfg.step_interval_s)
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        graph = await Metagraph.sync(client)
    report.figure("kills", kills)
    report.figure("restart to READY (s): mean / max", f"{sum(downtimes) / len(downtimes):.2f} / {max(downtimes):.2f}")
    report.goal("ledger invariant and issuance arithmetic after every restart (bad blocks)", len(bad_headers), "0",
                not bad_headers and heights == sorted(heights))
    died = [n for n, p in net.procs.items() if not p.alive()]
    stepping = {v: step_lines(net.log(v)[log_offsets[v]:]) for v in cfg.validators}
    weighted = [v for v in cfg.validators if int(graph.last_update[market.uid[v]]) > restarted_at]
    answered = [v for v, lines in stepping.items() if any(r > 0 for _, _, _, rw in lines for r in rw.values())]
    best = best_rewards(market, log_offsets)
    meant_to_run = [m for m in cfg.miners if m not in market.killed]
    rewarded = [m for m in meant_to_run if net.procs[m].alive() and best[m] > 0]
    report.figure("processes that died", f"{died or 'none'} (killed on purpose earlier: "
                                         f"{sorted(market.killed) or 'none'})")
    report.figure("epoch sampler errors during the scenario (failed while the node was down, retried)",
                  market.sampler_errors - sampler_errors)
    report.figure("best step reward per miner after the last restart", {m: best[m] for m in cfg.miners})
    report.goal("validators alive that stepped, were answered and set weights after the last restart",
                f"{len(answered)}/{len(weighted)} of {len(cfg.validators)}", "all",
                len(answered) == len(weighted) == len(cfg.validators)
                and all(net.procs[v].alive() for v in cfg.validators))
    report.goal("miners not killed on purpose alive and rewarded (> 0) after the last restart",
                f"{len(rewarded)}/{len(meant_to_run)}"
                + (f", missing {sorted(set(meant_to_run) - set(rewarded))}" if len(rewarded) < len(meant_to_run) else ""),
                "all", len(rewarded) == len(meant_to_run))
    net.chain.stop(10)
    report.figure("acknowledged transfers", len(acked))
    store = ChainStore(net.chain_dir)
    try:
        height = verify_header_chain(store)
        lost = [h for h, block in acked if (r := store.tx(h)) is None or not r.ok or r.height != block]
        headers = store.headers(0, height)
    finally:
        store.close()
    report.goal("acknowledged transactions lost", len(lost), "0", not lost and len(acked) > 0)
    node = ChainNode.open(net.chain_dir, net.genesis)  # checks the state root and the ledger invariant
    try:
        ledger = node.state.ledger
        expected = genesis_units + sum(h.minted for h in headers) - ledger.recycled
        epochs = [h.height for h in headers if h.epoch_paid is not None]
        report.figure("blocks / epochs in the header chain", f"{height} / {len(epochs)}")
        report.goal("issuance - (genesis + sum of block rewards - recycled)", ledger.issuance - expected, "0",
                    ledger.issuance == expected and len(set(epochs)) == len(epochs) == node.state.epoch_index
                    and not header_errors(headers, genesis_units))
    finally:
        node.close()
    net.start_chain()  # leave the network as it was (the caller stops everything)
