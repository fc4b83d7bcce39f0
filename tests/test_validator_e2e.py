"""The validator against real miner processes that misbehave, on a real chain.

Miners (all tiny real models, each its own process): honest, garbage (random words), slow (past the deadline),
crashing mid-answer, a copycat relaying the honest miner, and a liar that commits to the validator's model but
serves another. After a few tempos the honest miner leads on chain, the bad ones earn ~nothing, the liar and the
copycat are caught lying (the copycat's sampled answers were sampled under the honest miner's key), the honest
miner it relays never is, and no step overran.
Then the validator is killed and restarted and resumes its persisted scores.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from subnet.chain.client import ChainClient
from subnet.chain.params import Hyperparameters
from subnet.metagraph import Metagraph
from subnet.wallet import Wallet
from tests.chain_fixtures import TOKEN, DevKeys, start_chain
from tests.proc import Proc, command

ROOT = Path(__file__).resolve().parent.parent
BEHAVIOURS = ("honest", "garbage", "slow", "crash", "copycat", "liar")
HYPER = Hyperparameters(tempo=10, weights_rate_limit=2, immunity_period=10_000, activity_cutoff=10_000)


def miner_argv(name: str, behaviour: str, chain: str, wallets: Path, extra: list[str]) -> list[str]:
    flags = ["--wallet.name", name, "--wallet.path", str(wallets), "--chain.endpoint", chain, "--axon.port", "0",
             "--model", "tiny", "--max-new-tokens", "96", *extra]  # what open challenges ask: a shorter answer is cut
    if behaviour == "honest":
        return [command("subnet-miner"), *flags]
    return [sys.executable, "-m", "tests.misbehaving_miner", behaviour, *flags]


@pytest.mark.slow
async def test_validator_ranks_misbehaving_miners(tmp_path: Path) -> None:
    keys = DevKeys()
    chain = start_chain(tmp_path / "chain", keys.genesis(HYPER), block_time_s=0.3)
    wallets = tmp_path / "wallets"
    hot = {name: Wallet(name=name, hotkey="default", root=wallets).create_hotkey()[0]
           for name in ("validator", *BEHAVIOURS)}
    procs: dict[str, Proc] = {}
    try:
        async with ChainClient(chain.endpoint) as client:
            await asyncio.gather(*(client.register(keys.colds[i], hot[n]) for i, n in enumerate(hot)))
            await client.add_stake(keys.colds[0], hot["validator"].ss58_address, 1000 * TOKEN)
            procs["honest"] = Proc(miner_argv("honest", "honest", chain.endpoint, wallets,
                                              ["--allowlist", hot["copycat"].ss58_address]),
                                   log_path=tmp_path / "honest.log")
            honest_endpoint = (await asyncio.to_thread(procs["honest"].wait_ready, 120)).split()[2]
            behaviours = {"garbage": "garbage", "slow": "slow:6", "crash": "crash", "liar": "liar:tiny-1",
                          "copycat": f"copycat:{hot['honest'].ss58_address}@{honest_endpoint}"}
            for name, behaviour in behaviours.items():
                procs[name] = Proc(miner_argv(name, behaviour, chain.endpoint, wallets, []), cwd=ROOT,
                                   log_path=tmp_path / f"{name}.log")
            for name in behaviours:
                await asyncio.to_thread(procs[name].wait_ready, 120)
            validator_argv = [
                command("subnet-validator"), "--wallet.name", "validator", "--wallet.path", str(wallets),
                "--chain.endpoint", chain.endpoint, "--state-dir", str(tmp_path / "vstate"), "--reference-model",
                "tiny", "--timeout-s", "3", "--step-interval-s", "2", "--n-exact", "1", "--n-open", "1",
                "--verify-fraction", "1", "--probes-per-step", "10", "--seed", "7"]
            procs["validator"] = Proc(validator_argv, log_path=tmp_path / "validator.log")
            await asyncio.to_thread(procs["validator"].wait_ready, 120)

            uid = {n: (await Metagraph.sync(client)).uid_of(hot[n].ss58_address) for n in BEHAVIOURS}
            graph = await _wait_for_ranking(client, uid, timeout_s=150)
            incentive = {n: float(graph.I[uid[n]]) for n in BEHAVIOURS}
            assert incentive["honest"] == max(incentive.values()) and incentive["honest"] > 0.2, incentive
            for bad in ("garbage", "slow", "crash", "liar", "copycat"):
                assert incentive[bad] < 0.02, (bad, incentive)
            validator_uid = graph.uid_of(hot["validator"].ss58_address)
            weights = (await Metagraph.sync(client, include_matrices=True)).W[validator_uid]
            assert weights[uid["honest"]] == weights.max() > 0
            log = (tmp_path / "validator.log").read_text()
            assert f"uid {uid['liar']} caught lying" in log and f"uid {uid['copycat']} caught lying" in log
            assert f"uid {uid['honest']} caught lying" not in log  # relayed, never blamed
            assert "over its budget" not in log and "step failed" not in log

            # Restart: kill -9, start again on the same state dir, the scores come back.
            state_file = tmp_path / "vstate" / "scores.json"
            before = json.loads(state_file.read_text())
            procs["validator"].kill()
            procs["validator"] = Proc(validator_argv, log_path=tmp_path / "validator.log")
            await asyncio.to_thread(procs["validator"].wait_ready, 120)
            after = await _next_saved_step(state_file, before)
            honest_before = _score(before, uid["honest"])
            assert after["body"]["step"] > before["body"]["step"]
            assert _score(after, uid["honest"]) >= 0.7 * honest_before > 0
    finally:
        for proc in procs.values():
            proc.stop()
        chain.stop()


def _score(doc: dict, uid: int) -> float:
    for entry in doc["body"]["miners"]:
        if entry["uid"] == uid:
            return entry["score"]
    return 0.0


async def _wait_for_ranking(client: ChainClient, uid: dict[str, int], timeout_s: float) -> Metagraph:
    """Wait until the honest miner has earned incentive for two epochs in a row."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    seen_epochs = 0
    last_epoch = -1
    while asyncio.get_running_loop().time() < deadline:
        status = await client.status()
        graph = await Metagraph.sync(client)
        if status.epoch_index != last_epoch:
            last_epoch = status.epoch_index
            seen_epochs = seen_epochs + 1 if graph.I[uid["honest"]] > 0 else 0
            if seen_epochs >= 2:
                return graph
        await asyncio.sleep(0.3)
    raise AssertionError(f"the honest miner did not earn incentive in time: {graph.to_json()}")


async def _next_saved_step(path: Path, before: dict) -> dict:
    for _ in range(200):
        doc = json.loads(path.read_text())
        if doc["body"]["step"] > before["body"]["step"]:
            return doc
        await asyncio.sleep(0.2)
    raise AssertionError("the restarted validator saved no new step")
