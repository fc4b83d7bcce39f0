"""One epoch of Yuma consensus, as the subtensor chain computes it (see docs/CONSENSUS.md §4).

The function is pure: the chain node maps its uid-indexed state onto dense matrices (validators with a permit
as rows, serving uids as columns), calls :func:`epoch`, and stores the results. The chain keeps weights and bonds
as u16 between epochs; those quantisation steps are reproduced here so results match the chain, not only a float
ideal. All maths is vectorised numpy in float64.

Shapes: V validators (rows), M miners (columns).

Zero stake means no permit, this very epoch. A row whose stake is 0 (after normalisation) counts for nothing:
its weights take no part in consensus, ranks or bonds, its validator trust and dividends are 0 and its bond row
is cleared (so it does not dilute the others' classic bond shares either). This departs from subtensor on purpose:
there the row keeps its validator trust for that epoch (its permit is the previous epoch's) and, with classic
bonds, is paid dividends on its old bonds one last time. The chain node passes S = 0 for rows whose stake was
removed and for inactive rows or rows below the stake threshold, so all of those count for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from consensus.units import U16_MAX


@dataclass(frozen=True)
class YumaParams:
    kappa: float = 32767 / 65535  # majority quantile
    bond_penalty: float = 1.0  # beta in [0, 1]
    bonds_moving_average: float = 0.9  # EMA alpha = 1 - bonds_moving_average (chain semantics)
    yuma3: bool = True  # our default (the chain's is False = classic column-normalised bonds)
    liquid_alpha: bool = False  # Yuma 3 only
    alpha_low: float = 0.7
    alpha_high: float = 0.9
    alpha_sigmoid_steepness: float = 10.0

    def __post_init__(self) -> None:
        checks = {
            "kappa": 0.0 <= self.kappa <= 1.0,
            "bond_penalty": 0.0 <= self.bond_penalty <= 1.0,
            "bonds_moving_average": 0.0 <= self.bonds_moving_average <= 1.0,
            "alpha_low/alpha_high": 0.0 <= self.alpha_low <= self.alpha_high <= 1.0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"YumaParams out of range: {', '.join(bad)} (each must lie in [0, 1])")


@dataclass
class YumaResult:
    consensus: np.ndarray  # (M,) per-miner kappa-quantile, not normalised
    incentive: np.ndarray  # (M,) sums to 1 unless every rank is 0
    validator_trust: np.ndarray  # (V,)
    dividends: np.ndarray  # (V,) sums to 1 unless all zero
    bonds: np.ndarray  # (V, M) the state to pass to the next call (u16 levels / 65535)

    @property
    def bonds_u16(self) -> np.ndarray:
        """The bonds exactly as the chain stores them (V, M) uint16."""
        return np.rint(self.bonds * U16_MAX).astype(np.uint16)


def epoch(
    W: np.ndarray,
    S: np.ndarray,
    bonds_prev: np.ndarray | None,
    params: YumaParams,
    *,
    reset_bond_columns: Iterable[int] = (),
    submitted: np.ndarray | None = None,
) -> YumaResult:
    """Run one Yuma epoch.

    W: (V, M) raw non-negative weights, rows = validators, columns = miners (not yet normalised).
    S: (V,) raw stakes, any non-negative scale; a row with zero stake gets trust 0, dividends 0 and an all-zero
    bond row, and its weights affect nobody (see the module docstring). bonds_prev: (V, M) ``YumaResult.bonds``
    of the previous call, or None at the start. reset_bond_columns: miner indices whose bond column is zeroed
    before this epoch (bonds reset and recently registered miners). submitted: optional (V, M) bool mask of the
    entries each validator actually submitted; by default every entry counts as submitted (explicit zeros). It
    only matters for the liquid-alpha quirk of the chain, where a pair absent from the weight row loses its bond
    at once instead of decaying.

    Guarantees: no NaN or inf for any finite non-negative input; incentive and dividends each sum to 1 or are
    all zero; bonds are u16 levels (multiples of 1/65535) in [0, 1].
    """
    W = np.asarray(W, dtype=np.float64)
    S = np.asarray(S, dtype=np.float64)
    if W.ndim != 2 or S.shape != (W.shape[0],):
        raise ValueError(f"expected W of shape (V, M) and S of shape (V,), got {W.shape} and {S.shape}")
    if not (np.isfinite(W).all() and np.isfinite(S).all()) or (W < 0).any() or (S < 0).any():
        raise ValueError("weights and stakes must be finite and non-negative")
    n_val, n_miners = W.shape
    present = np.ones(W.shape, dtype=bool) if submitted is None else np.asarray(submitted, dtype=bool)

    stake = _normalise(S)  # (V,)
    # Rows without stake hold no permit this epoch (see the module docstring): their weights are emptied here,
    # which zeroes their trust and bond weights, and their old bonds are dropped below.
    staked = stake > 0  # (V,)
    # Entries not submitted take no part, so they must not count in their row's normalisation either.
    W = np.where(present, W, 0.0)
    weights = _row_normalise(quantise_weight_rows(W).astype(np.float64))  # (V, M), rows sum to 1 or 0
    weights[~staked] = 0.0

    consensus = weighted_quantile_columns(weights, stake, params.kappa)  # (M,)
    clipped = np.minimum(weights, consensus[np.newaxis, :])  # (V, M); zero wherever consensus is zero
    validator_trust = clipped.sum(axis=1)  # (V,)

    ranks = stake @ clipped  # (M,)
    incentive = _normalise(ranks)

    beta = params.bond_penalty
    bond_weights = (1.0 - beta) * weights + beta * clipped  # (V, M)

    old_u16 = _bonds_to_u16(bonds_prev, W.shape)
    reset = list(reset_bond_columns)
    if reset:
        old_u16[:, reset] = 0
    old_u16[~staked] = 0

    if params.yuma3:
        bonds, dividends = _yuma3_bonds(
            bond_weights, old_u16, stake, consensus, incentive, params,
            in_row=_bond_weight_entries(present, weights, consensus, bond_weights, beta),
        )
    else:
        bonds, dividends = _classic_bonds(bond_weights, old_u16, stake, incentive, params)
    assert bonds.shape == (n_val, n_miners)
    return YumaResult(
        consensus=consensus,
        incentive=incentive,
        validator_trust=validator_trust,
        dividends=dividends,
        bonds=bonds,
    )


_QUANTILE_TOLERANCE = 1e-12


def weighted_quantile_columns(values: np.ndarray, stake: np.ndarray, kappa: float) -> np.ndarray:
    """Stake-weighted kappa-quantile of every column at once: (V, M), (V,) -> (M,).

    For column j, the result is the largest value w among the column's entries such that the stake of the rows
    giving at least w is >= kappa (of the total positive stake), which is what the chain's partition search
    returns. Rows with zero stake take no part; with no positive stake the result is 0.
    """
    values = np.asarray(values, dtype=np.float64)
    stake = np.asarray(stake, dtype=np.float64)
    n_miners = values.shape[1]
    voters = stake > 0
    if not voters.any() or n_miners == 0:
        return np.zeros(n_miners)
    share = stake[voters] / stake[voters].sum()  # (V',)
    minority = share.sum() - kappa
    # Sort each column once; cumulative stake strictly below each sorted position.
    cols = np.ascontiguousarray(values[voters].T)  # (M, V') so every sort runs over contiguous memory
    # Any sort order works: entries with equal values give the same answer whichever comes first.
    order = np.argsort(cols, axis=1)  # (M, V')
    sorted_vals = np.take_along_axis(cols, order, axis=1)
    sorted_share = share[order]  # (M, V')
    below = np.cumsum(sorted_share, axis=1) - sorted_share  # stake strictly before each position
    # `below` is non-decreasing along each row, so the last position whose stake-below fits in the minority is
    # found by counting. It always exists when minority >= 0 (position 0 has nothing below it).
    # The tolerance keeps an exact tie on the boundary (a row holding exactly kappa of the stake) on the side the
    # chain's fixed-point arithmetic puts it, whatever order the float cumulative sum rounds in.
    last = np.count_nonzero(below <= minority + _QUANTILE_TOLERANCE, axis=1) - 1  # (M,)
    last = np.clip(last, 0, None)
    return sorted_vals[np.arange(n_miners), last]


def quantise_weight_rows(W: np.ndarray) -> np.ndarray:
    """Store weights as the chain does: each row max-upscaled to 65535 and rounded half away from zero.

    (V, M) non-negative floats -> (V, M) uint16. A row of zeros stays zeros.
    """
    W = np.asarray(W, dtype=np.float64)
    row_max = W.max(axis=1, keepdims=True) if W.size else np.zeros((W.shape[0], 1))
    # Divide first: W * 65535 overflows for weights near the float maximum.
    scaled = np.divide(W, row_max, out=np.zeros_like(W), where=row_max > 0) * U16_MAX
    return np.floor(scaled + 0.5).astype(np.uint16)


def _bond_weight_entries(
    present: np.ndarray, weights: np.ndarray, consensus: np.ndarray, bond_weights: np.ndarray, beta: float
) -> np.ndarray:
    """Which (i, j) pairs exist in the chain's sparse bond-weight row (V, M) bool.

    beta = 0 keeps the submitted weights. beta = 1 keeps the clipped weights: the chain's clip drops an entry
    only when it exceeds a consensus of zero (an explicit zero weight survives). In between the chain keeps only
    strictly positive interpolated values.
    """
    if beta == 0.0:
        return present.copy()
    if beta == 1.0:
        return present & ~((weights > consensus[np.newaxis, :]) & (consensus <= 0)[np.newaxis, :])
    return bond_weights > 0


def _classic_bonds(
    bond_weights: np.ndarray, old_u16: np.ndarray, stake: np.ndarray, incentive: np.ndarray, params: YumaParams
) -> tuple[np.ndarray, np.ndarray]:
    """Classic (Yuma 2) bonds: EMA of column-normalised stake-weighted bonds; stored column-max-upscaled."""
    alpha = 1.0 - params.bonds_moving_average
    old = _col_normalise(old_u16.astype(np.float64))  # stored u16 read as raw numbers, then normalised
    delta = _col_normalise(bond_weights * stake[:, np.newaxis])  # (V, M)
    ema = _col_normalise(alpha * delta + (1.0 - alpha) * old)
    dividends = _normalise(ema @ incentive)  # (V,)
    col_max = ema.max(axis=0, keepdims=True) if ema.size else np.zeros((1, ema.shape[1]))
    upscaled = np.divide(ema, col_max, out=np.zeros_like(ema), where=col_max > 0)
    stored = np.floor(upscaled * U16_MAX)
    return stored / U16_MAX, dividends


def _yuma3_bonds(
    bond_weights: np.ndarray,
    old_u16: np.ndarray,
    stake: np.ndarray,
    consensus: np.ndarray,
    incentive: np.ndarray,
    params: YumaParams,
    *,
    in_row: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Yuma 3 bonds: per-pair levels in [0, 1], not stake-weighted; dividends by stake x bond share x incentive."""
    old = old_u16.astype(np.float64) / U16_MAX  # (V, M) absolute levels
    if params.liquid_alpha and (consensus != 0).any():
        alpha = liquid_alpha(bond_weights, old, consensus, params)  # (V, M)
        decayed = (1.0 - alpha) * old
        bought = np.minimum(alpha * bond_weights, np.maximum(1.0 - decayed, 0.0))
        bonds = np.minimum(decayed + bought, 1.0)
        # The chain only walks the pairs present in the bond-weight row: the others lose their bond at once.
        bonds = np.where(in_row, bonds, 0.0)
    else:
        alpha = 1.0 - params.bonds_moving_average
        bonds = alpha * bond_weights + (1.0 - alpha) * old
    bonds = np.clip(bonds, 0.0, 1.0)
    share = _col_normalise(bonds)  # each miner's bonds as shares
    dividends = _normalise(stake * (share @ incentive))  # (V,)
    stored = np.floor(bonds * U16_MAX)
    return stored / U16_MAX, dividends


