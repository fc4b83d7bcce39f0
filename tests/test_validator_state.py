"""Score state: moving average, hotkey resets, penalties, atomic persistence and replay."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from validators.challenges import Challenge, build_challenges
from validators.rewards import Response, RewardSettings, score_challenge, step_rewards
from validators.state import (
    ScoreSettings,
    ScoreState,
    ScoreStateError,
    from_json,
    load_state,
    penalise,
    save_state,
    scores_vector,
    sync_hotkeys,
    to_json,
    update,
    weights_from_scores,
)

ALPHA = ScoreSettings(ema_alpha=0.25)
HOTKEYS = {0: "hk0", 1: "hk1", 2: "hk2", 3: "hk3"}


def test_ema_math() -> None:
    state = ScoreState()
    expected = 0.0
    for step, reward in enumerate([1.0, 0.0, 0.5, 1.0, 1.0]):
        state = update(state, step, {0: reward}, HOTKEYS, ALPHA)
        expected = 0.75 * expected + 0.25 * reward
        assert state.miners[0].score == pytest.approx(expected, abs=1e-15)
    assert state.step == 4
    assert state.miners[0].hotkey == "hk0"
    state = update(state, 5, {0: np.float32(0.5)}, HOTKEYS, ALPHA)  # numpy scalars are accepted
    assert state.miners[0].score == pytest.approx(0.75 * expected + 0.25 * 0.5)


def test_only_queried_uids_move() -> None:
    state = update(ScoreState(), 0, {0: 1.0, 1: 1.0}, HOTKEYS, ALPHA)
    state = update(state, 1, {0: 0.0}, HOTKEYS, ALPHA)
    assert state.miners[1].score == pytest.approx(0.25)  # not asked in step 1: unchanged
    assert state.miners[0].score == pytest.approx(0.25 * 0.75)
    assert 2 not in state.miners


def test_new_hotkey_starts_from_zero_and_departed_uids_are_forgotten() -> None:
    state = ScoreState()
    for step in range(10):
        state = update(state, step, {0: 1.0, 1: 1.0, 2: 1.0}, HOTKEYS, ALPHA)
    assert state.miners[1].score > 0.9
    replaced = {0: "hk0", 1: "someone-else", 3: "hk3"}  # uid 1 re-registered, uid 2 left
    state = update(state, 10, {1: 0.4}, replaced, ALPHA)
    assert state.miners[1].hotkey == "someone-else"
    assert state.miners[1].score == pytest.approx(0.25 * 0.4)  # from 0, not from the old 0.94
    assert 2 not in state.miners
    assert state.miners[0].score > 0.9
    assert sync_hotkeys(state, {}).miners == {}


def test_penalty_window() -> None:
    state = ScoreState()
    for step in range(5):
        state = update(state, step, {0: 1.0, 1: 1.0}, HOTKEYS, ALPHA)
    state = penalise(state, 0, "hk0", from_step=5, duration_steps=3)
    assert state.miners[0].score == 0.0
    for step in (5, 6, 7):
        assert state.penalised(0, step)
        assert scores_vector(state, 4, step=step)[0] == 0.0
        state = update(state, step, {0: 1.0, 1: 1.0}, HOTKEYS, ALPHA)
        assert state.miners[0].score == 0.0  # perfect answers count as 0 while penalised
    assert not state.penalised(0, 8)
    state = update(state, 8, {0: 1.0}, HOTKEYS, ALPHA)
    assert state.miners[0].score == pytest.approx(0.25)
    assert scores_vector(state, 4, step=8)[0] == pytest.approx(0.25)
    # A shorter penalty does not shorten a longer one; a new hotkey at the uid does not inherit it.
    state = penalise(state, 1, "hk1", from_step=9, duration_steps=10)
    state = penalise(state, 1, "hk1", from_step=9, duration_steps=2)
    assert state.miners[1].penalty_until_step == 19
    state = update(state, 9, {1: 1.0}, {**HOTKEYS, 1: "new"}, ALPHA)
    assert state.miners[1].penalty_until_step == 0 and state.miners[1].score == pytest.approx(0.25)
    with pytest.raises(ValueError, match="duration_steps"):
        penalise(state, 1, "new", from_step=9, duration_steps=-1)


def test_update_refuses_bad_input() -> None:
    state = update(ScoreState(), 3, {0: 0.5}, HOTKEYS, ALPHA)
    with pytest.raises(ValueError, match="not after"):
        update(state, 3, {0: 0.5}, HOTKEYS, ALPHA)
    for bad in (float("nan"), -0.1, 1.5, float("inf")):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            update(state, 4, {0: bad}, HOTKEYS, ALPHA)
    with pytest.raises(ValueError, match="not in the metagraph"):
        update(state, 4, {9: 0.5}, HOTKEYS, ALPHA)
    with pytest.raises(ValueError, match="ema_alpha"):
        ScoreSettings(ema_alpha=0.0)


def test_scores_vector_and_weights() -> None:
    state = update(ScoreState(), 0, {0: 1.0, 2: 0.5, 7: 1.0}, {**HOTKEYS, 7: "hk7"}, ALPHA)
    scores = scores_vector(state, 4, step=1)  # uid 7 is beyond the metagraph size given
    assert scores.shape == (4,) and scores.dtype == np.float64
    assert scores.tolist() == pytest.approx([0.25, 0.0, 0.125, 0.0])
    weights = weights_from_scores(scores)
    assert weights.sum() == pytest.approx(1.0)
    assert weights.tolist() == pytest.approx([2 / 3, 0.0, 1 / 3, 0.0])
    assert weights_from_scores(np.zeros(5)).tolist() == [0.0] * 5
    for bad in ([0.1, -0.1], [float("nan"), 1.0]):
        with pytest.raises(ValueError, match="finite"):
            weights_from_scores(np.array(bad))


# --- persistence ----------------------------------------------------------------------------------------------


def sample_state() -> ScoreState:
    state = ScoreState()
    for step in range(4):
        state = update(state, step, {0: 0.1, 1: 1 / 3, 3: 5e-324}, HOTKEYS, ScoreSettings(ema_alpha=0.3))
    return penalise(state, 1, "hk1", from_step=4, duration_steps=7)


def test_round_trip_is_exact(tmp_path: Path) -> None:
    state = sample_state()
    path = tmp_path / "scores.json"
    save_state(state, path)
    loaded = load_state(path)
    assert loaded == state
    assert [r.score for r in loaded.miners.values()] == [r.score for r in state.miners.values()]  # bit for bit
    doc = json.loads(path.read_text())
    assert doc["format"] == "subnet-validator-scores" and doc["version"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["scores.json"]  # no temp file left behind
    save_state(update(loaded, 4, {0: 1.0}, HOTKEYS, ALPHA), path)  # overwrite in place
    assert load_state(path).step == 4


def test_missing_file(tmp_path: Path) -> None:
    assert load_state(tmp_path / "none.json") == ScoreState()
    with pytest.raises(FileNotFoundError):
        load_state(tmp_path / "none.json", missing_ok=False)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda text: text[: len(text) // 2], "not valid JSON"),
        (lambda text: "", "not valid JSON"),
        (lambda text: text.replace('"step": 3', '"step": 30'), "checksum"),
        (lambda text: text.replace('"version": 1', '"version": 2'), "version"),
        (lambda text: json.dumps({"hello": 1}), "not a validator score file"),
        (lambda text: "[1, 2]", "not a validator score file"),
    ],
)
def test_damaged_file_is_refused(tmp_path: Path, damage: Callable[[str], str], message: str) -> None:
    path = tmp_path / "scores.json"
    save_state(sample_state(), path)
    path.write_text(damage(path.read_text()))
    with pytest.raises(ScoreStateError, match=message):
        load_state(path)


def test_malformed_body_with_valid_checksum_is_refused() -> None:
    doc = json.loads(to_json(sample_state()))
    doc["body"]["miners"][0]["score"] = "high"
    doc["sha256"] = hashlib.sha256(json.dumps(doc["body"], sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    with pytest.raises(ScoreStateError, match="malformed"):
        from_json(json.dumps(doc))


def test_flipped_byte_anywhere_is_detected_or_harmless() -> None:
    text = to_json(sample_state())
    rng = random.Random(0)
    for _ in range(200):
        i = rng.randrange(len(text))
        damaged = text[:i] + chr((ord(text[i]) + 1) % 128) + text[i + 1 :]
        try:
            loaded = from_json(damaged)
        except ScoreStateError:
            continue
        assert loaded == sample_state()  # only whitespace-like changes may parse, and then nothing changed


# --- replay ---------------------------------------------------------------------------------------------------


REFERENCE = "Bees carry pollen between flowers, so plants can make the seeds and fruit that many animals eat."


def miner_answer(uid: int, challenge: Challenge) -> Response:
    """Deterministic stand-ins for miners of different quality (answers are a pure function of the challenge)."""
    if uid == 0:  # always right, fast, whole open answers
        if challenge.expected is None:
            return Response(REFERENCE, 1.0, completeness=1.0)
        return Response(f"The answer is {challenge.expected}.", 1.0)
    if uid == 1:  # right on every other challenge, slower, open answers cut at half
        right = challenge.seed % 2 == 0
        if challenge.expected is None:
            return Response("Bees " + "buzz around the garden all day long " * 2, 4.0, completeness=0.5)
        return Response(challenge.expected if right else "I do not know", 4.0)
    if uid == 2:  # always times out
        return Response.failed("timeout")
    return replace(miner_answer(0, challenge), latency_s=3.0)  # uid 3 relays uid 0's answers: the same, later


def run_steps(seed: int, n_steps: int) -> ScoreState:
    rng = random.Random(seed)
    state = ScoreState()
    reward_cfg = RewardSettings()
    for step in range(n_steps):
        challenges = build_challenges(rng, 4, 1)
        per_challenge = []
        for ch in challenges:
            responses = {uid: miner_answer(uid, ch) for uid in HOTKEYS}
            per_challenge.append(score_challenge(ch, responses, deadline_s=10.0, settings=reward_cfg))
        rewards = step_rewards(per_challenge, list(HOTKEYS))
        if step == 3:
            state = penalise(state, 1, "hk1", from_step=step, duration_steps=2)
        state = update(state, step, rewards, HOTKEYS, ALPHA)
    return state


def test_replay_gives_the_same_state() -> None:
    a, b = run_steps(11, 12), run_steps(11, 12)
    assert to_json(a) == to_json(b)
    assert to_json(run_steps(12, 12)) != to_json(a)
    # The timing-out miner has nothing; a relay, slower than its source by construction, earns less.
    assert a.miners[2].score == 0.0
    assert a.miners[3].score < a.miners[0].score
    assert 0.6 < a.miners[0].score <= 1.0
    assert a.miners[1].score > 0.0
