"""Reward functions: what one miner's answer to one challenge is worth, in [0, 1].

The rules, in order of precedence:

1. A failed call (timeout, transport, decoding or verification error), an empty answer, an answer longer than
   allowed (more characters than ``max_answer_chars`` or more tokens than the challenge asked for) and an answer
   whose parsing fails (see ``score_challenge``) score 0.
2. Quality: an exact challenge scores 1 when the parsed answer equals the expected one, else 0 (no partial
   credit: for a sorting task, credit per position would pay a miner that echoes the unsorted input). An open
   challenge scores the answer's ``completeness`` as the validator's inspection found it (1 for a whole answer
   of the committed model, its share of ``max_new_tokens`` for one cut short without an end token, 0 when it
   was not inspected) times the committed model's weight: the likelihood that model gives the exact tasks'
   right answers, against the best model the validator holds (``validators.model_quality``). The validator pays
   open prompts for being the admitted model's own answers, which the spot checks verify, never for resembling
   any text of its own; a better model earns more for each of them, and a miner cannot earn by imitating.
3. Speed counts less than quality and scales with it: ``reward = quality * (quality_weight + speed_weight *
   speed)`` with weights that sum to 1, so a fast wrong or garbage miner earns nothing, and a nearly worthless
   answer cannot collect the speed share.
   Speed is 1 for the fastest useful answer of the challenge, falling linearly to 0 at the deadline.

Every function is pure (no clock, no I/O); none returns NaN; every reward is in [0, 1].
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from validators.answers import check_answer
from validators.challenges import Challenge


@dataclass(frozen=True)
class RewardSettings:
    """Weights and limits of the reward; ``quality_weight + speed_weight`` must be 1."""

    quality_weight: float = 0.85
    speed_weight: float = 0.15
    max_answer_chars: int = 4000

    def __post_init__(self) -> None:
        if not (0.0 <= self.speed_weight <= self.quality_weight <= 1.0):
            raise ValueError("weights must satisfy 0 <= speed_weight <= quality_weight <= 1")
        if not math.isclose(self.quality_weight + self.speed_weight, 1.0):
            raise ValueError(f"quality_weight + speed_weight must be 1, got {self.quality_weight + self.speed_weight}")


@dataclass(frozen=True)
class Response:
    """What one miner returned for one challenge, as the loop observed it (signature already verified).

    ``error`` is set (to a short reason such as "timeout" or "unavailable") when the call failed; ``latency_s``
    is the wall time from sending the request to holding the full answer; ``n_tokens`` the generated tokens;
    ``completeness`` what the validator's inspection found (``validators.reference.Verdict``), None when the
    answer was not inspected; ``model_weight`` how good the committed model is relative to the best admitted one.
    """

    text: str = ""
    latency_s: float = math.inf
    error: str | None = None
    n_tokens: int | None = None
    completeness: float | None = None
    model_weight: float = 1.0  # how good the committed model is against the best held one (validators.model_quality)

    @classmethod
    def failed(cls, reason: str) -> Response:
        """A call that produced no usable answer."""
        return cls(error=reason)


def _finite(x: float) -> bool:
    # numbers.Real covers numpy scalars (np.float32 is not a float subclass), so they are not silently zeroed.
    return isinstance(x, numbers.Real) and math.isfinite(x)


def is_usable(response: Response, challenge: Challenge, settings: RewardSettings) -> bool:
    """False for failed calls, blank answers, and answers over the character or token limit."""
    if response.error is not None or not response.text.strip():
        return False
    if len(response.text) > settings.max_answer_chars:
        return False
    return response.n_tokens is None or 0 <= response.n_tokens <= challenge.max_new_tokens


def exact_quality(challenge: Challenge, text: str) -> float:
    """1.0 if ``text`` answers the exact ``challenge`` correctly (tolerant parsing), else 0.0."""
    if challenge.kind != "exact" or challenge.expected is None or challenge.answer_type is None:
        raise ValueError(f"challenge {challenge.id} is not an exact challenge")
    return 1.0 if check_answer(challenge.answer_type, text, challenge.expected) else 0.0


def open_quality(response: Response) -> float:
    """The inspected completeness of an open answer times its model's weight, in [0, 1]; 0 when not inspected or
    not finite."""
    c, w = response.completeness, response.model_weight
    if c is None or not _finite(c) or not _finite(w):
        return 0.0
    return min(1.0, max(0.0, c)) * min(1.0, max(0.0, w))


def speed_score(latency_s: float, *, fastest_s: float, deadline_s: float) -> float:
    """1 at (or below) ``fastest_s``, falling linearly to 0 at ``deadline_s``; 0 past it or when not finite.

    When ``fastest_s >= deadline_s`` every answer within the deadline scores 1.
    """
    if not (_finite(latency_s) and _finite(fastest_s) and _finite(deadline_s)) or latency_s < 0:
        return 0.0
    if latency_s > deadline_s:
        return 0.0
    if latency_s <= fastest_s or fastest_s >= deadline_s:
        return 1.0
    return min(1.0, max(0.0, (deadline_s - latency_s) / (deadline_s - fastest_s)))


def combine(quality: float, speed: float, settings: RewardSettings) -> float:
    """``quality * (quality_weight + speed_weight * speed)``: 0 when quality is 0 (or not finite), and speed never
    adds more than its share of what the answer is worth.

    Inputs are clipped to [0, 1], so the result is always in [0, 1].
    """
    if not _finite(quality) or quality <= 0.0:
        return 0.0
    speed = min(1.0, max(0.0, speed)) if _finite(speed) else 0.0
    reward = min(1.0, quality) * (settings.quality_weight + settings.speed_weight * speed)
    return min(1.0, max(0.0, reward))


def score_challenge(
    challenge: Challenge,
    responses: Mapping[int, Response],
    *,
    deadline_s: float,
    settings: RewardSettings,
    on_error: Callable[[int, str], None] | None = None,
) -> dict[int, float]:
    """The reward of every miner (by uid) for one challenge.

    Open answers are worth their ``completeness`` (see :func:`open_quality`), exact ones their correctness. The
    speed reference is the fastest usable answer with a positive quality, so the fastest good miner gets the full
    speed share. Every uid of ``responses`` appears in the result, with a value in [0, 1].

    An answer that cannot be scored (parsing it raises, e.g. a list of numbers too long for ``int``) scores 0
    and is reported to ``on_error(uid, reason)``; the other miners' answers are scored as usual.
    """
    if challenge.kind != "open" and (challenge.expected is None or challenge.answer_type is None):
        raise ValueError(f"challenge {challenge.id} is not an exact challenge")  # our bug, not a miner's

    quality: dict[int, float] = {}
    for uid, response in responses.items():
        if not is_usable(response, challenge, settings):
            quality[uid] = 0.0
            continue
        try:
            quality[uid] = (open_quality(response) if challenge.kind == "open"
                            else exact_quality(challenge, response.text))
        except (ValueError, ArithmeticError, RuntimeError) as exc:  # what miner text can make a parser raise
            quality[uid] = 0.0
            if on_error is not None:
                on_error(uid, f"{type(exc).__name__}: {exc}")
    latencies = [
        responses[uid].latency_s
        for uid, q in quality.items()
        if q > 0 and _finite(responses[uid].latency_s) and responses[uid].latency_s >= 0
    ]
    fastest_s = min(latencies, default=0.0)
    return {
        uid: combine(q, speed_score(responses[uid].latency_s, fastest_s=fastest_s, deadline_s=deadline_s), settings)
        for uid, q in quality.items()
    }


def step_rewards(per_challenge: list[Mapping[int, float]], uids: list[int]) -> dict[int, float]:
    """Each uid's mean reward over the step's challenges; a uid missing from a challenge counts as 0 there.

    Guarantees: one value per uid in ``uids``, in [0, 1] when the inputs are; 0 for every uid with no challenges.
    """
    if not per_challenge:
        return dict.fromkeys(uids, 0.0)
    return {uid: sum(r.get(uid, 0.0) for r in per_challenge) / len(per_challenge) for uid in uids}
