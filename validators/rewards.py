"""Reward functions: what one miner's answer to one challenge is worth, in [0, 1].

The rules, in order of precedence:

1. A failed call (timeout, transport, decoding or verification error), an empty answer, an answer longer than
   allowed (more characters than ``max_answer_chars`` or more tokens than the challenge asked for) and an answer
   whose parsing fails (see ``score_challenge``) score 0.
2. Quality: an exact challenge scores 1 when the parsed answer equals the expected one, else 0 (no partial
   credit: for a sorting task, credit per position would pay a miner that echoes the unsorted input). An open
   challenge scores its similarity to the validator's reference answer, rescaled so that everything at or below
   a floor is 0 and 1 stays 1. The floor is the larger of ``similarity_floor`` (unrelated or garbage text scores
   about 0 to 0.15 with all-MiniLM-L6-v2) and the similarity of the QUESTION itself to the reference: echoing or
   rephrasing the question already scores 0.5 to 0.8 against a good answer, so an answer earns only for what it
   adds beyond restating the question.
3. Speed counts less than quality: ``reward = quality_weight * quality + speed_weight * speed`` with weights that
   sum to 1, and ``reward = 0`` whenever ``quality = 0``, so a fast wrong or garbage miner earns nothing.
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
    similarity_floor: float = 0.3
    max_answer_chars: int = 4000

    def __post_init__(self) -> None:
        if not (0.0 <= self.speed_weight <= self.quality_weight <= 1.0):
            raise ValueError("weights must satisfy 0 <= speed_weight <= quality_weight <= 1")
        if not math.isclose(self.quality_weight + self.speed_weight, 1.0):
            raise ValueError(f"quality_weight + speed_weight must be 1, got {self.quality_weight + self.speed_weight}")
        if not (0.0 <= self.similarity_floor < 1.0):
            raise ValueError(f"similarity_floor must be in [0, 1), got {self.similarity_floor}")


@dataclass(frozen=True)
class Response:
    """What one miner returned for one challenge, as the loop observed it (signature already verified).

    ``error`` is set (to a short reason such as "timeout" or "unavailable") when the call failed; ``latency_s``
    is the wall time from sending the request to holding the full answer; ``n_tokens`` the generated tokens.
    """

    text: str = ""
    latency_s: float = math.inf
    error: str | None = None
    n_tokens: int | None = None

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


def open_quality(similarity: float, settings: RewardSettings, *, baseline: float = 0.0) -> float:
    """Similarity to the reference rescaled to [0, 1]: 0 at or below the floor, 1 at 1, linear between.

    The floor is ``max(settings.similarity_floor, baseline)``, where ``baseline`` is the similarity of the
    question to the reference (see the module docstring). NaN or infinite similarities score 0; a NaN baseline
    is ignored; a baseline of 1 or more leaves nothing to earn (0).
    """
    if not _finite(similarity):
        return 0.0
    floor = max(settings.similarity_floor, baseline) if _finite(baseline) else settings.similarity_floor
    if floor >= 1.0:
        return 0.0
    scaled = (similarity - floor) / (1.0 - floor)
    return min(1.0, max(0.0, scaled))


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
    """``quality_weight * quality + speed_weight * speed``, and exactly 0 when quality is 0 (or not finite).

    Inputs are clipped to [0, 1], so the result is always in [0, 1].
    """
    if not _finite(quality) or quality <= 0.0:
        return 0.0
    speed = min(1.0, max(0.0, speed)) if _finite(speed) else 0.0
    reward = settings.quality_weight * min(1.0, quality) + settings.speed_weight * speed
    return min(1.0, max(0.0, reward))


def question(challenge: Challenge) -> str:
    """The text of the challenge's last user message (what an echoing miner would repeat)."""
    users = [m["content"] for m in challenge.messages if m["role"] == "user"]
    return users[-1] if users else ""


def score_challenge(
    challenge: Challenge,
    responses: Mapping[int, Response],
    *,
    deadline_s: float,
    settings: RewardSettings,
    reference: str | None = None,
    similarity: Callable[[str, str], float] | None = None,
    on_error: Callable[[int, str], None] | None = None,
) -> dict[int, float]:
    """The reward of every miner (by uid) for one challenge.

    For an open challenge pass the validator's ``reference`` answer and a ``similarity(answer, reference)``
    function (``validators.similarity.Embedder.similarity``); the question (the last user message) is scored
    with it too, as the baseline of :func:`open_quality`. The speed reference is the fastest usable answer with
    a positive quality, so the fastest good miner gets the full speed share. Every uid of ``responses`` appears
    in the result, with a value in [0, 1].

    An answer that cannot be scored (parsing it raises, e.g. a list of numbers too long for ``int``) scores 0
    and is reported to ``on_error(uid, reason)``; the other miners' answers are scored as usual.
    """
    open_score: Callable[[str], float] | None = None
    if challenge.kind == "open":
        if reference is None or similarity is None:
            raise ValueError(f"open challenge {challenge.id} needs a reference answer and a similarity function")
        ref, sim = reference, similarity
        baseline = sim(question(challenge), ref)

        def open_score(text: str) -> float:
            return open_quality(sim(text, ref), settings, baseline=baseline)
    elif challenge.expected is None or challenge.answer_type is None:
        raise ValueError(f"challenge {challenge.id} is not an exact challenge")  # our bug, not a miner's

    quality: dict[int, float] = {}
    for uid, response in responses.items():
        if not is_usable(response, challenge, settings):
            quality[uid] = 0.0
            continue
        try:
            quality[uid] = open_score(response.text) if open_score is not None else exact_quality(challenge,
                                                                                                   response.text)
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
