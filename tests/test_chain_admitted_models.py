"""The owner's list of admitted models: chain state changed only by the owner's transaction, checked field by
field, kept across restarts and in the state root, set in the genesis, shown in the metagraph and by the CLI."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from subnet.chain import calls, queries
from subnet.chain.genesis import GenesisError, parse_genesis
from subnet.chain.node import ChainNode
from subnet.chain.params import Hyperparameters
from subnet.metagraph import Metagraph
from subnet.wallet import Wallet
from tests.chain_fixtures import TOKEN, start_chain
from tests.test_chain_runtime import Net
from tests.test_cli_chain import run_cli

HYPER = Hyperparameters(tempo=5, weights_rate_limit=2, immunity_period=4, max_uids=8, activity_cutoff=50)
FULL = calls.AdmittedModel("ab" * 32, "SmolLM2-135M-Instruct")
HALF = calls.AdmittedModel("cd" * 32, "SmolLM2-135M-Instruct (first 15 of 30 layers)", "float32")


@pytest.fixture
def net(tmp_path: Path) -> Net:
    n = Net(tmp_path / "chain", HYPER)
    yield n
    n.node.close()


def test_only_the_owner_sets_the_list_and_the_metagraph_shows_it(net: Net) -> None:
    assert net.refused(net.colds[0], calls.SetAdmittedModels((FULL,))) == "not_owner"
    assert net.node.state.admitted_models == ()
    net.ok(net.owner_cold, calls.SetAdmittedModels((FULL, HALF)))
    graph = Metagraph.from_proto(queries.metagraph(net.node.state, include_matrices=False))
    assert graph.admitted_models == (FULL, HALF)
    assert graph.admitted(HALF.model_hash) == HALF and graph.admitted("ef" * 32) is None
    net.ok(net.owner_cold, calls.SetAdmittedModels((HALF,)))  # replaces the whole list
    assert net.node.state.admitted_models == (HALF,)


@pytest.mark.parametrize("models", [
    (dataclasses.replace(FULL, model_hash="AB" * 32),),  # upper-case hex
    (dataclasses.replace(FULL, model_hash="ab" * 31),),
    (dataclasses.replace(FULL, name=""),),
    (dataclasses.replace(FULL, name="x\n"),),
    (dataclasses.replace(FULL, dtype="int4"),),
    (FULL, dataclasses.replace(HALF, model_hash=FULL.model_hash)),  # one hash twice
    tuple(calls.AdmittedModel(f"{i:064x}", f"m{i}") for i in range(17)),  # over the cap of 16
])
def test_malformed_lists_are_refused_at_admission(net: Net, models) -> None:
    assert net.refused(net.owner_cold, calls.SetAdmittedModels(models)) == "invalid_model"
    assert net.node.state.admitted_models == ()


def test_the_list_survives_a_restart_and_an_emptied_list_leaves_no_record(net: Net) -> None:
    net.ok(net.owner_cold, calls.SetAdmittedModels((FULL, HALF)))
    net.node.close()
    net.node = ChainNode.open(net.data_dir, net.genesis)  # checks the stored state against the header's root
    assert net.node.state.admitted_models == (FULL, HALF)
    net.ok(net.owner_cold, calls.SetAdmittedModels(()))
    assert "admitted" not in net.node.state.records()
    net.node.close()
    net.node = ChainNode.open(net.data_dir, net.genesis)
    assert net.node.state.admitted_models == ()


def test_the_genesis_may_admit_models_and_refuses_malformed_entries(tmp_path: Path) -> None:
    base = Net(tmp_path / "base", HYPER)
    base.node.close()
    genesis = dataclasses.replace(base.genesis, admitted_models=(FULL, HALF))
    parsed = parse_genesis(genesis.to_toml())
    assert parsed.admitted_models == (FULL, HALF) and parsed.hash == genesis.hash != base.genesis.hash
    node = ChainNode.open(tmp_path / "chain", parsed)
    try:
        assert node.state.admitted_models == (FULL, HALF)
    finally:
        node.close()
    bad = genesis.to_toml().replace(f'dtype = "{HALF.dtype}"', 'dtype = "int4"')
    with pytest.raises(GenesisError, match="admitted_models"):
        parse_genesis(bad)


def test_the_cli_sets_and_lists_the_admitted_models(tmp_path: Path) -> None:
    env = {**os.environ, "SUBNET_WALLET_PATH": str(tmp_path / "wallets"), "SUBNET_WALLET_PASSWORD": "pw",
           "SUBNET_KDF": "fast"}
    for name in ("owner", "mallory"):
        run_cli("wallet", "create", "--wallet.name", name, "--no-prompt", env=env)
    owner, mallory = (Wallet(name=n, hotkey="default", root=tmp_path / "wallets") for n in ("owner", "mallory"))
    base = Net(tmp_path / "base", HYPER)
    base.node.close()
    genesis = dataclasses.replace(base.genesis, owner_coldkey=owner.coldkey_ss58(), accounts=tuple(sorted(
        (k, 100 * TOKEN) for k in (owner.coldkey_ss58(), mallory.coldkey_ss58()))))
    proc = start_chain(tmp_path / "chain", genesis, block_time_s=0.2)
    env["SUBNET_CHAIN_ENDPOINT"] = proc.endpoint
    try:
        spec = f"{HALF.name}={HALF.model_hash}:{HALF.dtype}"
        refused = run_cli("models", "set", spec, "--wallet.name", "mallory", env=env, check=False)
        assert refused.returncode == 1 and "not_owner" in refused.stderr
        run_cli("models", "set", f"{FULL.name}={FULL.model_hash}", spec, "--wallet.name", "owner", env=env)
        listed = json.loads(run_cli("models", "list", "--json", env=env).stdout)
        assert listed == [dataclasses.asdict(FULL), dataclasses.asdict(HALF)]
        assert "dtype float32" in run_cli("models", "list", env=env).stdout
        bad = run_cli("models", "set", "no-hash-here", "--wallet.name", "owner", env=env, check=False)
        assert bad.returncode == 1 and "NAME=HASH" in bad.stderr
    finally:
        assert proc.stop() == 0
