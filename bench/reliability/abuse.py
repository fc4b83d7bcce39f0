"""Scenario 5, abuse: a bounded flood of bad calls against a miner while validators use it.

One chain, one tiny-model miner, a real validator process querying it, and the benchmark's own "good client"
(a registered validator hotkey with stake and permit) sending signed Generate calls one after another. The good
client's latencies are measured twice: in a quiet run, then while ``flood`` (its own process) sends unsigned,
forged, tampered, replayed and unregistered calls. Figures: per kind, calls sent and refused with the right
status (goal: all); p99 latency of the good calls during the flood / in the quiet run (goal <= 2); the miner's
peak resident memory during the flood minus before it (goal: <= 64 MiB, bounded); and that the validator kept
being answered by the miner during the flood (goal: every step during the flood rewarded it).

Then the chain is flooded as long (``chainflood``, a process of its own, with the funded coldkey of an
unregistered "spammer"), while the validator keeps working: garbage, forged and malformed transactions, unfunded senders and overdrafts. Figures:
per kind, transactions sent and answered as expected (goal: all); blocks produced during the flood against the
block time (goal: >= 90%); the database's content growth during the flood (goal: < 1 MB); and that the validator's
weights still landed on chain during the flood (goal: its last_update moved).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from bench.reliability.chainflood import as_expected, logical_db_bytes
from bench.reliability.market import step_lines
from bench.reliability.net import ROOT, Network
from bench.reliability.report import Report
from bench.reliability.stats import percentile
from subnet.chain.params import Hyperparameters
from subnet.chain.store import DB_NAME
from subnet.client import MinerClient
from subnet.metagraph import Metagraph
from subnet.proto import subnet_pb2 as pb

NAMES = ["miner", "validator", "good"]
SPAMMER = "spammer"  # a funded coldkey of the genesis, never registered


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def good_calls(
    client: MinerClient, n: int, gap_s: float, until: asyncio.Future | None = None, min_s: float = 0.0
) -> list[float]:
    """Latencies (s) of ``n`` signed Generate calls, one at a time (and more until ``until`` is done and ``min_s``
    seconds have passed); a failed call counts as 10 s."""
    out: list[float] = []
    i = 0
    end = time.perf_counter() + min_s
    while i < n or (until is not None and not until.done()) or time.perf_counter() < end:
        i += 1
        request = pb.GenerateRequest(messages=[pb.ChatMessage(role="user", content=f"Say something about {i}.")],
                                     max_new_tokens=8, temperature=0.0)
        started = time.perf_counter()
        try:
            await client.generate(request, timeout_s=10)
            out.append(time.perf_counter() - started)
        except Exception:
            out.append(10.0)
        await asyncio.sleep(gap_s)
    return out


async def sample_rss(pid: int, stop: asyncio.Event, out: list[float]) -> None:
    while not stop.is_set():
        out.append(rss_mib(pid))
        await asyncio.sleep(0.25)


async def scenario_abuse(root: Path, report: Report, *, calls: int, flood_count: int, flood_s: float) -> None:
    hyper = Hyperparameters(tempo=10, weights_rate_limit=2, immunity_period=100_000, activity_cutoff=100_000)
    net = Network(root, hyper, block_time_s=0.5, names=[*NAMES, SPAMMER])
    try:
        net.start_chain()
        await net.register(NAMES, {"validator": 500, "good": 500})
        # A short answer limit keeps the validator's share of the miner's work as in the earlier figures; its open
        # answers are then cut short, which a spot check would score 0, so this validator does no spot checks
        # (they have their own figures: bench/bench_verification.py).
        net.start_miner("miner", ["--model", "tiny", "--max-new-tokens", "32"])
        net.start_validator("validator", ["--reference-model", "tiny", "--timeout-s", "5", "--step-interval-s", "3",
                                          "--n-exact", "0", "--n-open", "1", "--open-temperature", "0",
                                          "--verify-fraction", "0", "--seed", "5"])
        await net.wait_ready(["miner", "validator"], 600)
        await net.wait_permits(["validator", "good"], 120)
        async with net.client() as chain:
            graph = await Metagraph.sync(chain)
        miner_uid = graph.uid_of(net.hot["miner"].ss58_address)
        endpoint, receiver = graph.axons[miner_uid].endpoint, net.hot["miner"].ss58_address
        pid = net.procs["miner"].pid
        async with MinerClient.connect(endpoint, keypair=net.hot["good"], receiver_ss58=receiver) as client:
            await good_calls(client, 5, 0.05)  # warm the channel and the model
            # As long as the flood lasts, so both p99s come from about as many calls (with ~100 calls a p99 is
            # one or two outliers, and a short quiet run made the ratio swing between 1.3 and 3 here).
            quiet = await good_calls(client, calls, 0.05, min_s=flood_s)
            rss_before = rss_mib(pid)
            seed_file = root / "good.seed"
            seed_file.write_text(net.hot["good"].seed.hex())
            log_offset = len(net.log("validator"))
            chain_flood = None
            flood = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.reliability.flood", endpoint, receiver, "--seed-file", str(seed_file),
                "--count", str(flood_count), "--max-seconds", str(flood_s), cwd=ROOT, stdout=asyncio.subprocess.PIPE)
            stop, samples = asyncio.Event(), []
            sampler = asyncio.create_task(sample_rss(pid, stop, samples))
            try:
                assert flood.stdout is not None
                await asyncio.wait_for(flood.stdout.readline(), 60)  # START: the flood is on
                finished = asyncio.ensure_future(flood.stdout.read())
                loud = await good_calls(client, calls, 0.05, until=finished)
                out = await asyncio.wait_for(finished, flood_s + 60)
                await flood.wait()
                # Then the chain's flood, on its own (both at once on 2 cores would measure CPU contention).
                spammer_seed = root / "spammer.seed"
                spammer_seed.write_text(net.cold[SPAMMER].seed.hex())
                async with net.client() as chain:
                    before = await chain_snapshot(net, chain)
                chain_flood = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bench.reliability.chainflood", net.endpoint, "--seed-file",
                    str(spammer_seed), "--max-seconds", str(flood_s), cwd=ROOT, stdout=asyncio.subprocess.PIPE)
                chain_out, _ = await asyncio.wait_for(chain_flood.communicate(), flood_s + 60)
                async with net.client() as chain:
                    after = await chain_snapshot(net, chain)
            finally:
                for proc in (flood, chain_flood):
                    if proc is not None and proc.returncode is None:
                        proc.kill()
                        await proc.wait()
                stop.set()
                await sampler
            result = json.loads(out.decode().strip().splitlines()[-1])
            chain_result = json.loads(chain_out.decode().strip().splitlines()[-1])
            during = step_lines(net.log("validator")[log_offset:])
    finally:
        net.stop_all()
    total = sum(k["sent"] for k in result["kinds"].values())
    refused = sum(k["refused_as_expected"] for k in result["kinds"].values())
    report.figure("bad calls sent / seconds", f"{total} / {result['elapsed_s']:.1f}")
    for kind, k in result["kinds"].items():
        report.figure(f"  {kind}", f"{k['refused_as_expected']}/{k['sent']} refused as expected"
                                   + (f"; unexpected: {k['unexpected']}" if k["unexpected"] else ""))
    report.goal("bad calls refused with the right status", f"{refused}/{total}", "all", refused == total > 0)
    p99_quiet, p99_loud = percentile(quiet, 99), percentile(loud, 99)
    report.figure("good calls quiet / during the flood", f"{len(quiet)} / {len(loud)}")
    report.figure("good call p50 quiet / flood (ms)", f"{percentile(quiet, 50) * 1e3:.1f} / "
                                                     f"{percentile(loud, 50) * 1e3:.1f}")
    report.figure("good call p99 quiet / flood (ms)", f"{p99_quiet * 1e3:.1f} / {p99_loud * 1e3:.1f}")
    report.goal("good call p99 flood / quiet", p99_loud / p99_quiet, "<= 2.0", p99_loud <= 2.0 * p99_quiet)
    growth = max(samples, default=rss_before) - rss_before
    report.figure("miner RSS before / peak during the flood (MiB)", f"{rss_before:.0f} / {max(samples):.0f}")
    report.goal("miner RSS growth during the flood (MiB)", growth, "<= 64", growth <= 64)
    answered = [rewards.get(miner_uid, 0.0) > 0 for _, _, _, rewards in during]
    report.goal("validator steps during the flood in which the miner answered", f"{sum(answered)}/{len(answered)}",
                "all (>= 1)", len(answered) >= 1 and all(answered))
    report_chain(report, chain_result, before, after, block_time_s=net.block_time_s)


async def chain_snapshot(net: Network, chain) -> dict:
    """What the chain part of the scenario compares before and after the flood."""
    graph = await Metagraph.sync(chain)
    status = await chain.status()
    return {"block": status.block, "at": time.perf_counter(), "db_bytes": logical_db_bytes(net.chain_dir / DB_NAME),
            "validator_update": int(graph.last_update[graph.uid_of(net.hot["validator"].ss58_address)])}


def report_chain(report: Report, result: dict, before: dict, after: dict, *, block_time_s: float) -> None:
    sent = sum(n for *_, n in result["counts"])
    right = sum(n for kind, status, reason, n in result["counts"] if as_expected(kind, status, reason))
    report.figure("chain: bad transactions sent / seconds", f"{sent} / {result['elapsed_s']:.1f}")
    for kind, status, reason, n in sorted(result["counts"]):
        report.figure(f"  {kind}", f"{n} {status} [{reason}]")
    report.goal("chain: bad transactions answered as expected", f"{right}/{sent}", "all", right == sent > 0)
    blocks, expected = after["block"] - before["block"], (after["at"] - before["at"]) / block_time_s
    report.goal("chain: blocks produced during the flood / expected", f"{blocks} / {expected:.0f}", ">= 90%",
                blocks >= 0.9 * expected)
    growth = (after["db_bytes"] - before["db_bytes"]) / 1e6
    report.goal("chain: database content growth during the flood (MB)", growth, "< 1", growth < 1)
    report.figure("chain: the spammer's fees for its in-block refusals (units)", result["fees_units"])
    report.goal("chain: the validator's weights landed during the flood (last_update)",
                f"{before['validator_update']} -> {after['validator_update']}", "moved",
                after["validator_update"] > before["validator_update"])
