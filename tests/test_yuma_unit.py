"""Hand-checked behaviours of the Yuma epoch that the public cases do not pin down."""

from __future__ import annotations

import numpy as np
import pytest

from consensus.yuma import YumaParams, epoch, quantise_weight_rows

CLASSIC = YumaParams(yuma3=False)
YUMA3 = YumaParams(yuma3=True)
LIQUID = YumaParams(yuma3=True, liquid_alpha=True)


def test_weights_are_stored_as_max_upscaled_u16() -> None:
    q = quantise_weight_rows(np.array([[0.2, 0.1, 0.0], [0.0, 0.0, 0.0], [1.0, 0.5000076, 0.49999]]))
    assert q.tolist() == [[65535, 32768, 0], [0, 0, 0], [65535, 32768, 32767]]


def test_consensus_is_the_kappa_quantile_and_clips_outliers() -> None:
    # Three validators with 40/35/25 stake; the 25% one overweights miner 1.
    W = np.array([[0.5, 0.5], [0.5, 0.5], [0.1, 0.9]])
    S = np.array([40.0, 35.0, 25.0])
    result = epoch(W, S, None, YUMA3)
    np.testing.assert_allclose(result.consensus, [0.5, 0.5], atol=1e-4)
    # The outlier's 0.9 on miner 1 is clipped to 0.5, so its trust is 0.1 + 0.5.
    np.testing.assert_allclose(result.validator_trust, [1.0, 1.0, 0.6], atol=1e-4)


def test_first_epoch_yuma3_bonds_are_alpha_times_clipped_weight() -> None:
    W = np.array([[1.0, 0.0], [1.0, 0.0]])
    result = epoch(W, np.array([1.0, 1.0]), None, YUMA3)
    # alpha = 1 - 0.9 = 0.1; stored as floor(0.1 * 65535) / 65535.
    assert result.bonds_u16.tolist() == [[6553, 0], [6553, 0]]
    np.testing.assert_allclose(result.dividends, [0.5, 0.5])


def test_bond_reset_zeroes_a_column_before_the_epoch() -> None:
    W = np.array([[0.5, 0.5], [0.5, 0.5]])
    S = np.array([3.0, 1.0])
    bonds = None
    for _ in range(5):
        bonds = epoch(W, S, bonds, YUMA3).bonds
    kept = epoch(W, S, bonds, YUMA3)
    reset = epoch(W, S, bonds, YUMA3, reset_bond_columns=[1])
    np.testing.assert_array_equal(reset.bonds[:, 0], kept.bonds[:, 0])
    # After a reset the column restarts from alpha * weight.
    np.testing.assert_allclose(reset.bonds[:, 1], np.floor(0.1 * 0.5 * 65535) / 65535)
    assert (reset.bonds[:, 1] < kept.bonds[:, 1]).all()


def test_liquid_alpha_drops_bonds_of_pairs_clipped_to_zero_consensus() -> None:
    # Epoch 0: everybody bonds to miner 0. Epoch 1: the big validator moves to miner 1, whose consensus
    # becomes 1 while miner 0's becomes 0. Validator 1 still weights miner 0 (clipped away: bond lost at once);
    # validator 0 submitted an explicit zero for miner 0 (kept in the row: its bond decays instead).
    S = np.array([0.8, 0.2])
    first = epoch(np.array([[1.0, 0.0], [1.0, 0.0]]), S, None, LIQUID)
    second = epoch(np.array([[0.0, 1.0], [1.0, 0.0]]), S, first.bonds, LIQUID)
    assert second.consensus.tolist() == [0.0, 1.0]
    assert second.bonds[1, 0] == 0.0
    assert 0.0 < second.bonds[0, 0] < first.bonds[0, 0]
    # Same situation without liquid alpha: every old bond decays by the fixed rate.
    fixed = epoch(np.array([[0.0, 1.0], [1.0, 0.0]]), S, first.bonds, YUMA3)
    assert fixed.bonds[1, 0] == pytest.approx(np.floor(0.9 * first.bonds_u16[1, 0]) / 65535)


def test_unsubmitted_pairs_lose_bonds_under_liquid_alpha() -> None:
    S = np.array([0.5, 0.5])
    first = epoch(np.array([[1.0, 1.0], [1.0, 1.0]]), S, None, LIQUID)
    W = np.array([[1.0, 0.0], [1.0, 0.0]])
    submitted = np.array([[True, False], [True, True]])
    second = epoch(W, S, first.bonds, LIQUID, submitted=submitted)
    assert second.bonds[0, 1] == 0.0  # validator 0 did not submit miner 1
    assert second.bonds[1, 1] > 0.0  # validator 1 submitted an explicit zero


