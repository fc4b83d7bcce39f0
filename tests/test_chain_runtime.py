"""The chain's state machine through ChainNode with a real SQLite store (no gRPC): registration, staking,
weights, epochs, payouts, pruning, commit-reveal, hyperparameters and restarts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from consensus.emission import UNITS_PER_TOKEN
from subnet.chain import calls
from subnet.chain.commit import commit_hash
from subnet.chain.genesis import Genesis, parse_genesis
from subnet.chain.node import ChainNode, SignedTx, TxOutcome, verify_header_chain
from subnet.chain.params import Hyperparameters
from subnet.chain.runtime import TxRejected
from subnet.chain.store import StoreError
from subnet.keys import Keypair

TOKEN = UNITS_PER_TOKEN


class Net:
    """A node plus named keys, driving blocks by hand."""

    def __init__(self, data_dir: Path, hyper: Hyperparameters, funded: int = 4) -> None:
        self.owner_cold, self.owner_hot = Keypair.generate(), Keypair.generate()
        self.colds = [Keypair.generate() for _ in range(funded)]
        accounts = tuple(sorted((k.ss58_address, 1000 * TOKEN) for k in [self.owner_cold, *self.colds]))
        self.genesis = Genesis(self.owner_cold.ss58_address, self.owner_hot.ss58_address, hyper, accounts)
        self.data_dir = data_dir
        self.node = ChainNode.open(data_dir, self.genesis)

    def send(self, signer: Keypair, call: calls.Call) -> TxOutcome:
        """Submit, produce the block, return the outcome (raises TxRejected if refused before queueing)."""
        tx = SignedTx(os.urandom(32).hex(), signer.ss58_address, b"", b"", call, self.node.state.block + 10)
        future = self.node.submit(tx)
        self.node.produce_block()
        return future.result(timeout=0)

    def ok(self, signer: Keypair, call: calls.Call) -> None:
        outcome = self.send(signer, call)
        assert outcome.ok, outcome

    def refused(self, signer: Keypair, call: calls.Call) -> str:
        outcome = self.send(signer, call)
        assert not outcome.ok and outcome.message
        return outcome.reason

    def blocks(self, count: int) -> None:
        for _ in range(count):
            self.node.produce_block()

    def until_epoch(self) -> None:
        start = self.node.state.epoch_index
        while self.node.state.epoch_index == start:
            self.node.produce_block()

    def restart(self) -> None:
        self.node.close()
        self.node = ChainNode.open(self.data_dir, self.genesis)


FAST = Hyperparameters(tempo=5, weights_rate_limit=2, immunity_period=4, max_uids=8, activity_cutoff=50,
                       burn_initial=TOKEN, burn_min=TOKEN // 10, burn_max=10 * TOKEN)


@pytest.fixture
def net(tmp_path: Path) -> Net:
    n = Net(tmp_path / "chain", FAST)
    yield n
    n.node.close()


def _setup_subnet(net: Net) -> tuple[list[Keypair], list[Keypair]]:
    """Two validators (stakes 300 and 100 tokens) and two miners, all registered; one epoch passed."""
    validators = [Keypair.generate() for _ in range(2)]
    miners = [Keypair.generate() for _ in range(2)]
    for cold, hot in zip(net.colds, validators + miners, strict=True):
        net.ok(cold, calls.Register(hot.ss58_address))
    net.ok(net.colds[0], calls.AddStake(validators[0].ss58_address, 300 * TOKEN))
    net.ok(net.colds[1], calls.AddStake(validators[1].ss58_address, 100 * TOKEN))
    for i, miner in enumerate(miners):
        net.ok(miner, calls.Serve(f"127.0.0.1:{9000 + i}", "tiny", "ab" * 32))
    net.until_epoch()  # permits are computed at the epoch
    return validators, miners


def test_registration_burns_and_raises_price(net: Net) -> None:
    ledger = net.node.state.ledger
    issuance_before, price = ledger.issuance, net.node.state.burn
    hot = Keypair.generate()
    net.ok(net.colds[0], calls.Register(hot.ss58_address))
    state = net.node.state
    assert state.neurons[1].hotkey == hot.ss58_address and state.neurons[1].coldkey == net.colds[0].ss58_address
    assert state.ledger.recycled > 0 and state.ledger.balance(net.colds[0].ss58_address) < 1000 * TOKEN
    # Issuance moved by the block reward minus the burn.
    assert state.ledger.issuance == issuance_before + TOKEN - state.ledger.recycled
    assert state.burn > price  # raised by 1.26x (after one block of decay)
    assert net.refused(net.colds[1], calls.Register(hot.ss58_address)) == "already_registered"


def test_refusals_have_reasons(net: Net) -> None:
    stranger = Keypair.generate()
    validators, miners = _setup_subnet(net)
    assert net.refused(stranger, calls.Transfer(net.colds[0].ss58_address, 1)) == "unknown_account"
    assert net.refused(net.colds[0], calls.Transfer(stranger.ss58_address, 10**6 * TOKEN)) == "insufficient_balance"
    assert net.refused(net.colds[0], calls.Transfer("not-an-address", 1)) == "invalid_address"
    assert net.refused(net.colds[0], calls.Transfer(stranger.ss58_address, -5)) == "invalid_amount"
    assert net.refused(net.colds[0], calls.RemoveStake(validators[0].ss58_address, 10**6 * TOKEN)) \
        == "insufficient_stake"
    assert net.refused(stranger, calls.Serve("127.0.0.1:1")) == "not_registered"
    assert net.refused(miners[0], calls.Serve("no-port")) == "invalid_endpoint"
    assert net.refused(miners[0], calls.SetWeights((1, 2), (1, 1))) == "no_validator_permit"
    assert net.refused(validators[0], calls.SetWeights((3, 3), (1, 1))) == "duplicate_uid"
    assert net.refused(validators[0], calls.SetWeights((3, 99), (1, 1))) == "invalid_uid"
    assert net.refused(validators[0], calls.SetWeights((3,), (70_000,))) == "out_of_range"
    assert net.refused(net.colds[0], calls.SetHyperparameter("tempo", 7)) == "not_owner"
    assert net.refused(net.owner_cold, calls.SetHyperparameter("no_such", 7)) == "unknown_hyperparameter"
    assert net.refused(net.owner_cold, calls.SetHyperparameter("tempo", -1)) == "invalid_hyperparameter"
    assert net.refused(validators[0], calls.CommitWeights(b"x" * 32)) == "commit_reveal_off"
    net.ok(validators[0], calls.SetWeights((3, 4), (1, 1)))
    assert net.refused(validators[0], calls.SetWeights((3, 4), (1, 1))) == "rate_limited"
    net.ok(net.owner_cold, calls.SetHyperparameter("weights_version_key", 5))
    net.blocks(2)
    assert net.refused(validators[0], calls.SetWeights((3, 4), (1, 1), version_key=4)) == "stale_version"
    net.ok(validators[0], calls.SetWeights((3, 4), (1, 1), version_key=5))
    # A refused transaction changed nothing: the books still balance and no stray state appeared.
    net.node.state.ledger.check_invariant()


def test_epochs_pay_miners_by_incentive_and_validators_by_dividends(net: Net) -> None:
    validators, miners = _setup_subnet(net)
    m0, m1 = (net.node.state.uid_of(m.ss58_address) for m in miners)
    for v in validators:
        net.ok(v, calls.SetWeights((m0, m1), (3, 1)))
    net.until_epoch()
    # Walk to the block before the next epoch, then check the epoch block's books to the unit.
    while net.node.state.block + 1 - net.node.state.last_epoch_block < FAST.tempo:
        net.node.produce_block()
    before = net.node.state
    net.node.produce_block()
    state = net.node.state
    pool = before.ledger.pending + TOKEN  # the epoch block mints its reward first
    owner_cut = pool * FAST.owner_cut_u16 // 65535
    half = (pool - owner_cut) // 2
    gained = {k: v - before.ledger.stakes.get(k, 0) for k, v in state.ledger.stakes.items()}
    miner_gain = sum(gained.get((n.coldkey, n.hotkey), 0) for n in state.neurons if n.hotkey in
                     {m.ss58_address for m in miners})
    assert half - 2 <= miner_gain <= half  # incentive pays the miners' half, floored per miner
    owner_key = (net.owner_cold.ss58_address, net.owner_hot.ss58_address)
    assert gained[owner_key] == owner_cut
    assert sum(gained.values()) + state.ledger.pending == pool  # paid + dust carried = pool, exactly
    assert state.ledger.pending < 10  # only rounding dust stays behind
    by_hotkey = {n.hotkey: n for n in state.neurons}
    miner0, miner1 = by_hotkey[miners[0].ss58_address], by_hotkey[miners[1].ss58_address]
    assert miner0.incentive_u16 > miner1.incentive_u16 > 0
    # Miners are paid in proportion to incentive (u16 storage floors, so allow one part in 10^4).
    assert miner0.emission / miner1.emission == pytest.approx(miner0.incentive_u16 / miner1.incentive_u16, rel=1e-4)
    v0, v1 = by_hotkey[validators[0].ss58_address], by_hotkey[validators[1].ss58_address]
    assert v0.dividends_u16 > v1.dividends_u16 > 0 and v0.validator_permit and v1.validator_permit
    # Both validators agree with consensus, so dividends follow stake 3:1.
    assert v0.emission / v1.emission == pytest.approx(3.0, rel=0.02)
    header = net.node.head
    assert header.epoch_paid is None or header.epoch_paid >= 0
    epoch_headers = [h for h in net.node.store.headers(0, header.height) if h.epoch_paid]
    # Every block minted 1 token; every epoch paid all but dust.
    total_minted = sum(h.minted for h in net.node.store.headers(0, header.height))
    assert total_minted == header.height * TOKEN
    assert len(epoch_headers) == state.epoch_index
    state.ledger.check_invariant()


def test_pruning_replaces_lowest_emission_non_immune(net: Net) -> None:
    validators, _miners = _setup_subnet(net)  # uids 0..4 used; max_uids is 8
    extra = [Keypair.generate() for _ in range(3)]
    for hot in extra:
        net.ok(net.colds[3], calls.Register(hot.ss58_address))
    assert len(net.node.state.neurons) == 8
    v0 = net.node.state.uid_of(validators[0].ss58_address)
    net.ok(validators[0], calls.SetWeights((3, 4, 5), (1, 1, 1)))
    # While the newest uids are immune, the replaced uid must be an older one with the lowest emission.
    newcomer = Keypair.generate()
    net.blocks(FAST.immunity_period)
    state = net.node.state
    immune = {n.uid for n in state.neurons if state.block + 1 - n.registered_at < FAST.immunity_period}
    candidates = [n for n in state.neurons if n.uid not in immune and n.uid != 0]
    expected = min(candidates, key=lambda n: (n.emission, n.registered_at, n.uid)).uid
    net.ok(net.colds[2], calls.Register(newcomer.ss58_address))
    state = net.node.state
    assert state.neurons[expected].hotkey == newcomer.ss58_address
    assert all(j != expected for j, _ in state.weights.get(v0, ()))  # weights pointing at it were cleared
    assert state.neurons[0].hotkey == net.owner_hot.ss58_address  # the owner is never replaced


def test_subnet_full_of_immune_neurons_refuses(tmp_path: Path) -> None:
    net = Net(tmp_path / "c", FAST.replace(max_uids=2, immunity_period=1000))
    try:
        net.ok(net.colds[0], calls.Register(Keypair.generate().ss58_address))
        assert net.refused(net.colds[1], calls.Register(Keypair.generate().ss58_address)) == "subnet_full"
    finally:
        net.node.close()


def test_commit_reveal_round_trip(tmp_path: Path) -> None:
    net = Net(tmp_path / "c", FAST.replace(commit_reveal=True))
    try:
        validators, _miners = _setup_subnet(net)
        uids, values, salt = (3, 4), (65535, 100), b"pepper"
        assert net.refused(validators[0], calls.SetWeights(uids, values)) == "commit_reveal_on"
        digest = commit_hash(validators[0].ss58_address, uids, values, salt, 0)
        net.ok(validators[0], calls.CommitWeights(digest))
        assert net.refused(validators[0], calls.RevealWeights(uids, values, salt)) == "reveal_too_early"
        net.until_epoch()
        assert net.refused(validators[0], calls.RevealWeights(uids, (1, 1), salt)) == "no_matching_commit"
        assert net.refused(validators[1], calls.RevealWeights(uids, values, salt)) == "no_matching_commit"
        net.ok(validators[0], calls.RevealWeights(uids, values, salt))
        uid = net.node.state.uid_of(validators[0].ss58_address)
        assert net.node.state.weights[uid] == ((3, 65535), (4, 100))
        assert validators[0].ss58_address not in net.node.state.commits
    finally:
        net.node.close()


def test_restart_resumes_and_header_chain_verifies(net: Net) -> None:
    _setup_subnet(net)
    height, root = net.node.head.height, net.node.head.state_root
    net.restart()
    assert net.node.head.height == height and net.node.head.state_root == root
    net.blocks(3)
    assert verify_header_chain(net.node.store) == height + 3


def test_foreign_and_corrupt_data_dirs_are_refused(tmp_path: Path, net: Net) -> None:
    other = Net(tmp_path / "other", FAST)
    other.node.close()
    with pytest.raises(StoreError, match="another genesis"):
        ChainNode.open(other.data_dir, net.genesis)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "chain.sqlite3").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a chain database"):
        ChainNode.open(junk, net.genesis)
    assert (junk / "chain.sqlite3").read_bytes() == b"this is not sqlite" * 100  # never overwritten


def test_expired_and_duplicate_transactions(net: Net) -> None:
    tx = SignedTx("ab" * 32, net.colds[0].ss58_address, b"", b"",
                  calls.Transfer(net.colds[1].ss58_address, 5), net.node.state.block + 3)
    first = net.node.submit(tx)
    with pytest.raises(TxRejected, match="already waiting"):
        net.node.submit(tx)
    net.node.produce_block()
    assert first.result(0).ok
    # Resubmitting an included transaction returns its recorded outcome instead of applying it twice.
    again = net.node.submit(tx).result(0)
    assert again.ok and again.height == first.result(0).height
    net.blocks(5)
    late = SignedTx("cd" * 32, net.colds[0].ss58_address, b"", b"", calls.Transfer(net.colds[1].ss58_address, 5),
                    net.node.state.block)
    with pytest.raises(TxRejected, match="valid until"):
        net.node.submit(late)


def test_genesis_toml_round_trip_and_errors(net: Net) -> None:
    parsed = parse_genesis(net.genesis.to_toml())
    assert parsed == net.genesis and parsed.hash == net.genesis.hash
    with pytest.raises(ValueError, match="owner_coldkey"):
        parse_genesis("[subnet]\nowner_coldkey='x'\n")
    text = net.genesis.to_toml().replace("tempo = 5", "tempo = 5\nbogus = 1")
    with pytest.raises(ValueError, match="bogus"):
        parse_genesis(text)
