"""Reward functions and copy detection."""

from __future__ import annotations

import math
import random
import re
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from validators.challenges import Challenge, build_challenges
from validators.copying import CopySettings, apply_copy_penalty, find_copy_groups, normalise_for_copy
from validators.rewards import (
    Response,
    RewardSettings,
    combine,
    exact_quality,
    is_usable,
    open_quality,
    score_challenge,
    speed_score,
    step_rewards,
)

CFG = RewardSettings()


def exact(expected: str = "42", answer_type: str = "int") -> Challenge:
    return Challenge(
        id="t-exact",
        kind="exact",
        task="add",
        messages=({"role": "user", "content": "What is 40 + 2?"},),
        expected=expected,
        answer_type=answer_type,  # type: ignore[arg-type]
        max_new_tokens=32,
        temperature=0.0,
        seed=1,
    )


OPEN = replace(
    build_challenges(random.Random(3), 0, 1)[0],
    messages=(
        {"role": "system", "content": "Be helpful."},
        {"role": "user", "content": "What do bees make for the hive all day?"},
    ),
)


def word_overlap(a: str, b: str) -> float:
    """A plain similarity for tests of the reward arithmetic: Jaccard overlap of lower-cased word sets."""
    wa, wb = set(re.findall(r"\w+", a.lower())), set(re.findall(r"\w+", b.lower()))
    return len(wa & wb) / len(wa | wb) if wa | wb else 0.0


# --- single rewards -------------------------------------------------------------------------------------------


def test_exact_quality_is_zero_or_one() -> None:
    assert exact_quality(exact(), "The answer is 42.") == 1.0
    assert exact_quality(exact(), "41") == 0.0
    assert exact_quality(exact("4"), "42") == 0.0
    with pytest.raises(ValueError, match="not an exact challenge"):
        exact_quality(OPEN, "42")


def test_open_quality_floor_and_scale() -> None:
    floor = CFG.similarity_floor
    assert open_quality(0.0, CFG) == 0.0
    assert open_quality(floor, CFG) == 0.0
    assert open_quality(floor - 0.01, CFG) == 0.0
    assert open_quality(1.0, CFG) == 1.0
    assert open_quality(1.5, CFG) == 1.0
    assert open_quality((1 + floor) / 2, CFG) == pytest.approx(0.5)
    assert open_quality(math.nan, CFG) == 0.0
    assert open_quality(math.inf, CFG) == 0.0
    assert open_quality(np.float32(1.0), CFG) == 1.0  # numpy scalars count as numbers
    values = [open_quality(x / 100, CFG) for x in range(101)]
    assert values == sorted(values)  # monotone


def test_speed_score() -> None:
    assert speed_score(1.0, fastest_s=1.0, deadline_s=11.0) == 1.0
    assert speed_score(0.5, fastest_s=1.0, deadline_s=11.0) == 1.0
    assert speed_score(6.0, fastest_s=1.0, deadline_s=11.0) == pytest.approx(0.5)
    assert speed_score(11.0, fastest_s=1.0, deadline_s=11.0) == 0.0
    assert speed_score(12.0, fastest_s=1.0, deadline_s=11.0) == 0.0
    assert speed_score(5.0, fastest_s=11.0, deadline_s=10.0) == 1.0  # everyone near the deadline
    for bad in (math.nan, math.inf, -1.0):
        assert speed_score(bad, fastest_s=1.0, deadline_s=11.0) == 0.0


def test_combine_speed_counts_less_and_never_rescues_a_wrong_answer() -> None:
    assert combine(0.0, 1.0, CFG) == 0.0
    assert combine(math.nan, 1.0, CFG) == 0.0
    assert combine(1.0, 0.0, CFG) == pytest.approx(0.85)
    assert combine(1.0, 1.0, CFG) == pytest.approx(1.0)
    assert combine(1.0, math.nan, CFG) == pytest.approx(0.85)
    # Correct and slowest beats anything wrong; a better answer beats a faster one of lower quality.
    assert combine(1.0, 0.0, CFG) > combine(0.8, 1.0, CFG)


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="must be 1"):
        RewardSettings(quality_weight=0.8, speed_weight=0.1)
    with pytest.raises(ValueError, match="speed_weight <= quality_weight"):
        RewardSettings(quality_weight=0.4, speed_weight=0.6)
    with pytest.raises(ValueError, match="similarity_floor"):
        RewardSettings(similarity_floor=1.0)


