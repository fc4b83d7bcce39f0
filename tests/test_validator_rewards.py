"""Reward functions, and the text comparison behind relay probes."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from validators.challenges import Challenge, build_challenges
from validators.copying import MIN_COPY_WORDS, normalise_for_copy, same_answer
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


# --- single rewards -------------------------------------------------------------------------------------------


def test_exact_quality_is_zero_or_one() -> None:
    assert exact_quality(exact(), "The answer is 42.") == 1.0
    assert exact_quality(exact(), "41") == 0.0
    assert exact_quality(exact("4"), "42") == 0.0
    with pytest.raises(ValueError, match="not an exact challenge"):
        exact_quality(OPEN, "42")


def test_open_quality_is_the_inspected_completeness() -> None:
    assert open_quality(Response("text", 1.0, completeness=1.0)) == 1.0
    assert open_quality(Response("text", 1.0, completeness=0.25)) == 0.25
    # Not inspected (no model to inspect it with): nothing to pay, whatever the text says.
    assert open_quality(Response("a long and excellent answer", 1.0)) == 0.0
    for bad, expected in ((math.nan, 0.0), (math.inf, 0.0), (-0.5, 0.0), (1.5, 1.0)):
        assert open_quality(Response("text", 1.0, completeness=bad)) == expected
    assert open_quality(Response("text", 1.0, completeness=np.float32(0.5))) == 0.5  # numpy scalars are numbers


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


def test_score_open_challenge_pays_completeness_never_resemblance() -> None:
    reference_like = "bees pollinate flowers and make honey for the hive all day"
    responses = {
        0: Response("a whole answer of the admitted model", latency_s=2.0, completeness=1.0),
        1: Response("an answer cut at a quarter of the tokens asked", latency_s=1.0, completeness=0.25),
        # Text a validator's greedy reference could have written, but never inspected: it earns nothing.
        2: Response(reference_like, latency_s=0.1),
        3: Response("", latency_s=0.1, completeness=0.0),
    }
    rewards = score_challenge(OPEN, responses, deadline_s=10.0, settings=CFG)
    assert rewards[2] == rewards[3] == 0.0
    assert rewards[0] == pytest.approx(0.85 + 0.15 * (10.0 - 2.0) / (10.0 - 1.0))
    assert rewards[1] == pytest.approx(0.25)  # the fastest, but cut: speed scales with what it is worth
    assert rewards[0] > rewards[1]


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
    completeness=st.one_of(st.none(), st.floats()),
)


@settings(max_examples=200, deadline=None)
@given(
    responses=st.dictionaries(st.integers(0, 20), responses_strategy, min_size=1, max_size=8),
    deadline_s=st.floats(min_value=0.0, max_value=100.0),
)
def test_rewards_always_in_unit_interval(responses: dict[int, Response], deadline_s: float) -> None:
    for ch in (exact(), OPEN):
        rewards = score_challenge(ch, responses, deadline_s=deadline_s, settings=CFG)
        assert set(rewards) == set(responses)
        for uid, value in rewards.items():
            assert 0.0 <= value <= 1.0 and not math.isnan(value)
            if not is_usable(responses[uid], ch, CFG):
                assert value == 0.0


@settings(max_examples=300, deadline=None)
@given(quality=st.floats(), speed=st.floats())
def test_combine_bounds(quality: float, speed: float) -> None:
    value = combine(quality, speed, CFG)
    assert 0.0 <= value <= 1.0
    if not quality > 0:
        assert value == 0.0


# --- relay probes: when two answers are the same text -----------------------------------------------------------

LONG = "Bees carry pollen from flower to flower, which helps plants make seeds and fruit for many animals."
OTHER = "Honey is made by bees from nectar, and a single hive can hold tens of thousands of busy workers."


def test_normalisation_undoes_trivial_edits() -> None:
    assert normalise_for_copy("  Hello,   WORLD!\n") == "hello world"
    assert normalise_for_copy(LONG) == normalise_for_copy(LONG.upper().replace(" ", "  ").replace(",", ""))


def test_same_answer_needs_the_same_long_text() -> None:
    assert same_answer(LONG, LONG.upper() + "  ")
    assert not same_answer(LONG, OTHER)
    assert not same_answer(LONG, LONG.replace("seeds", "roots"))
    short = " ".join(["word"] * (MIN_COPY_WORDS - 1))
    assert not same_answer(short, short)  # short answers coincide by chance
    assert same_answer(short + " more", short + " more")
