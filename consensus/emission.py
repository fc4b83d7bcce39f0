"""The 21M-capped block reward, as a function of total issuance (not of block height).

Subtensor's rule (``get_block_emission_for_issuance``): with cap C and issuance X,

    reward = 10^9 >> floor(log2(C / (C - X)))     units per block, and 0 once X >= C.

So the reward is 1 token while less than half the supply exists, 0.5 token until three quarters exist, and so
on: each halving era issues half of what is left. Because the reward follows issuance, recycling (which lowers
issuance) delays the next halving, exactly as on the chain.

Everything here is integer arithmetic. ``floor(log2(C / (C - X)))`` is the largest k with ``(C - X) << k <= C``.

Why this matches the chain bit for bit, although the chain computes in I96F32 fixed point (32 fraction bits):
the chain takes ``ratio = floor(X * 2^32 / C)``, ``om = 2^32 - ratio = ceil((C - X) * 2^32 / C)``,
``inv = floor(2^64 / om)`` and counts how often substrate-fixed's ``log2`` halves ``inv`` (each halving rounds
up, so after j halvings it holds ``ceil(inv / 2^j)``) before it drops below 2.0. That count is
``floor(log2(inv / 2^32))``: the rounding could only matter if ``inv`` fell in ``(2^(33+j) - 2^j, 2^(33+j))``,
and ``inv = floor(2^64 / om)`` with integer ``om`` never does. Then ``inv >= 2^(32+k)`` iff ``om <= 2^(32-k)``
iff ``(C - X) * 2^k <= C`` (for k <= 32, where 2^(32-k) is an integer), which is the integer rule above. The
final ``1/2^k * 10^9`` is exact in 32 fraction bits and truncated, i.e. ``10^9 >> k``. The two can only
disagree when k would exceed 32 (within 0.0025 token of the cap), where both rewards are 0 anyway.
``tests/test_emission.py`` checks this against a step-by-step emulation of the chain's fixed-point code.
"""

from __future__ import annotations

from consensus.units import UNITS_PER_TOKEN

"""Base units in one token (the chain's rao per TAO)."""

SUPPLY_CAP = 21_000_000 * UNITS_PER_TOKEN
"""Total issuance never exceeds this many units."""

INITIAL_BLOCK_REWARD = UNITS_PER_TOKEN
"""Reward per block in era 0 (1 token)."""


def _check_issuance(issuance: int) -> None:
    if type(issuance) is not int or issuance < 0:
        raise ValueError(f"issuance must be a non-negative int of units, got {issuance!r}")


def halving_era(issuance: int) -> int:
    """Number of halvings so far: the largest k with ``(C - X) << k <= C``, i.e. ``floor(log2(C / (C - X)))``.

    Era 0 runs up to 10.5M tokens, era 1 up to 15.75M, and so on. Undefined at or above the cap (the remaining
    supply is 0, so every k qualifies): raises ``ValueError`` there; callers check ``issuance < SUPPLY_CAP``.
    """
    _check_issuance(issuance)
    remaining = SUPPLY_CAP - issuance
    if remaining <= 0:
        raise ValueError(f"issuance {issuance} is at or above the cap {SUPPLY_CAP}: there is no halving era")
    # floor(log2(C // remaining)) equals the largest k with remaining << k <= C (k integer, C >= remaining).
    return (SUPPLY_CAP // remaining).bit_length() - 1


def block_reward(issuance: int) -> int:
    """Units minted by one block at this total issuance: ``10^9 >> halving_era(issuance)``, 0 at/above the cap.

    Equal to the chain's I96F32 computation for every issuance (see the module docstring).
    """
    _check_issuance(issuance)
    if issuance >= SUPPLY_CAP:
        return 0
    return INITIAL_BLOCK_REWARD >> halving_era(issuance)


def mint_amount(issuance: int, amount: int) -> int:
    """How much of ``amount`` may be minted at this issuance: ``amount`` clamped so issuance stays <= the cap.

    Every mint goes through this (the chain's ``mint_tao`` clamps the same way). With the schedule above the clamp
    never binds for a block reward (the reward is always far below what remains), but it keeps the cap a hard
    guarantee whatever the caller passes.
    """
    _check_issuance(issuance)
    if type(amount) is not int or amount < 0:
        raise ValueError(f"amount must be a non-negative int of units, got {amount!r}")
    return max(0, min(amount, SUPPLY_CAP - issuance))


def next_halving_issuance(issuance: int) -> int:
    """The smallest issuance above ``issuance`` at which the reward halves (``C - (C >> (era + 1))``).

    Past the last non-zero era the reward is already 0, but the boundary is still well defined; it is always
    <= ``SUPPLY_CAP``. Raises ``ValueError`` at or above the cap.
    """
    era = halving_era(issuance)
    return SUPPLY_CAP - (SUPPLY_CAP >> (era + 1))


def blocks_until_halving(issuance: int) -> int | None:
    """Blocks (at the current, constant reward) until the reward halves; ``None`` when the reward is already 0.

    Assumes no recycling in between: recycling lowers issuance and so adds blocks.
    """
    reward = block_reward(issuance)
    if reward == 0:
        return None
    gap = next_halving_issuance(issuance) - issuance
    return -(-gap // reward)  # ceil division
