"""The block reward schedule: the chain's table, bit-exact agreement with its fixed-point code, the cap."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.emission import (
    SUPPLY_CAP,
    UNITS_PER_TOKEN,
    block_reward,
    blocks_until_halving,
    halving_era,
    mint_amount,
    next_halving_issuance,
)

TOKEN = UNITS_PER_TOKEN
FRAC = 32  # I96F32: 32 fraction bits


def chain_reward_i96f32(issuance: int) -> int:
    """Step-by-step emulation of subtensor's ``get_block_emission_for_issuance`` in I96F32 (substrate-fixed):
    divisions and multiplications floor (all values are positive), ``log2`` halves with ``rs`` (round half up)
    while the value is >= 2 and its floor is that count."""
    if issuance >= SUPPLY_CAP:
        return 0
    one = 1 << FRAC
    ratio = (issuance << FRAC << FRAC) // (SUPPLY_CAP << FRAC)  # total_issuance / (2.0 * 10.5e15)
    one_minus = one - ratio  # 1.0 - ratio
    x = (one << FRAC) // one_minus  # 1.0 / (1.0 - ratio)
    k = 0
    while x >= 2 << FRAC:  # log2_inner's integer part; floor() keeps exactly this count
        k += 1
        x = (x >> 1) + (x & 1)
    multiplier = one
    for _ in range(k):
        multiplier = (multiplier * (2 << FRAC)) >> FRAC
    percentage = (one << FRAC) // multiplier  # 1.0 / multiplier
    emission = (percentage * (TOKEN << FRAC)) >> FRAC  # * DefaultBlockEmission
    return emission >> FRAC  # to u64, truncating


# The required table (issuance in tokens -> reward in units).
REQUIRED = [
    (10_499_999, TOKEN),
    (10_500_000, TOKEN // 2),
    (20_999_680, 15_258),
    (20_999_999, 59),
    (21_000_000, 0),
]

# subtensor's own test_halving table (issuance in units -> reward in units).
CHAIN_TABLE = [
    (0, 1_000_000_000),
    (1_776_000, 1_000_000_000),
    (1_776_000_000, 1_000_000_000),
    (1_776_000_000_000, 1_000_000_000),
    (10_500_000_000_000_000, 500_000_000),
    (10_999_999_000_000_000, 500_000_000),
    (11_000_000_000_000_000, 500_000_000),
    (12_000_999_000_000_000, 500_000_000),
    (15_749_999_000_000_000, 500_000_000),
    (15_800_000_000_000_000, 250_000_000),
    (16_400_999_000_000_000, 250_000_000),
    (16_499_999_000_000_000, 250_000_000),
    (17_624_999_000_000_000, 250_000_000),
    (18_400_000_000_000_000, 125_000_000),
    (19_312_500_000_000_000, 125_000_000),
    (19_700_000_000_000_000, 62_500_000),
    (19_906_249_000_000_000, 62_500_000),
    (20_400_000_000_000_000, 31_250_000),
    (20_500_000_000_000_000, 31_250_000),
    (20_700_000_000_000_000, 15_625_000),
    (20_800_000_000_000_000, 15_625_000),
    (20_900_000_000_000_000, 7_812_500),
    (20_917_970_000_000_000, 3_906_250),
    (20_958_985_000_000_000, 1_953_125),
    (20_979_493_000_000_000, 976_562),
    (20_989_747_000_000_000, 488_281),
    (20_994_874_000_000_000, 244_140),
    (20_997_437_000_000_000, 122_070),
    (20_998_719_000_000_000, 61_035),
    (20_999_360_000_000_000, 30_517),
    (20_999_680_000_000_000, 15_258),
    (20_999_840_000_000_000, 7_629),
    (20_999_920_000_000_000, 3_814),
    (20_999_960_000_000_000, 1_907),
    (20_999_980_000_000_000, 953),
    (20_999_990_000_000_000, 476),
    (20_999_990_500_000_000, 476),
    (20_999_995_000_000_000, 238),
    (20_999_998_000_000_000, 119),
    (20_999_999_000_000_000, 59),
    (21_000_000_000_000_000, 0),
    (21_100_000_000_000_000, 0),
    (2**64 - 1, 0),
]


@pytest.mark.parametrize(("tokens", "reward"), REQUIRED)
def test_required_table(tokens: int, reward: int) -> None:
    assert block_reward(tokens * TOKEN) == reward
    assert chain_reward_i96f32(tokens * TOKEN) == reward


@pytest.mark.parametrize(("issuance", "reward"), CHAIN_TABLE)
def test_chain_halving_table(issuance: int, reward: int) -> None:
    assert block_reward(issuance) == reward
    assert chain_reward_i96f32(issuance) == reward


def test_chain_issuance_bounds() -> None:
    """subtensor's test_issuance_bounds: 100 eras of 10.5M blocks converge to 20_999_999_989_500_000."""
    issuance = 0
    for _ in range(100):
        issuance += block_reward(issuance) * 10_500_000
    assert issuance == 20_999_999_989_500_000


def _near_boundaries() -> list[int]:
    out = []
    for k in range(1, 40):
        boundary = SUPPLY_CAP - (SUPPLY_CAP >> k)
        for delta in (-(10**7), -(2**32), -5_000_000, -4_900_000, -1000, -2, -1, 0, 1, 2, 1000, 5_000_000):
            if boundary + delta >= 0:
                out.append(boundary + delta)
    return out


