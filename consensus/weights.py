"""Weight processing as the chain's ``set_weights`` does it, and validator permits.

The validator side converts float scores to u16 with :func:`weights_to_u16` (after capping with
:func:`normalize_max_weight` when the subnet has a max weight limit); the chain side checks a submitted row with
:func:`process_weights` and stores the max-upscaled u16 values it returns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from consensus.units import U16_MAX


class WeightsError(ValueError):
    """A weight row the chain refuses. ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def max_upscale_u16(values: Sequence[int]) -> list[int]:
    """Scale u16 values so the largest becomes 65535, rounding half away from zero (the chain's storage step).

    A row whose maximum is 0 is returned unchanged.
    """
    top = max(values, default=0)
    if top == 0:
        return list(values)
    # Integer arithmetic: round(v * 65535 / top) with halves going up, exactly.
    return [(2 * v * U16_MAX + top) // (2 * top) for v in values]


def weights_to_u16(weights: Sequence[float] | np.ndarray) -> list[int]:
    """Float weights -> u16 as a client submits them: divide by the max, scale to 65535, round.

    Raises WeightsError for negative or non-finite weights. All-zero weights give all zeros.
    """
    w = np.asarray(weights, dtype=np.float64)
    if not np.isfinite(w).all() or (w < 0).any():
        raise WeightsError("invalid_weight", "weights must be finite and non-negative")
    top = w.max(initial=0.0)
    if top <= 0:
        return [0] * len(w)
    return [int(v) for v in np.floor(w / top * U16_MAX + 0.5)]


def normalize_max_weight(weights: Sequence[float] | np.ndarray, limit: float) -> np.ndarray:
    """Normalise weights to sum 1 with no entry above ``limit``, spreading the excess over the others.

    Used before submission so a row passes the subnet's max weight limit. If ``limit * n < 1`` the
    result is uniform (no row can satisfy the limit).
    """
    w = np.asarray(weights, dtype=np.float64)
    n = len(w)
    if n == 0:
        return w
    total = w.sum()
    if total <= 0 or limit * n <= 1:
        return np.full(n, 1.0 / n)
    w = w / total
    if w.max() <= limit:
        return w
    # Pin the k largest entries at `limit` and share the remaining mass (1 - k*limit) among the others in
    # proportion to their weight (uniformly if they are all zero); take the smallest k that keeps the others
    # at or below the limit. Entry order never changes, so pinning the largest first is exact.
    order = np.sort(w)[::-1]
    for k in range(1, n):
        rest = order[k:].sum()
        remaining = 1.0 - k * limit
        pinned = w >= order[k - 1]
        with np.errstate(over="ignore", divide="ignore"):
            dust = rest <= 0 or not np.isfinite(remaining / rest)
        if dust:  # nothing (or only denormal dust) left to scale
            return np.where(pinned, limit, remaining / (n - k))
        if order[k] * remaining <= limit * rest:
            out = np.where(pinned, limit, w * (remaining / rest))
            return out / out.sum()
    return np.full(n, 1.0 / n)


def process_weights(
    uids: Sequence[int],
    values: Sequence[int],
    *,
    n: int,
    self_uid: int | None = None,
    min_allowed_weights: int = 1,
    max_weight_limit: int = U16_MAX,
) -> tuple[list[int], list[int]]:
    """Check a submitted weight row as ``set_weights`` does and return (uids, max-upscaled u16 values).

    n: number of uids in the subnet. Explicit zeros are kept (the stored row holds exactly the submitted uids).
    A pure self-weight is exempt from the length and max-weight checks. Raises WeightsError with a reason.
    """
    uids, values = list(uids), list(values)
    if len(uids) != len(values):
        raise WeightsError("length_mismatch", f"{len(uids)} uids but {len(values)} values: send one value per uid")
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 or v > U16_MAX for v in values):
        raise WeightsError("out_of_range", "weight values must be integers in [0, 65535]")
    if any(not isinstance(u, int) or isinstance(u, bool) or u < 0 or u >= n for u in uids):
        raise WeightsError("invalid_uid", f"every uid must be in [0, {n - 1}]")
    if len(set(uids)) != len(uids):
        raise WeightsError("duplicate_uid", "each uid may appear once in a weight row")
    is_self_weight = self_uid is not None and uids == [self_uid]
    if not is_self_weight:
        needed = min(min_allowed_weights, n)
        if len(uids) < needed:
            raise WeightsError(
                "too_few_weights", f"{len(uids)} weights set but the subnet requires at least {needed}"
            )
        if max_weight_limit < U16_MAX:
            total = sum(values)
            top = max(values, default=0)
            # Normalised max must not exceed limit / 65535; compared in integers to avoid float edges.
            if total > 0 and top * U16_MAX > max_weight_limit * total:
                raise WeightsError(
                    "max_weight_exceeded",
                    f"the largest weight is {top / total:.4f} of the row; the limit is "
                    f"{max_weight_limit / U16_MAX:.4f} (cap it with normalize_max_weight)",
                )
    return uids, max_upscale_u16(values)


def validator_permits(stake: Sequence[float] | np.ndarray, k: int) -> np.ndarray:
    """Top-k uids by stake among those with non-zero stake (the chain's ``is_topk_nonzero``). (n,) -> (n,) bool.

    Ties go through a stable ascending sort, so among equal stakes the lower uid is dropped first.
    """
    s = np.asarray(stake)
    permits = s != 0
    n = len(s)
    if n <= k:
        return permits
    order = np.argsort(s, kind="stable")  # ascending; equal stakes keep uid order, lowest first
    permits[order[: n - k]] = False
    return permits
