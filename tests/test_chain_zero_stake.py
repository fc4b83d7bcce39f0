"""Zero stake means no permit, this very epoch: through ChainNode with a real SQLite store (no gRPC)."""

from __future__ import annotations

from pathlib import Path

import pytest

from subnet.chain import calls
from subnet.keys import Keypair
from tests.test_chain_runtime import FAST, TOKEN, Net


@pytest.fixture
def net(tmp_path: Path) -> Net:
    n = Net(tmp_path / "chain", FAST)
    yield n
    n.node.close()


def test_a_validator_that_removes_all_its_stake_counts_for_nothing_at_the_next_epoch(net: Net) -> None:
    validators = [Keypair.generate() for _ in range(2)]
    miners = [Keypair.generate() for _ in range(2)]
    for cold, hot in zip(net.colds, validators + miners, strict=True):
        net.ok(cold, net.register_call(cold, hot))
    net.ok(net.colds[0], calls.AddStake(validators[0].ss58_address, 300 * TOKEN))
    net.ok(net.colds[1], calls.AddStake(validators[1].ss58_address, 100 * TOKEN))
    for i, miner in enumerate(miners):
        net.ok(miner, calls.Serve(f"127.0.0.1:{9000 + i}", "tiny", "ab" * 32))
    net.until_epoch()  # permits are computed at the epoch
    v0, v1, m0, m1 = (net.node.state.uid_of(k.ss58_address) for k in validators + miners)
    # Both validators weight the miners alike, so both agree with consensus and build bonds.
    for v in validators:
        net.ok(v, calls.SetWeights((m0, m1), (65535, 30000)))
    net.until_epoch()
    net.until_epoch()
    state = net.node.state
    for v in (v0, v1):
        assert state.neurons[v].validator_permit and state.neurons[v].trust_u16 > 0 and state.bonds.get(v)

    # Validator 1 takes out every unit staked on it (its own stake plus the dividends compounded into it).
    key = (net.colds[1].ss58_address, validators[1].ss58_address)
    net.ok(net.colds[1], calls.RemoveStake(validators[1].ss58_address, state.ledger.stakes[key]))
    assert net.node.state.stake_by_hotkey().get(validators[1].ss58_address, 0) == 0
    # Its row still holds last epoch's permit, its weights and its bonds until the epoch runs.
    assert net.node.state.neurons[v1].validator_permit and net.node.state.bonds.get(v1)
    net.until_epoch()

    state = net.node.state
    gone = state.neurons[v1]
    assert gone.trust_u16 == 0
    assert gone.dividends_u16 == 0
    assert v1 not in state.bonds
    assert not gone.validator_permit
    assert gone.emission == 0
    # The staked validator keeps its permit, trust and bonds, and now earns all the validators' dividends.
    kept = state.neurons[v0]
    assert kept.validator_permit and kept.trust_u16 > 0 and state.bonds.get(v0)
    assert kept.dividends_u16 >= 65534
    state.ledger.check_invariant()