def test_matches_fixed_point_at_era_boundaries() -> None:
    """Where the fixed point's 2^-32 resolution (about 0.005 token of issuance) could tip an era either way."""
    for issuance in _near_boundaries():
        assert block_reward(issuance) == chain_reward_i96f32(issuance), issuance


@settings(max_examples=2000, deadline=None)
@given(st.integers(min_value=0, max_value=SUPPLY_CAP + 1))
def test_matches_fixed_point_everywhere(issuance: int) -> None:
    assert block_reward(issuance) == chain_reward_i96f32(issuance)


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=SUPPLY_CAP - 1))
def test_era_definition(issuance: int) -> None:
    """The era is the largest k with (C - X) << k <= C, and the next boundary is the first issuance past it."""
    k = halving_era(issuance)
    remaining = SUPPLY_CAP - issuance
    assert remaining << k <= SUPPLY_CAP < remaining << (k + 1)
    nxt = next_halving_issuance(issuance)
    assert issuance < nxt <= SUPPLY_CAP
    if nxt < SUPPLY_CAP:
        assert halving_era(nxt) == k + 1
    assert halving_era(nxt - 1) == k


def test_halving_boundaries_in_tokens() -> None:
    assert next_halving_issuance(0) == 10_500_000 * TOKEN
    assert next_halving_issuance(10_500_000 * TOKEN) == 15_750_000 * TOKEN
    assert next_halving_issuance(15_750_000 * TOKEN) == 18_375_000 * TOKEN
    assert next_halving_issuance(18_375_000 * TOKEN) == 19_687_500 * TOKEN
    assert blocks_until_halving(0) == 10_500_000
    assert blocks_until_halving(10_499_999 * TOKEN) == 1
    assert blocks_until_halving(SUPPLY_CAP - 1) is None  # reward already 0


def test_mint_amount_clamps_to_cap() -> None:
    assert mint_amount(0, TOKEN) == TOKEN
    assert mint_amount(SUPPLY_CAP - 5, 100) == 5
    assert mint_amount(SUPPLY_CAP, 100) == 0
    assert mint_amount(SUPPLY_CAP + 7, 100) == 0
    assert mint_amount(SUPPLY_CAP - 5, 0) == 0


@pytest.mark.parametrize("bad", [-1, 1.0, True, None, "5"])
def test_rejects_non_integer_issuance(bad: object) -> None:
    with pytest.raises(ValueError):
        block_reward(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        mint_amount(0, bad)  # type: ignore[arg-type]


def test_era_undefined_at_cap() -> None:
    with pytest.raises(ValueError, match="cap"):
        halving_era(SUPPLY_CAP)


def test_schedule_runs_to_the_cap() -> None:
    """Run the whole schedule, one era per step: the reward is constant within an era, so jump by whole blocks to
    the first block at or past the next halving boundary, minting through the clamp."""
    issuance, blocks, eras = 0, 0, 0
    history = []
    while True:
        reward = block_reward(issuance)
        if reward == 0:
            break
        n = blocks_until_halving(issuance)
        assert n is not None and n > 0
        # Before the jump, one block less must still be inside this era (the jump is exact).
        assert halving_era(issuance + (n - 1) * reward) == halving_era(issuance)
        minted = mint_amount(issuance, n * reward)
        assert minted == n * reward  # the clamp never binds on the schedule itself
        issuance += minted
        blocks += n
        eras += 1
        assert issuance <= SUPPLY_CAP
        history.append((issuance, reward))
    rewards = [r for _, r in history]
    assert rewards[0] == TOKEN and all(b == a >> 1 for a, b in itertools.pairwise(rewards))
    assert eras == 30  # 10^9 >> 30 == 0
    # Issuance stops below the cap (within 0.02 token) and never moves again: minting is a no-op from here.
    assert SUPPLY_CAP - issuance < SUPPLY_CAP >> 29
    assert block_reward(issuance) == 0 and mint_amount(issuance, block_reward(issuance)) == 0
    # The first era lasts exactly 10.5M blocks (about 4 years at 12 s per block) and ends on its boundary.
    assert history[0][0] == 10_500_000 * TOKEN


def test_clamp_reaches_exactly_the_cap() -> None:
    """A mint larger than what remains lands exactly on the cap and every later mint is 0."""
    issuance = SUPPLY_CAP - 3 * TOKEN
    issuance += mint_amount(issuance, 10 * TOKEN)
    assert issuance == SUPPLY_CAP
    assert mint_amount(issuance, TOKEN) == 0 and block_reward(issuance) == 0


def test_recycling_delays_the_halving() -> None:
    """Recycling lowers issuance: the reward can go back up one era, and the next halving needs more blocks."""
    boundary = 10_500_000 * TOKEN
    issuance = boundary
    assert block_reward(issuance) == TOKEN // 2
    issuance -= 1  # recycle a single unit
    assert block_reward(issuance) == TOKEN

    # Simulate 1000 blocks from 1000 tokens below the halving, with and without recycling 0.5 token per block.
    def blocks_to_halving(recycle_per_block: int) -> int:
        x, n = boundary - 1000 * TOKEN, 0
        while block_reward(x) == TOKEN:
            x += mint_amount(x, block_reward(x)) - recycle_per_block
            n += 1
        return n

    plain, recycled = blocks_to_halving(0), blocks_to_halving(TOKEN // 2)
    assert plain == 1000
    assert recycled == 2000