def test_an_unsubmitted_entry_does_not_dilute_its_row() -> None:
    # Validator 0 submitted only miner 0; a stray value under an unsubmitted entry must not take a share.
    S = np.array([0.5, 0.5])
    submitted = np.array([[True, False], [True, True]])
    stray = epoch(np.array([[1.0, 3.0], [1.0, 0.0]]), S, None, YUMA3, submitted=submitted)
    clean = epoch(np.array([[1.0, 0.0], [1.0, 0.0]]), S, None, YUMA3, submitted=submitted)
    for field in ("consensus", "incentive", "dividends", "validator_trust", "bonds"):
        np.testing.assert_array_equal(getattr(stray, field), getattr(clean, field))


def test_weights_and_stakes_near_the_float_maximum_keep_their_proportions() -> None:
    huge = np.finfo(np.float64).max / 2
    scaled = epoch(np.array([[huge, huge / 2], [huge / 2, huge]]), np.array([huge, huge]), None, YUMA3)
    plain = epoch(np.array([[1.0, 0.5], [0.5, 1.0]]), np.array([1.0, 1.0]), None, YUMA3)
    for field in ("consensus", "incentive", "dividends", "validator_trust", "bonds"):
        np.testing.assert_allclose(getattr(scaled, field), getattr(plain, field), atol=1e-12)


def test_classic_dividends_follow_stake_weighted_bonds() -> None:
    W = np.array([[1.0, 0.0], [0.0, 1.0]])
    S = np.array([3.0, 1.0])
    result = epoch(W, S, None, CLASSIC)
    # Miner 0 has consensus 1 (75% of stake), miner 1 has 0: all incentive to miner 0, whose bonds all
    # belong to validator 0.
    np.testing.assert_allclose(result.incentive, [1.0, 0.0])
    np.testing.assert_allclose(result.dividends, [1.0, 0.0])
    assert result.bonds_u16.tolist() == [[65535, 0], [0, 0]]


@pytest.mark.parametrize("params", [CLASSIC, YUMA3, LIQUID], ids=["classic", "yuma3", "liquid-alpha"])
def test_a_row_without_stake_counts_for_nothing_in_the_epoch_its_stake_drops(params: YumaParams) -> None:
    # Epoch 0: three staked validators build bonds; validator 2 leans towards miner 2.
    W = np.array([[0.6, 0.4, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    first = epoch(W, np.array([50.0, 30.0, 20.0]), None, params)
    assert first.bonds_u16[2].any() and first.validator_trust[2] > 0
    # Epoch 1: validator 2 has removed all its stake but still has its weights and its old bonds.
    W1 = np.array([[0.6, 0.4, 0.0], [0.5, 0.5, 0.0], [0.3, 0.2, 0.5]])
    dropped = epoch(W1, np.array([50.0, 30.0, 0.0]), first.bonds, params)
    assert dropped.validator_trust[2] == 0.0
    assert dropped.dividends[2] == 0.0
    assert dropped.bonds_u16[2].tolist() == [0, 0, 0]
    # The other rows get exactly what they would get if the row were not there at all.
    alone = epoch(W1[:2], np.array([50.0, 30.0]), first.bonds[:2], params)
    np.testing.assert_array_equal(dropped.consensus, alone.consensus)
    np.testing.assert_allclose(dropped.incentive, alone.incentive, atol=1e-15)
    np.testing.assert_allclose(dropped.validator_trust[:2], alone.validator_trust, atol=1e-15)
    np.testing.assert_allclose(dropped.dividends[:2], alone.dividends, atol=1e-15)
    np.testing.assert_array_equal(dropped.bonds_u16[:2], alone.bonds_u16)
    assert dropped.incentive[2] == 0.0 and dropped.dividends.sum() == pytest.approx(1.0)


def test_rejects_bad_shapes_and_negative_input() -> None:
    with pytest.raises(ValueError, match="shape"):
        epoch(np.ones((2, 3)), np.ones(3), None, YUMA3)
    with pytest.raises(ValueError, match="non-negative"):
        epoch(-np.ones((2, 3)), np.ones(2), None, YUMA3)
    with pytest.raises(ValueError, match="bonds_prev"):
        epoch(np.ones((2, 3)), np.ones(2), np.ones((3, 3)), YUMA3)
    with pytest.raises(ValueError, match="kappa"):
        YumaParams(kappa=1.5)