def liquid_alpha(
    bond_weights: np.ndarray, old_bonds: np.ndarray, consensus: np.ndarray, params: YumaParams
) -> np.ndarray:
    """Per-pair EMA rate (V, M): slow (alpha_low) for validators that agree with consensus, fast when far off.

    Buying (weight >= bond): distance = weight - consensus; selling: distance = bond - weight; both clamped to
    [0, 1] and passed through a sigmoid centred at 0.5 whose exponent is clamped to +-20 as on chain.
    """
    buying = bond_weights >= old_bonds
    distance = np.where(buying, bond_weights - consensus[np.newaxis, :], old_bonds - bond_weights)
    distance = np.clip(distance, 0.0, 1.0)
    exponent = np.clip(-params.alpha_sigmoid_steepness * (distance - 0.5), -20.0, 20.0)
    sigmoid = 1.0 / (1.0 + np.exp(exponent))
    alpha = params.alpha_low + sigmoid * (params.alpha_high - params.alpha_low)
    return np.clip(alpha, params.alpha_low, params.alpha_high)


def _bonds_to_u16(bonds_prev: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """Bonds state as stored u16 values (V, M); None means no bonds yet."""
    if bonds_prev is None:
        return np.zeros(shape, dtype=np.int64)
    bonds = np.asarray(bonds_prev, dtype=np.float64)
    if bonds.shape != shape:
        raise ValueError(f"bonds_prev has shape {bonds.shape}, expected {shape} (one row per validator)")
    bonds = np.nan_to_num(bonds, nan=0.0, posinf=1.0, neginf=0.0)
    return np.rint(np.clip(bonds, 0.0, 1.0) * U16_MAX).astype(np.int64)


def _normalise(x: np.ndarray) -> np.ndarray:
    """x / sum(x), or zeros when the sum is not positive (scaled by the maximum first, so the sum cannot
    overflow for values near the float maximum)."""
    peak = x.max() if x.size else 0.0
    if not peak > 0:
        return np.zeros_like(x)
    scaled = x / peak
    return scaled / scaled.sum()


def _row_normalise(x: np.ndarray) -> np.ndarray:
    sums = x.sum(axis=1, keepdims=True)
    return np.divide(x, sums, out=np.zeros_like(x), where=sums > 0)


def _col_normalise(x: np.ndarray) -> np.ndarray:
    sums = x.sum(axis=0, keepdims=True)
    return np.divide(x, sums, out=np.zeros_like(x), where=sums > 0)
