"""The miners' true quality, measured offline with the validator's own reward functions.

Market miners serve the same tiny model as the validators' reference, greedily, but cut their answers at
different lengths (``--max-new-tokens``). A miner cut at N tokens answers exactly the reference's first N tokens,
so its true quality on an open challenge is ``open_quality(similarity(answer_N, answer_full))``: this module
computes it on fresh challenges, to check once that the designed order is the real one.

Run: .venv/bin/python -m bench.reliability.quality [--challenges 16]
"""

from __future__ import annotations

import argparse
import random

import numpy as np

from validators.challenges import ChallengeSettings, build_challenges
from validators.rewards import RewardSettings, open_quality, question

# Answer lengths (tokens) of the market's miners, best first; 96 is the open challenges' full length.
GRADES: tuple[int, ...] = (96, 48, 28, 18, 12, 7, 4, 2)
QUICK_GRADES: tuple[int, ...] = (96, 28, 10, 3)


def true_quality(grades: tuple[int, ...], n_challenges: int, seed: int = 1) -> dict[int, float]:
    """Mean open-challenge quality of a greedy answer cut at each length in ``grades``."""
    from validators.reference import ReferenceModel
    from validators.similarity import Embedder

    reference, embedder = ReferenceModel.load("tiny", device="cpu"), Embedder.load()
    settings = ChallengeSettings(open_temperature=0.0)
    full = settings.open_max_new_tokens
    rng = random.Random(seed)
    totals = {n: [] for n in grades}
    for ch in build_challenges(rng, 0, n_challenges, settings):
        ref = reference.answer(ch.messages, full)
        baseline = embedder.similarity(question(ch), ref)
        for n in grades:
            text = ref if n >= full else reference.answer(ch.messages, n)
            totals[n].append(open_quality(embedder.similarity(text, ref), RewardSettings(), baseline=baseline))
    return {n: float(np.mean(v)) for n, v in totals.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--challenges", type=int, default=16)
    a = p.parse_args()
    q = true_quality(GRADES, a.challenges)
    for n, value in q.items():
        print(f"max-new-tokens {n:3d}: true quality {value:.3f}")


if __name__ == "__main__":
    main()
