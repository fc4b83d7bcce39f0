"""The ``subnet`` CLI against a real chain process: register, stake, transfer, metagraph, status."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

from subnet.chain.client import ChainClient
from subnet.chain.genesis import Genesis
from subnet.chain.params import Hyperparameters
from subnet.keys import Keypair
from subnet.metagraph import Metagraph
from subnet.wallet import Wallet
from tests.chain_fixtures import TOKEN, start_chain
from tests.proc import command


def run_cli(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([command("subnet"), *args], capture_output=True, text=True, env=env, timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_cli_life_cycle(tmp_path: Path) -> None:
    env = {**os.environ, "SUBNET_WALLET_PATH": str(tmp_path / "wallets"), "SUBNET_WALLET_PASSWORD": "pw",
           "SUBNET_KDF": "fast"}
    run_cli("wallet", "create", "--wallet.name", "alice", "--wallet.hotkey", "h1", "--no-prompt", env=env)
    alice = Wallet(name="alice", hotkey="h1", root=tmp_path / "wallets")
    owner_cold, owner_hot = Keypair.generate(), Keypair.generate()
    genesis = Genesis(owner_cold.ss58_address, owner_hot.ss58_address, Hyperparameters(tempo=5),
                      ((alice.coldkey_ss58(), 100 * TOKEN),))
    proc = start_chain(tmp_path / "chain", genesis, block_time_s=0.2)
    env["SUBNET_CHAIN_ENDPOINT"] = proc.endpoint
    who = ["--wallet.name", "alice", "--wallet.hotkey", "h1"]
    try:
        run_cli("register", *who, env=env)
        run_cli("stake", "add", "--amount", "12.5", *who, env=env)
        graph = json.loads(run_cli("metagraph", "--json", env=env).stdout)
        mine = [n for n in graph["neurons"] if n["hotkey"] == alice.hotkey_info().ss58_address]
        assert len(mine) == 1 and mine[0]["uid"] == 1 and mine[0]["stake"] >= 12_500_000_000
        assert mine[0]["coldkey"] == alice.coldkey_ss58()
        status = json.loads(run_cli("chain", "status", "--json", env=env).stdout)
        assert {"block", "issuance", "pending", "recycled", "header_hash"} <= set(status)
        assert 0 < status["recycled"] <= TOKEN // 10  # the registration burned the (decayed) initial price
        balance = json.loads(run_cli("balance", "--json", *who, env=env).stdout)
        assert balance["free"] == 100 * TOKEN - status["recycled"] - 12_500_000_000
        # Unstake part of it: back to the free balance, exactly (epoch payouts go to stake, never to free).
        removed = json.loads(run_cli("stake", "remove", "--amount", "2.5", "--json", *who, env=env).stdout)
        assert removed["ok"] and removed["block"] > 0
        after = json.loads(run_cli("balance", "--json", *who, env=env).stdout)
        # Every transaction pays a fee from the free balance; fees are recycled, so the recycled total shows it.
        fee = json.loads(run_cli("chain", "status", "--json", env=env).stdout)["recycled"] - status["recycled"]
        assert 0 < fee < TOKEN // 1000
        assert after["free"] == balance["free"] + 2_500_000_000 - fee
        [stake] = after["stakes"]  # what is left, plus the epochs' payouts (the only validator earns them all)
        assert stake["hotkey"] == alice.hotkey_info().ss58_address and stake["amount"] >= 10 * TOKEN
        # A transfer, with the endpoint given on the command line instead of the environment.
        no_env = {k: v for k, v in env.items() if k != "SUBNET_CHAIN_ENDPOINT"}
        sent = run_cli("transfer", "--dest", owner_cold.ss58_address, "--amount", "3", "--chain.endpoint",
                       proc.endpoint, *who, env=no_env).stdout
        assert "sent 3 to " + owner_cold.ss58_address in sent
        received = json.loads(run_cli("balance", "--json", "--address", owner_cold.ss58_address, env=env).stdout)
        assert received["free"] == 3 * TOKEN
        fees = json.loads(run_cli("chain", "status", "--json", env=env).stdout)["recycled"] - status["recycled"]
        assert fees > fee  # the transfer's own fee
        assert json.loads(run_cli("balance", "--json", *who, env=env).stdout)["free"] == (
            after["free"] - 3 * TOKEN - (fees - fee))
        # Refusals are one clear line and exit code 1, never a traceback.
        refused = run_cli("transfer", "--dest", owner_cold.ss58_address, "--amount", "1000000", *who, env=env,
                          check=False)
        assert refused.returncode == 1 and "insufficient_balance" in refused.stderr
        assert "Traceback" not in refused.stderr
        bad_amount = run_cli("stake", "add", "--amount", "0.0000000001", *who, env=env, check=False)
        assert bad_amount.returncode == 1 and "9 decimals" in bad_amount.stderr
        table = run_cli("metagraph", env=env).stdout
        # The only validator earns every epoch's payout (nobody set weights: paid by stake), shown in tokens.
        assert "incentive" in table and alice.hotkey_info().ss58_address[:10] in table and "validator" in table
    finally:
        assert proc.stop() == 0
    down = run_cli("chain", "status", env={**env, "SUBNET_CHAIN_ENDPOINT": "127.0.0.1:1"}, check=False)
    assert down.returncode == 1 and "unreachable" in down.stderr


def test_cli_weights_commit_reveal(tmp_path: Path) -> None:
    """Commit-reveal by hand: ``weights commit --json`` prints one JSON document carrying the salt; after the
    reveal period ``weights reveal`` with that salt sets the row. The endpoint is passed on the command line."""
    env = {k: v for k, v in os.environ.items() if k != "SUBNET_CHAIN_ENDPOINT"}
    env.update(SUBNET_WALLET_PATH=str(tmp_path / "wallets"), SUBNET_WALLET_PASSWORD="pw", SUBNET_KDF="fast")
    run_cli("wallet", "create", "--wallet.name", "owner", "--wallet.hotkey", "h", "--no-prompt", env=env)
    owner = Wallet(name="owner", hotkey="h", root=tmp_path / "wallets")
    hotkey = owner.hotkey_info().ss58_address
    # The wallet owns the subnet: its hotkey is uid 0 from genesis and may set weights without a permit.
    hyper = Hyperparameters(tempo=10, commit_reveal=True, weights_rate_limit=0)
    genesis = Genesis(owner.coldkey_ss58(), hotkey, hyper, ((owner.coldkey_ss58(), 10 * TOKEN),))
    proc = start_chain(tmp_path / "chain", genesis, block_time_s=0.2)
    at = ["--chain.endpoint", proc.endpoint]
    who = ["--wallet.name", "owner", "--wallet.hotkey", "h", *at]
    row = ["--uids", "0", "--weights", "1"]
    try:
        commit = run_cli("weights", "commit", *row, "--json", *who, env=env)
        committed = json.loads(commit.stdout)  # nothing but the JSON document on stdout
        assert committed["ok"] and len(bytes.fromhex(committed["salt"])) == 16
        assert f"salt (keep it for the reveal): {committed['salt']}" in commit.stderr
        human = run_cli("weights", "commit", *row, "--salt", "00ff", *who, env=env).stdout
        assert "salt (keep it for the reveal): 00ff" in human and "committed: included in block" in human
        commit_epoch = asyncio.run(_epoch_at(proc.endpoint, committed["block"]))
        assert asyncio.run(_weights(proc.endpoint)) is None  # a commit sets no weights
        asyncio.run(_wait_for_epoch(proc.endpoint, commit_epoch + hyper.reveal_period_epochs))
        revealed = json.loads(run_cli("weights", "reveal", *row, "--salt", committed["salt"], "--json", *who,
                                      env=env).stdout)
        assert revealed["ok"] and revealed["block"] > committed["block"]
        W = asyncio.run(_weights(proc.endpoint))
        assert W is not None and W[0, 0] == 1.0
        wrong = run_cli("weights", "reveal", *row, "--salt", "abcd", *who, env=env, check=False)
        assert wrong.returncode == 1 and "no_matching_commit" in wrong.stderr and "Traceback" not in wrong.stderr
    finally:
        assert proc.stop() == 0


async def _epoch_at(endpoint: str, block: int) -> int:
    """The epoch index a transaction in ``block`` saw (an epoch runs at the start of its block)."""
    async with ChainClient(endpoint) as client:
        return sum(1 for h in await client.headers(1, block) if h.epoch)


async def _wait_for_epoch(endpoint: str, index: int) -> None:
    async with ChainClient(endpoint) as client, asyncio.timeout(60):
        while (await client.status()).epoch_index < index:
            await asyncio.sleep(0.05)


async def _weights(endpoint: str):
    async with ChainClient(endpoint) as client:
        return (await Metagraph.sync(client, include_matrices=True)).W