def test_unusable_responses() -> None:
    ch = exact()
    assert is_usable(Response("42", 1.0), ch, CFG)
    assert not is_usable(Response.failed("timeout"), ch, CFG)
    assert not is_usable(Response("42", 1.0, error="unavailable"), ch, CFG)
    assert not is_usable(Response("  \n", 1.0), ch, CFG)
    assert not is_usable(Response("4" * (CFG.max_answer_chars + 1), 1.0), ch, CFG)
    assert not is_usable(Response("42", 1.0, n_tokens=ch.max_new_tokens + 1), ch, CFG)
    assert is_usable(Response("42", 1.0, n_tokens=ch.max_new_tokens), ch, CFG)


# --- one challenge, many miners -------------------------------------------------------------------------------


def test_score_exact_challenge() -> None:
    responses = {
        0: Response("42", latency_s=1.0),  # fastest correct
        1: Response("The answer is 42.", latency_s=6.0),  # correct, half way to the deadline
        2: Response("41", latency_s=0.1),  # fast but wrong
        3: Response.failed("timeout"),
        4: Response("", latency_s=0.2),
        5: Response("42", latency_s=1.0, n_tokens=500),  # more tokens than asked: lying or broken
        6: Response("42", latency_s=20.0),  # correct but after the deadline
    }
    rewards = score_challenge(exact(), responses, deadline_s=11.0, settings=CFG)
    assert rewards[0] == pytest.approx(1.0)
    assert rewards[1] == pytest.approx(0.85 + 0.15 * 0.5)
    assert rewards[2] == rewards[3] == rewards[4] == rewards[5] == 0.0
    assert rewards[6] == pytest.approx(0.85)
    assert set(rewards) == set(responses)


def test_score_open_challenge_with_a_similarity_function() -> None:
    reference = "bees pollinate flowers and make honey for the hive all day"
    responses = {
        0: Response(reference, latency_s=2.0),
        1: Response("all day bees pollinate flowers and make honey", latency_s=1.0),
        2: Response("zzz qqq xxx", latency_s=0.1),
        3: Response("What do bees make for the hive all day?", latency_s=0.1),  # echoes the question
        4: Response("All day, what do bees make for the hive?", latency_s=0.1),  # rephrases it
    }
    # The question alone is above the static floor, so only the question baseline stops the echo.
    assert word_overlap("What do bees make for the hive all day?", reference) > CFG.similarity_floor
    rewards = score_challenge(
        OPEN, responses, deadline_s=10.0, settings=CFG, reference=reference, similarity=word_overlap
    )
    assert rewards[2] == 0.0  # garbage is below the floor, however fast
    assert rewards[3] == rewards[4] == 0.0  # restating the question adds nothing to it
    assert rewards[0] > 0.85  # identical to the reference
    assert 0.0 < rewards[1] < rewards[0]
    with pytest.raises(ValueError, match="reference"):
        score_challenge(OPEN, responses, deadline_s=10.0, settings=CFG)


def test_open_quality_baseline_raises_the_floor() -> None:
    assert open_quality(0.7, CFG, baseline=0.7) == 0.0
    assert open_quality(0.6, CFG, baseline=0.7) == 0.0
    assert open_quality(0.85, CFG, baseline=0.7) == pytest.approx(0.5)
    assert open_quality(0.65, CFG, baseline=0.1) == pytest.approx(0.5)  # the static floor (0.3) binds
    assert open_quality(0.65, CFG, baseline=math.nan) == pytest.approx(0.5)
    assert open_quality(1.0, CFG, baseline=1.0) == 0.0


def test_step_rewards_mean_over_challenges() -> None:
    per_challenge = [{1: 1.0, 2: 0.5}, {1: 0.0, 2: 0.5, 3: 1.0}]
    assert step_rewards(per_challenge, [1, 2, 3, 4]) == {1: 0.5, 2: 0.5, 3: 0.5, 4: 0.0}
    assert step_rewards([], [1]) == {1: 0.0}


responses_strategy = st.builds(
    Response,
    text=st.one_of(st.text(max_size=60), st.sampled_from(["42", "The answer is 42.", "forty-two", ""])),
    latency_s=st.floats(allow_nan=True, allow_infinity=True),
    error=st.sampled_from([None, None, "timeout"]),
    n_tokens=st.one_of(st.none(), st.integers(min_value=-5, max_value=100)),
)


