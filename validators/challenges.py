"""Challenges a validator sends to miners, generated from a seeded random source.

Two kinds:

- ``exact``: a task with one correct answer from one of many families (arithmetic, word problems, letters,
  counting, sorting, list operations, units, calendar, strings, comparisons, number notation, sequences,
  reading a short generated text, money, time; see ``validators.tasks.exact``). Values, wording, sentence
  order, unrelated sentences, a second owner's data of the same kind and the answer-format instruction are all
  drawn per request, so a lookup table answers nothing and a template-matching script little (measured by
  bench/bench_tasks.py). Asked greedily (temperature 0) so the answer is the model's
  best and the returned tokens can be spot-checked by teacher forcing.
- ``open``: an open question composed per request (topic x angle x audience x format x constraints, with
  names and numbers; see ``validators.tasks.open_prompts``), paid for being the admitted model's own whole
  answer (see ``validators.rewards``). Asked with sampling (temperature > 0) and a seed that differs per miner
  (:func:`miner_seed`), which the miner binds to its own hotkey, so two miners never return the same text and a
  relayed answer fails verification (see ``validators.copying``).

The system prompt of either kind is drawn from one pool of neutral prompts that says nothing about the task.
Many tasks are deliberately easy: a 135M-parameter instruct model gets some of them right, which is what lets
the scores rank miners. Generation is pure: the same ``random.Random`` state gives the same challenges.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from validators.answers import AnswerType
from validators.tasks import FAMILIES, SYSTEM_PROMPTS, ExactTask, open_prompt

ChallengeKind = Literal["exact", "open"]


@dataclass(frozen=True)
class ChallengeSettings:
    """Sampling parameters of the two kinds of challenge."""

    exact_max_new_tokens: int = 32
    exact_temperature: float = 0.0
    open_max_new_tokens: int = 96
    open_temperature: float = 0.7


@dataclass(frozen=True)
class Challenge:
    """One request to send to every miner, with what is needed to score the answers.

    ``messages`` are chat turns ``{"role", "content"}``; ``expected`` and ``answer_type`` are set for ``exact``
    challenges only (see ``validators.answers.check_answer``); ``task`` names the generator, for logs.
    ``seed`` is the base sampling seed: send ``miner_seed(challenge.seed, hotkey)`` to each miner.
    """

    id: str
    kind: ChallengeKind
    task: str
    messages: tuple[Mapping[str, str], ...]
    expected: str | None
    answer_type: AnswerType | None
    max_new_tokens: int
    temperature: float
    seed: int

    def chat(self) -> list[dict[str, str]]:
        """The chat turns as fresh dicts (safe to hand to a client that mutates them)."""
        return [dict(m) for m in self.messages]


def miner_seed(base_seed: int, miner: str | int) -> int:
    """The sampling seed for one miner: a stable 63-bit hash of (base seed, miner), different per miner.

    Stable across processes and Python versions (no ``hash()``), so a replayed step sends the same seeds.
    """
    digest = hashlib.blake2b(f"{base_seed}:{miner}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


# --- exact tasks ----------------------------------------------------------------------------------------------

Task = tuple[str, str, AnswerType]


def _as_task(family: Callable[[random.Random], ExactTask]) -> Callable[[random.Random], Task]:
    def draw(rng: random.Random) -> Task:
        task = family(rng)
        return task.prompt, task.expected, task.answer_type

    return draw


# Family name -> generator of (prompt, expected answer, answer type); families are drawn uniformly.
EXACT_TASKS: dict[str, Callable[[random.Random], Task]] = {name: _as_task(f) for name, f in FAMILIES.items()}

__all__ = ["EXACT_TASKS", "Challenge", "ChallengeSettings", "build_challenges", "miner_seed", "open_prompt"]


def build_challenges(
    rng: random.Random, n_exact: int, n_open: int, settings: ChallengeSettings | None = None
) -> list[Challenge]:
    """``n_exact`` exact challenges (families drawn uniformly) followed by ``n_open`` open ones.

    Guarantees: deterministic in the state of ``rng`` (same seed, same list, ids included); every exact
    challenge's ``expected`` is the correct answer of its prompt; ids are unique within the list.
    """
    if n_exact < 0 or n_open < 0:
        raise ValueError(f"challenge counts must be >= 0, got n_exact={n_exact}, n_open={n_open}")
    settings = settings or ChallengeSettings()
    names = sorted(EXACT_TASKS)
    challenges: list[Challenge] = []
    for i in range(n_exact):
        task = rng.choice(names)
        prompt, expected, answer_type = EXACT_TASKS[task](rng)
        challenges.append(
            Challenge(
                id=f"{i:03d}-{task}-{rng.getrandbits(32):08x}",
                kind="exact",
                task=task,
                messages=(
                    {"role": "system", "content": rng.choice(SYSTEM_PROMPTS)},
                    {"role": "user", "content": prompt},
                ),
                expected=expected,
                answer_type=answer_type,
                max_new_tokens=settings.exact_max_new_tokens,
                temperature=settings.exact_temperature,
                seed=rng.getrandbits(63),
            )
        )
    for i in range(n_exact, n_exact + n_open):
        prompt, task = open_prompt(rng)
        challenges.append(
            Challenge(
                id=f"{i:03d}-{task}-{rng.getrandbits(32):08x}",
                kind="open",
                task=task,
                messages=(
                    {"role": "system", "content": rng.choice(SYSTEM_PROMPTS)},
                    {"role": "user", "content": prompt},
                ),
                expected=None,
                answer_type=None,
                max_new_tokens=settings.open_max_new_tokens,
                temperature=settings.open_temperature,
                seed=rng.getrandbits(63),
            )
        )
    return challenges
