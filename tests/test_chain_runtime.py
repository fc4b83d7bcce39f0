"""The chain's state machine through ChainNode with a real SQLite store (no gRPC): registration, staking,
weights, epochs, payouts, pruning, commit-reveal, hyperparameters and restarts."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from consensus import ledger as ledger_rules
from consensus.units import UNITS_PER_TOKEN
from consensus.yuma import epoch as yuma_epoch
from subnet.chain import calls
from subnet.chain.commit import commit_hash
from subnet.chain.epoch import SHARE_SCALE
from subnet.chain.genesis import Genesis, parse_genesis
from subnet.chain.node import (
    MAX_TX_LIFETIME_BLOCKS,
    MAX_WAITERS_PER_TX,
    ChainNode,
    SignedTx,
    TxOutcome,
    verify_header_chain,
)
from subnet.chain.params import Hyperparameters
from subnet.chain.registration import sign_registration
from subnet.chain.runtime import TxRejected, begin_block
from subnet.chain.state import state_root
from subnet.chain.store import Header, StoreError
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
        self.hotkeys: dict[str, Keypair] = {}  # every hotkey a register_call was made for, by address

    def register_call(self, cold: Keypair, hot: Keypair, valid_for_blocks: int = 10) -> calls.Register:
        """Register ``hot`` under ``cold``, with the hotkey's proof for this chain valid ``valid_for_blocks``."""
        self.hotkeys[hot.ss58_address] = hot
        valid_until = self.node.state.block + valid_for_blocks
        proof = sign_registration(hot, self.genesis.hash, cold.ss58_address, valid_until)
        return calls.Register(hot.ss58_address, proof, valid_until)

    def send(self, signer: Keypair, call: calls.Call, valid_for_blocks: int = 10) -> TxOutcome:
        """Submit, produce the block, return the outcome (raises TxRejected if refused before queueing)."""
        tx = SignedTx(os.urandom(32).hex(), signer.ss58_address, b"", b"", call,
                      self.node.state.block + valid_for_blocks)
        future = self.node.submit(tx)
        self.node.produce_block()
        return future.result(timeout=0)

    def ok(self, signer: Keypair, call: calls.Call) -> None:
        outcome = self.send(signer, call)
        assert outcome.ok, outcome

    def refused(self, signer: Keypair, call: calls.Call) -> str:
        """The reason of a refusal, at admission (never queued) or in the block."""
        try:
            outcome = self.send(signer, call)
        except TxRejected as exc:
            assert str(exc)
            return exc.reason
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