@settings(max_examples=200, deadline=None)
@given(
    responses=st.dictionaries(st.integers(0, 20), responses_strategy, min_size=1, max_size=8),
    deadline_s=st.floats(min_value=0.0, max_value=100.0),
)
def test_rewards_always_in_unit_interval(responses: dict[int, Response], deadline_s: float) -> None:
    for ch in (exact(), OPEN):
        kwargs = {"reference": "the answer is 42", "similarity": word_overlap} if ch.kind == "open" else {}
        rewards = score_challenge(ch, responses, deadline_s=deadline_s, settings=CFG, **kwargs)
        assert set(rewards) == set(responses)
        for uid, value in rewards.items():
            assert 0.0 <= value <= 1.0 and not math.isnan(value)
            if not is_usable(responses[uid], ch, CFG):
                assert value == 0.0


@settings(max_examples=300, deadline=None)
@given(quality=st.floats(), speed=st.floats(), similarity=st.floats(), baseline=st.floats())
def test_combine_and_quality_bounds(quality: float, speed: float, similarity: float, baseline: float) -> None:
    value = combine(quality, speed, CFG)
    assert 0.0 <= value <= 1.0
    if not quality > 0:
        assert value == 0.0
    assert 0.0 <= open_quality(similarity, CFG, baseline=baseline) <= 1.0


# --- copy detection -------------------------------------------------------------------------------------------

LONG = "Bees carry pollen from flower to flower, which helps plants make seeds and fruit for many animals."
OTHER = "Honey is made by bees from nectar, and a single hive can hold tens of thousands of busy workers."


def test_normalisation_undoes_trivial_edits() -> None:
    assert normalise_for_copy("  Hello,   WORLD!\n") == "hello world"
    assert normalise_for_copy(LONG) == normalise_for_copy(LONG.upper().replace(" ", "  ").replace(",", ""))


def test_identical_answers_are_grouped_and_short_ones_ignored() -> None:
    answers = {1: LONG, 2: LONG.upper() + "  ", 3: OTHER, 4: "42", 5: "42", 6: LONG.replace("seeds", "roots")}
    assert find_copy_groups([answers]) == [(1, 2)]
    assert find_copy_groups([{1: LONG, 2: OTHER}]) == []
    assert find_copy_groups([]) == []


def test_groups_join_across_requests_and_min_matches() -> None:
    first = {1: LONG, 2: LONG, 3: "a different answer " * 5}
    second = {2: OTHER, 3: OTHER, 4: "something else entirely " * 5}
    assert find_copy_groups([first, second]) == [(1, 2, 3)]
    assert find_copy_groups([first, second], CopySettings(min_matches=2)) == []
    assert find_copy_groups([first, {1: OTHER, 2: OTHER}], CopySettings(min_matches=2)) == [(1, 2)]
    assert find_copy_groups([{7: LONG, 5: LONG}, {9: OTHER, 8: OTHER}]) == [(5, 7), (8, 9)]


def test_copy_penalty_caps_at_the_lowest_reward() -> None:
    rewards = {1: 0.9, 2: 0.6, 3: 0.3, 4: 0.8}
    adjusted = apply_copy_penalty(rewards, [(1, 2)])
    assert adjusted == {1: 0.6, 2: 0.6, 3: 0.3, 4: 0.8}
    # A copier that did not answer this step drags the group to 0.
    assert apply_copy_penalty({1: 0.9, 2: 0.9}, [(1, 2, 3)]) == {1: 0.0, 2: 0.0}
    with pytest.raises(ValueError, match="disjoint"):
        apply_copy_penalty(rewards, [(1, 2), (2, 3)])


@settings(max_examples=200, deadline=None)
@given(
    rewards=st.dictionaries(st.integers(0, 15), st.floats(0.0, 1.0), min_size=2, max_size=16),
    data=st.data(),
)
def test_copy_penalty_properties(rewards: dict[int, float], data: st.DataObject) -> None:
    uids = sorted(rewards)
    shuffled = data.draw(st.permutations(uids))
    cut = data.draw(st.integers(0, len(shuffled)))
    groups = [g for g in (shuffled[:cut], shuffled[cut:]) if len(g) >= 2]
    adjusted = apply_copy_penalty(rewards, groups)
    assert set(adjusted) == set(rewards)
    for uid in uids:
        assert 0.0 <= adjusted[uid] <= rewards[uid]  # never raises a reward
    for group in groups:
        values = {adjusted[uid] for uid in group}
        assert len(values) == 1  # no member earns more than another
        assert max(adjusted[uid] for uid in group) == min(rewards[uid] for uid in group)
