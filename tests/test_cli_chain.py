"""The ``subnet`` CLI against a real chain process: register, stake, transfer, metagraph, status."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from subnet.chain.genesis import Genesis
from subnet.chain.params import Hyperparameters
from subnet.keys import Keypair
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