# Fees off so the exact burn and payout arithmetic below is about burns and payouts (tests/test_chain_hostile.py
# charges fees).
FAST = Hyperparameters(tempo=5, weights_rate_limit=2, immunity_period=4, max_uids=8, activity_cutoff=50,
                       burn_initial=TOKEN, burn_min=TOKEN // 10, burn_max=10 * TOKEN, tx_fee_base=0, tx_fee_per_byte=0)


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
        net.ok(cold, net.register_call(cold, hot))
    net.ok(net.colds[0], calls.AddStake(validators[0].ss58_address, 300 * TOKEN))
    net.ok(net.colds[1], calls.AddStake(validators[1].ss58_address, 100 * TOKEN))
    for i, miner in enumerate(miners):
        net.ok(miner, calls.Serve(f"127.0.0.1:{9000 + i}", "tiny", "ab" * 32))
    net.until_epoch()  # permits are computed at the epoch
    return validators, miners


def test_registration_burns_and_raises_price(net: Net) -> None:
    num, den = FAST.burn_decay()
    price = net.node.state.burn
    for i in range(3):
        ledger = net.node.state.ledger
        issuance_before, recycled_before = ledger.issuance, ledger.recycled
        balance_before = ledger.balance(net.colds[0].ss58_address)
        hot = Keypair.generate()
        net.ok(net.colds[0], net.register_call(net.colds[0], hot))
        state = net.node.state
        assert state.neurons[1 + i].hotkey == hot.ss58_address
        assert state.neurons[1 + i].coldkey == net.colds[0].ss58_address
        # The block first decays the price one step, then the registration pays (recycles) exactly that price...
        paid = max(FAST.burn_min, price * num // den)
        assert state.ledger.recycled - recycled_before == paid
        assert state.ledger.balance(net.colds[0].ss58_address) == balance_before - paid
        assert state.ledger.issuance == issuance_before + TOKEN - paid  # the block reward minus the burn
        # ... and raises it by exactly 1.26x (floored, clamped to [burn_min, burn_max]).
        price = min(FAST.burn_max, max(FAST.burn_min, paid * 1_260_000 // 1_000_000))
        assert FAST.burn_increase_ppm == 1_260_000 and state.burn == price
    assert net.node.state.burn / FAST.burn_initial == pytest.approx((1.26 * num / den) ** 3, rel=1e-6)
    assert net.refused(net.colds[1], net.register_call(net.colds[1], hot)) == "already_registered"


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


@dataclasses.dataclass(frozen=True)
class Refusal:
    """One refusal: on a subnet set up by ``_setup_subnet`` (with ``hyper`` changes), ``build`` returns the signer
    and the call (doing any preparation first); the chain must refuse it with ``reason``."""

    reason: str
    build: Callable[[Net, list[Keypair], list[Keypair]], tuple[Keypair, calls.Call]]
    hyper: dict = dataclasses.field(default_factory=dict)
    valid_for_blocks: int = 10


def _poor_registration(net: Net) -> tuple[Keypair, calls.Call]:
    poor = Keypair.generate()
    net.ok(net.colds[0], calls.Transfer(poor.ss58_address, net.node.state.burn // 2))
    return poor, net.register_call(poor, Keypair.generate())


def _pruned_hotkey(net: Net) -> tuple[Keypair, calls.Call]:
    """Replace a neuron (the subnet is full), then try to register its old hotkey from another coldkey."""
    before = {n.hotkey for n in net.node.state.neurons}
    net.ok(net.colds[0], net.register_call(net.colds[0], Keypair.generate()))
    (gone,) = before - {n.hotkey for n in net.node.state.neurons}
    owner = net.node.state.ledger.hotkey_owner[gone]
    signer = next(k for k in net.colds if k.ss58_address != owner)
    # Even the hotkey's own consent cannot move it to another coldkey.
    return signer, net.register_call(signer, net.hotkeys[gone])


def _ten_commits(net: Net, v: Keypair) -> tuple[Keypair, calls.Call]:
    for i in range(10):
        net.ok(v, calls.CommitWeights(bytes([i]) * 32))
    return v, calls.CommitWeights(b"\x0b" * 32)


def _stale_commit(net: Net, v: Keypair) -> tuple[Keypair, calls.Call]:
    uids, values, salt = (3, 4), (65535, 100), b"salt"
    net.ok(v, calls.CommitWeights(commit_hash(v.ss58_address, uids, values, salt, 0)))
    for _ in range(3):  # revealable in the next epoch or the one after, not later
        net.until_epoch()
    return v, calls.RevealWeights(uids, values, salt)


CR = {"commit_reveal": True}
REFUSALS = {
    "add_stake unknown hotkey": Refusal("unknown_hotkey", lambda net, v, m: (
        net.colds[0], calls.AddStake(Keypair.generate().ss58_address, TOKEN))),
    "add_stake overdraft": Refusal("insufficient_balance", lambda net, v, m: (
        net.colds[0], calls.AddStake(v[0].ss58_address, 10**6 * TOKEN))),
    "register insufficient balance": Refusal("insufficient_balance", lambda net, v, m: _poor_registration(net)),
    "register hotkey owned elsewhere": Refusal("hotkey_owned_elsewhere", lambda net, v, m: _pruned_hotkey(net),
                                               hyper={"max_uids": 5}),
    "serve model hash not hex": Refusal("invalid_model", lambda net, v, m: (
        m[0], calls.Serve("127.0.0.1:9000", "tiny", "AB" * 32))),
    "serve model name too long": Refusal("invalid_model", lambda net, v, m: (
        m[0], calls.Serve("127.0.0.1:9000", "x" * 257, "ab" * 32))),
    "serve certificate too large": Refusal("invalid_certificate", lambda net, v, m: (
        m[0], calls.Serve("127.0.0.1:9000", "tiny", "ab" * 32, b"-" * 16_385))),
    "set_weights length mismatch": Refusal("length_mismatch", lambda net, v, m: (
        v[0], calls.SetWeights((3, 4), (1,)))),
    "set_weights too few": Refusal("too_few_weights", lambda net, v, m: (
        v[0], calls.SetWeights((3,), (1,))), hyper={"min_allowed_weights": 2}),
    "set_weights max weight exceeded": Refusal("max_weight_exceeded", lambda net, v, m: (
        v[0], calls.SetWeights((3, 4), (3, 1))), hyper={"max_weight_limit_u16": 32_767}),
    "set_weights stake too low": Refusal("stake_too_low", lambda net, v, m: (
        v[1], calls.SetWeights((3, 4), (1, 1))), hyper={"stake_threshold": 200 * TOKEN}),
    "commit_weights invalid commit": Refusal("invalid_commit", lambda net, v, m: (
        v[0], calls.CommitWeights(b"short")), hyper=CR),
    "commit_weights too many commits": Refusal("too_many_commits", lambda net, v, m: _ten_commits(net, v[0]),
                                               hyper={**CR, "weights_rate_limit": 0}),
    "commit_weights not registered": Refusal("not_registered", lambda net, v, m: (
        Keypair.generate(), calls.CommitWeights(b"x" * 32)), hyper=CR),
    "reveal_weights commit expired": Refusal("commit_expired", lambda net, v, m: _stale_commit(net, v[0]),
                                             hyper=CR),
    "submission lifetime too long": Refusal("lifetime_too_long", lambda net, v, m: (
        net.colds[0], calls.Transfer(net.colds[1].ss58_address, 1)), valid_for_blocks=MAX_TX_LIFETIME_BLOCKS + 2),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusal_reasons(tmp_path: Path, case: str) -> None:
    refusal = REFUSALS[case]
    net = Net(tmp_path / "c", FAST.replace(**refusal.hyper))
    try:
        validators, miners = _setup_subnet(net)
        signer, call = refusal.build(net, validators, miners)
        before = net.node.state.snapshot()
        try:
            outcome = net.send(signer, call, refusal.valid_for_blocks)
            reason, message = outcome.reason, outcome.message
            assert not outcome.ok
        except TxRejected as exc:  # refused before queueing (the submission itself)
            reason, message = exc.reason, str(exc)
            net.node.produce_block()
        assert reason == refusal.reason, message
        assert message
        # The refused call changed nothing: the state is exactly that of an empty block.
        empty_block = before
        begin_block(empty_block)
        assert net.node.state.records() == empty_block.records()
        net.node.state.ledger.check_invariant()
    finally:
        net.node.close()


def test_epochs_pay_miners_by_incentive_and_validators_by_dividends(net: Net) -> None:
    validators, miners = _setup_subnet(net)
    m0, m1 = (net.node.state.uid_of(m.ss58_address) for m in miners)
    for v in validators:
        net.ok(v, calls.SetWeights((m0, m1), (3, 1)))
    net.until_epoch()
    # Walk to the block before the next epoch, then check the epoch block's books to the unit.
    while net.node.state.block + 1 - net.node.state.last_epoch_block < FAST.tempo:
        net.node.produce_block()
    before = net.node.state.snapshot()
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
    # The epoch block's header records exactly what left the pool as stake.
    assert header.epoch_paid == sum(gained.values()) == pool - state.ledger.pending > 0
    headers = net.node.store.headers(0, header.height)
    epoch_headers = [h for h in headers if h.epoch_paid is not None]
    assert len(epoch_headers) == state.epoch_index and epoch_headers[-1] == header
    assert all(h.height - g.height == FAST.tempo for g, h in itertools.pairwise(epoch_headers))
    # Every block minted 1 token.
    assert sum(h.minted for h in headers) == header.height * TOKEN
    state.ledger.check_invariant()


def test_epoch_payout_recomputes_exactly_from_consensus(net: Net) -> None:
    """The epoch block's books equal consensus.yuma.epoch + consensus.ledger.epoch_payout run on a copy of the
    state before it, with the same inputs: every stake delta, every balance, every stored emission, to the unit."""
    validators, miners = _setup_subnet(net)
    m0, m1 = (net.node.state.uid_of(m.ss58_address) for m in miners)
    v0, v1 = (net.node.state.uid_of(v.ss58_address) for v in validators)
    net.ok(net.colds[3], calls.AddStake(validators[0].ss58_address, 50 * TOKEN))  # a delegator of validator 0
    net.ok(validators[0], calls.SetWeights((m0, m1), (65535, 20000)))
    net.ok(validators[1], calls.SetWeights((m0, m1), (30000, 65535)))  # they disagree: clipping matters
    net.until_epoch()
    net.until_epoch()  # so the checked epoch starts from stored bonds
    while net.node.state.block + 1 - net.node.state.last_epoch_block < FAST.tempo:
        net.node.produce_block()
    before = net.node.state.snapshot()
    net.node.produce_block()
    after = net.node.state
    assert after.epoch_index == before.epoch_index + 1

    # Recompute the epoch block from `before` (no transactions in it: mint, then the epoch).
    hp, block, n = before.hyper, before.block + 1, len(before.neurons)
    expect = before.snapshot()
    minted = ledger_rules.mint_block(expect.ledger)
    rows = [nr.uid for nr in before.neurons if nr.validator_permit]  # (V,) the owner's uid holds one from genesis
    assert {0, v0, v1} <= set(rows)
    # Inputs need no masking here: everyone registered before the last epoch, is active, set no self-weight.
    assert all(nr.registered_at <= before.last_epoch_block for nr in before.neurons)
    assert all(nr.last_update + hp.activity_cutoff >= block for nr in before.neurons)
    W = np.zeros((len(rows), n))  # (V, n)
    bonds_prev = np.zeros((len(rows), n))  # (V, n)
    submitted = np.zeros((len(rows), n), dtype=bool)
    for r, i in enumerate(rows):
        for j, value in before.weights.get(i, ()):
            W[r, j], submitted[r, j] = value, True
        for j, value in before.bonds.get(i, ()):
            bonds_prev[r, j] = value / 65535
    assert bonds_prev[rows.index(v0), m0] > 0 and bonds_prev[rows.index(v1), m1] > 0
    stake = before.stake_by_hotkey()
    S = np.array([stake.get(before.neurons[i].hotkey, 0) for i in rows], dtype=np.float64)  # (V,)
    result = yuma_epoch(W, S, bonds_prev, hp.yuma_params(), submitted=submitted)
    assert result.incentive[m0] > result.incentive[m1] > 0
    hotkey = {nr.uid: nr.hotkey for nr in before.neurons}
    payout = ledger_rules.epoch_payout(
        expect.ledger, owner_hotkey=before.owner_hotkey,
        miner_shares={hotkey[j]: int(result.incentive[j] * SHARE_SCALE) for j in range(n)},
        validator_shares={hotkey[i]: int(result.dividends[r] * SHARE_SCALE) for r, i in enumerate(rows)},
        owner_cut_u16=hp.owner_cut_u16, delegate_take_u16=hp.delegate_take_u16,
    )

    keys = set(before.ledger.stakes) | set(after.ledger.stakes)
    deltas = {k: after.ledger.stakes.get(k, 0) - before.ledger.stakes.get(k, 0) for k in keys}
    assert {k: d for k, d in deltas.items() if d} == payout.credits
    assert payout.credits[(net.colds[3].ss58_address, validators[0].ss58_address)] > 0  # the delegator's share
    assert after.ledger.balances == before.ledger.balances == expect.ledger.balances  # nothing paid as balance
    assert after.ledger.stakes == expect.ledger.stakes
    assert (after.ledger.pending, after.ledger.issuance, after.ledger.minted, after.ledger.recycled) == \
        (expect.ledger.pending, expect.ledger.issuance, expect.ledger.minted, expect.ledger.recycled)
    assert {nr.hotkey: nr.emission for nr in after.neurons} == \
        {hk: payout.emission(hk) for hk in hotkey.values()}
    assert len({nr.emission for nr in after.neurons}) >= 4  # distinct payouts, not a degenerate split
    head = net.node.head
    assert (head.minted, head.epoch_paid) == (minted, payout.pool - payout.remainder)
    # The per-uid outputs are stored as floored u16 proportions, the bonds as the epoch's u16 bonds.
    for nr in after.neurons:
        assert nr.incentive_u16 == int(np.floor(result.incentive[nr.uid] * 65535))
        assert nr.consensus_u16 == int(np.floor(result.consensus[nr.uid] * 65535))
    for r, i in enumerate(rows):
        assert after.neurons[i].dividends_u16 == int(np.floor(result.dividends[r] * 65535))
        assert after.bonds.get(i, ()) == tuple((j, int(v)) for j, v in enumerate(result.bonds_u16[r]) if v)


def test_pruning_replaces_lowest_emission_non_immune(net: Net) -> None:
    validators, miners = _setup_subnet(net)  # uids 0..4 used; max_uids is 8
    state = net.node.state
    v_uids = [state.uid_of(v.ss58_address) for v in validators]
    m0, victim = (state.uid_of(m.ss58_address) for m in miners)
    # Both validators weight the victim, a little: it earns the lowest emission of the non-immune neurons.
    for v in validators:
        net.ok(v, calls.SetWeights((m0, victim), (65535, 10000)))
    net.until_epoch()
    state = net.node.state
    for v in v_uids:  # the precondition: weights and bonds point at the victim
        assert dict(state.weights[v])[victim] > 0 and dict(state.bonds[v])[victim] > 0
    assert 0 < state.neurons[victim].emission < min(state.neurons[u].emission for u in (*v_uids, m0))
    # Fill the subnet with newcomers: they earned nothing yet (the lowest emission of all) but are immune.
    extra = [Keypair.generate() for _ in range(3)]
    for hot in extra:
        net.ok(net.colds[3], net.register_call(net.colds[3], hot))
    state = net.node.state
    assert len(state.neurons) == FAST.max_uids and state.block + 1 < state.last_epoch_block + FAST.tempo
    next_block = state.block + 1
    newcomers = [state.uid_of(h.ss58_address) for h in extra]
    assert all(next_block - state.neurons[u].registered_at < FAST.immunity_period for u in newcomers)
    assert all(state.neurons[u].emission == 0 < state.neurons[victim].emission for u in newcomers)
    assert state.neurons[0].emission <= state.neurons[victim].emission  # the owner: lower or equal, but kept
    old_hotkeys = {n.uid: n.hotkey for n in state.neurons}

    newcomer = Keypair.generate()
    net.ok(net.colds[2], net.register_call(net.colds[2], newcomer))
    state = net.node.state
    assert state.uid_of(newcomer.ss58_address) == victim
    assert state.uid_of(miners[1].ss58_address) is None
    # Every other uid kept its neuron: the immune newcomers and the owner were passed over.
    assert {n.uid: n.hotkey for n in state.neurons if n.uid != victim} == \
        {u: hk for u, hk in old_hotkeys.items() if u != victim}
    # The weights and bonds that pointed at the victim are gone; those pointing at the other miner stay.
    for v in v_uids:
        assert victim not in dict(state.weights[v]) and victim not in dict(state.bonds.get(v, ()))
        assert dict(state.weights[v])[m0] == 65535 and dict(state.bonds[v])[m0] > 0
    state.ledger.check_invariant()


def test_subnet_full_of_immune_neurons_refuses(tmp_path: Path) -> None:
    net = Net(tmp_path / "c", FAST.replace(max_uids=2, immunity_period=1000))
    try:
        net.ok(net.colds[0], net.register_call(net.colds[0], Keypair.generate()))
        assert net.refused(net.colds[1], net.register_call(net.colds[1], Keypair.generate())) == "subnet_full"
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


def _reseal(db: sqlite3.Connection) -> None:
    """Make the last header commit to the state as it now stands, so only the deeper checks can object."""
    records = {k: bytes(v) for k, v in db.execute("SELECT key, value FROM state")}
    row = db.execute("SELECT * FROM headers ORDER BY height DESC LIMIT 1").fetchone()
    header = dataclasses.replace(Header(row[0], *row[2:]), state_root=state_root(records))
    db.execute("UPDATE headers SET state_root=?, hash=? WHERE height=?", (header.state_root, header.hash, row[0]))


def _edit_balance(db: sqlite3.Connection, key: str) -> None:
    (value,) = db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
    db.execute("UPDATE state SET value=? WHERE key=?", (str(json.loads(value) + 1).encode(), key))


DAMAGE = {
    "state edited": (lambda db, net: _edit_balance(db, f"account/{net.colds[0].ss58_address}"),
                     "stored state does not match the last header"),
    "books off, resealed": (lambda db, net: (_edit_balance(db, f"account/{net.colds[0].ss58_address}"),
                                             _reseal(db)), "issuance"),
    "unknown record, resealed": (lambda db, net: (db.execute("INSERT INTO state VALUES ('bogus/1', x'31')"),
                                                  _reseal(db)), "unknown record"),
    "header edited": (lambda db, net: db.execute("UPDATE headers SET time_ms=time_ms+1 WHERE height="
                                                 "(SELECT max(height) FROM headers)"), "does not hash"),
    "genesis hash gone": (lambda db, net: db.execute("DELETE FROM meta"), "headers without a genesis hash"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_chain_is_refused_and_left_untouched(net: Net, damage: str) -> None:
    """Damage SQLite cannot see (its pages are sound) is still caught on open, as a StoreError saying what to do,
    and the file is never written to (not even with --genesis, which would create a chain in an empty dir)."""
    edit, detail = DAMAGE[damage]
    net.ok(net.colds[0], calls.Transfer(net.colds[1].ss58_address, 5))
    net.blocks(3)
    net.node.close()
    path = net.data_dir / "chain.sqlite3"
    db = sqlite3.connect(path)
    with db:
        edit(db, net)
    db.close()
    damaged = path.read_bytes()
    with pytest.raises(StoreError, match="corrupt chain database") as err:
        ChainNode.open(net.data_dir, net.genesis)
    assert detail in str(err.value) and "restore the data dir from a backup" in str(err.value)
    assert path.read_bytes() == damaged


@pytest.mark.parametrize("seed", range(6))
def test_corrupt_pages_are_refused_and_left_untouched(net: Net, seed: int) -> None:
    """Garbage over every page after the first 4 KiB: SQLite's check on open refuses the file."""
    _setup_subnet(net)
    net.node.close()
    path = net.data_dir / "chain.sqlite3"
    data = bytearray(path.read_bytes())
    assert len(data) > 3 * 4096 and not Path(f"{path}-wal").exists()
    rng = random.Random(seed)
    for page in range(4096, len(data), 4096):  # a quarter of each page, from its start (where its header is)
        data[page:page + 1024] = rng.randbytes(1024)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"corrupt chain database .*restore the data dir from a backup"):
        ChainNode.open(net.data_dir, net.genesis)
    assert path.read_bytes() == bytes(data)


def _transfer_tx(net: Net, tag: str, amount: int = 5) -> SignedTx:
    return SignedTx(tag * 32, net.colds[0].ss58_address, b"", b"", calls.Transfer(net.colds[1].ss58_address, amount),
                    net.node.state.block + 3)


def test_expired_and_included_transactions(net: Net) -> None:
    tx = _transfer_tx(net, "ab")
    first = net.node.submit(tx)
    net.node.produce_block()
    assert first.result(0).ok
    # Resubmitting an included transaction returns its recorded outcome instead of applying it twice.
    again = net.node.submit(tx).result(0)
    assert again == first.result(0)
    net.blocks(5)
    late = SignedTx("cd" * 32, net.colds[0].ss58_address, b"", b"", calls.Transfer(net.colds[1].ss58_address, 5),
                    net.node.state.block)
    with pytest.raises(TxRejected, match="valid until"):
        net.node.submit(late)


def test_resubmitting_a_queued_transaction_waits_for_the_same_outcome(net: Net) -> None:
    """A client that lost its connection retries with the same transaction: it gets the outcome of the one
    queued, even though the first waiter is gone, and the transaction is applied once."""
    dest = net.colds[1].ss58_address
    balance = net.node.state.ledger.balance(dest)
    tx = _transfer_tx(net, "ab")
    first = net.node.submit(tx)
    assert first.cancel()  # the first call was dropped: its waiter is cancelled
    retries = [net.node.submit(tx) for _ in range(2)]
    assert not any(f.done() for f in retries)
    for _ in range(MAX_WAITERS_PER_TX - 3):
        net.node.submit(tx)
    with pytest.raises(TxRejected, match="callers waiting"):  # resubmissions cannot pile up without bound
        net.node.submit(tx)
    header = net.node.produce_block()
    outcomes = [f.result(0) for f in retries]
    assert outcomes[0].ok and outcomes[0].height == header.height and outcomes[1] == outcomes[0]
    assert [t.hash for t in net.node.store.txs_in(header.height)] == [tx.hash]
    assert net.node.state.ledger.balance(dest) == balance + 5

    # A resubmission while the block deciding it is being written joins it too (and never lands twice).
    tx2, late = _transfer_tx(net, "cd"), []
    commit = net.node.store.commit_block

    def commit_with_a_retry(*args, **kwargs) -> None:
        late.append(net.node.submit(tx2))
        commit(*args, **kwargs)

    early = net.node.submit(tx2)
    net.node.store.commit_block = commit_with_a_retry
    try:
        header = net.node.produce_block()
    finally:
        net.node.store.commit_block = commit
    assert early.result(0).ok and late[0].result(0) == early.result(0)
    following = net.node.produce_block()
    assert net.node.store.txs_in(following.height) == []
    assert net.node.state.ledger.balance(dest) == balance + 10


def test_genesis_toml_round_trip_and_errors(net: Net) -> None:
    parsed = parse_genesis(net.genesis.to_toml())
    assert parsed == net.genesis and parsed.hash == net.genesis.hash
    with pytest.raises(ValueError, match="owner_coldkey"):
        parse_genesis("[subnet]\nowner_coldkey='x'\n")
    text = net.genesis.to_toml().replace("tempo = 5", "tempo = 5\nbogus = 1")
    with pytest.raises(ValueError, match="bogus"):
        parse_genesis(text)
