"""The tempo boundary: map the chain state onto ``consensus.yuma.epoch``, store its outputs per uid, and pay
out the pending pool with ``consensus.ledger.epoch_payout``.

Rows are the uids holding a validator permit from the previous epoch (the owner's uid always does); columns are
all uids. As on chain, inactive validators' stake is zeroed, self-weights are removed (except the owner's),
weights set before a miner (re)registered are dropped, and bond columns of uids registered since the last epoch
start from zero.

Zero stake means no permit, this very epoch: a row whose stake S is 0 at the epoch (all stake removed, inactive, or
below the stake threshold) still appears as a row, but ``consensus.yuma.epoch`` gives it trust 0, dividends 0 and
an empty bond row (stored as trust_u16 = dividends_u16 = 0 and no bond row), and ``validator_permits`` never
gives a permit to zero raw stake (the owner's uid keeps its permit whatever its stake, as on chain).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from consensus import ledger as ledger_rules
from consensus.units import U16_MAX
from consensus.weights import validator_permits
from consensus.yuma import epoch
from subnet.chain.state import ChainState

SHARE_SCALE = 1 << 32  # incentive and dividends become integer shares at I32F32 resolution


@dataclass(frozen=True)
class EpochReport:
    block: int
    pool: int  # pending at the start of the payout
    paid: int  # pool - remainder
    owner_cut: int
    remainder: int


def _u16(x: float) -> int:
    return int(np.floor(min(max(x, 0.0), 1.0) * U16_MAX))


def run_epoch(state: ChainState) -> EpochReport:
    """Run one epoch on ``state`` in place. Never raises for any reachable state."""
    hp = state.hyper
    neurons = state.neurons
    n = len(neurons)
    owner_uid = state.owner_uid
    stake_units = state.stake_by_hotkey()
    stake = np.array([stake_units.get(nr.hotkey, 0) for nr in neurons], dtype=np.float64)  # (n,) ratios only
    old_permit = np.array([nr.validator_permit or nr.uid == owner_uid for nr in neurons], dtype=bool)
    active = np.array([nr.last_update + hp.activity_cutoff >= state.block for nr in neurons], dtype=bool)
    eligible = np.array([stake_units.get(nr.hotkey, 0) >= hp.stake_threshold for nr in neurons], dtype=bool)
    rows = np.flatnonzero(old_permit)  # (V,) uids of the validator rows

    W = np.zeros((len(rows), n))  # (V, n) stored u16 weights
    submitted = np.zeros((len(rows), n), dtype=bool)
    bonds_prev = np.zeros((len(rows), n))  # (V, n) stored u16 bonds / 65535
    for r, i in enumerate(rows):
        last_update = neurons[i].last_update
        for j, value in state.weights.get(int(i), ()):
            if j >= n or (j == i and i != owner_uid) or last_update <= neurons[j].registered_at:
                continue  # self-weight, or weight set before j (re)registered
            W[r, j], submitted[r, j] = value, True
        for j, value in state.bonds.get(int(i), ()):
            if j < n:
                bonds_prev[r, j] = value / U16_MAX
    S = stake[rows] * (active[rows] & eligible[rows])  # (V,)

    last_tempo = state.last_epoch_block + 1 if state.epoch_index > 0 else state.block - hp.tempo
    recent = [j for j, nr in enumerate(neurons) if last_tempo <= nr.registered_at]
    result = epoch(W, S, bonds_prev, hp.yuma_params(), reset_bond_columns=recent, submitted=submitted)

    # Store per-uid outputs as u16 proportions, floored (the chain's storage step).
    for nr in neurons:
        nr.consensus_u16, nr.incentive_u16 = _u16(result.consensus[nr.uid]), _u16(result.incentive[nr.uid])
        nr.dividends_u16 = nr.trust_u16 = 0
    for r, i in enumerate(rows):
        neurons[i].dividends_u16 = _u16(result.dividends[r])
        neurons[i].trust_u16 = _u16(result.validator_trust[r])

    miner_shares = {nr.hotkey: int(result.incentive[nr.uid] * SHARE_SCALE) for nr in neurons}
    validator_shares = {neurons[i].hotkey: int(result.dividends[r] * SHARE_SCALE) for r, i in enumerate(rows)}
    if not any(miner_shares.values()) and not any(validator_shares.values()):
        # Nobody set usable weights: validators are paid by active stake (raw stake if none is active).
        basis = S if S.sum() > 0 else stake[rows]
        validator_shares = {neurons[i].hotkey: int(basis[r]) for r, i in enumerate(rows)}
    payout = ledger_rules.epoch_payout(
        state.ledger, owner_hotkey=state.owner_hotkey, miner_shares=miner_shares,
        validator_shares=validator_shares, owner_cut_u16=hp.owner_cut_u16, delegate_take_u16=hp.delegate_take_u16,
    )
    for nr in neurons:
        nr.emission = payout.emission(nr.hotkey)

    # New permits are used for masking at the next epoch; bonds are kept only for uids holding one.
    permits = validator_permits(stake, hp.max_validators)
    bonds_u16 = result.bonds_u16
    new_bonds = {}
    for r, i in enumerate(rows):
        if permits[i] or i == owner_uid:
            entries = tuple((int(j), int(v)) for j, v in enumerate(bonds_u16[r]) if v)
            if entries:
                new_bonds[int(i)] = entries
    state.bonds = new_bonds
    for nr in neurons:
        nr.validator_permit = bool(permits[nr.uid]) or nr.uid == owner_uid

    state.last_epoch_block = state.block
    state.epoch_index += 1
    return EpochReport(block=state.block, pool=payout.pool, paid=payout.pool - payout.remainder,
                       owner_cut=payout.owner_cut, remainder=payout.remainder)
