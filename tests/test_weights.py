"""set_weights processing and validator permits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.weights import (
    WeightsError,
    max_upscale_u16,
    normalize_max_weight,
    process_weights,
    validator_permits,
    weights_to_u16,
)


def test_max_upscale_rounds_half_away_from_zero() -> None:
    assert max_upscale_u16([2, 1, 0]) == [65535, 32768, 0]  # 32767.5 rounds up
    assert max_upscale_u16([0, 0]) == [0, 0]
    assert max_upscale_u16([65535, 100]) == [65535, 100]


def test_weights_to_u16_scales_by_max() -> None:
    assert weights_to_u16([0.5, 0.25, 0.0]) == [65535, 32768, 0]
    assert weights_to_u16([0.0, 0.0]) == [0, 0]
    with pytest.raises(WeightsError):
        weights_to_u16([0.1, -0.1])


@pytest.mark.parametrize(
    ("uids", "values", "reason"),
    [
        ([0, 1], [1], "length_mismatch"),
        ([0, 0], [1, 1], "duplicate_uid"),
        ([0, 9], [1, 1], "invalid_uid"),
        ([0, -1], [1, 1], "invalid_uid"),
        ([0, 1], [1, 70000], "out_of_range"),
        ([0], [1], "too_few_weights"),
        ([0, 1, 2], [65535, 1, 1], "max_weight_exceeded"),
    ],
)
def test_process_weights_refusals(uids, values, reason) -> None:
    with pytest.raises(WeightsError) as err:
        process_weights(uids, values, n=4, self_uid=3, min_allowed_weights=2, max_weight_limit=40000)
    assert err.value.reason == reason
    assert str(err.value)


def test_process_weights_keeps_explicit_zeros_and_upscales() -> None:
    uids, values = process_weights([2, 0, 1], [10, 0, 5], n=3, min_allowed_weights=3)
    assert uids == [2, 0, 1]
    assert values == [65535, 0, 32768]


def test_self_weight_is_exempt_from_length_rule() -> None:
    assert process_weights([3], [7], n=4, self_uid=3, min_allowed_weights=3) == ([3], [65535])


def test_permits_top_k_drop_lower_uid_on_ties() -> None:
    stake = [5, 1, 3, 3, 0, 3]
    assert validator_permits(stake, 3).tolist() == [True, False, False, True, False, True]
    # Fewer candidates than slots: every non-zero stake gets one.
    assert validator_permits([0, 2, 1], 5).tolist() == [False, True, True]


def test_normalize_max_weight_survives_denormal_weights() -> None:
    out = normalize_max_weight([1.0, 15.0, 2.2250738585072014e-308], 0.375)
    assert np.isfinite(out).all() and np.isclose(out.sum(), 1.0) and out.max() <= 0.375 + 1e-9


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=12),
    st.floats(0.05, 1.0),
)
def test_normalize_max_weight_respects_the_limit(weights, limit) -> None:
    out = normalize_max_weight(weights, limit)
    assert np.isclose(out.sum(), 1.0)
    assert (out >= 0).all()
    if limit * len(weights) > 1:
        assert out.max() <= limit + 1e-9
    w = np.asarray(weights)
    if w.sum() > 0 and limit * len(w) > 1:
        # Order is preserved: a larger input never gets a smaller output.
        order = np.argsort(w, kind="stable")
        assert (np.diff(out[order]) >= -1e-12).all()
