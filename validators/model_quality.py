"""How good each admitted model is, measured by the validator on its own copies: the likelihood each model gives
the right answers of the step's exact tasks.

An open answer is paid for being its model's own (``validators.reference`` verifies it), which says nothing about
how good the model is. Exact tasks do, but a small model answers few of them right (SmolLM2-135M got about 1 in 40
of ours), too few to tell two models apart within a run. The log-probability a model gives the right answer,
per token, is a graded form of the same measure: the model that is closer to answering right scores higher on
every task. Measured on SmolLM2-135M against its first-half-layers version over 40 exact tasks: -5.0 against
-19.5 nats per token, higher on 40 of 40 (one teacher-forced pass of a few tokens per task and model, its
prompt's prefill shared with the verification of the miners' answers).

An open answer's quality is its completeness times its model's ``weight``: the per-token likelihood ratio of the
model's right answers to the best held model's, ``exp(score - best score)`` in (0, 1]. Nothing a miner does moves
it (the validator computes it on its own copies), and every validator holding the same models measures the same
thing. Scores decay per step (``decay``), so they follow the tasks in use. Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass
class ModelQuality:
    decay: float = 0.8  # per step: the last few steps' tasks dominate
    sums: dict[str, float] = field(default_factory=dict)  # decayed sum of per-task mean log-probs (nats/token)
    counts: dict[str, float] = field(default_factory=dict)  # decayed number of tasks

    def observe(self, step_scores: Mapping[str, list[float]]) -> None:
        """One step's per-task mean log-probs (nats per token) of the right answers, by model hash."""
        for model in self.counts:
            self.sums[model] *= self.decay
            self.counts[model] *= self.decay
        for model, scores in step_scores.items():
            finite = [s for s in scores if math.isfinite(s)]
            self.sums[model] = self.sums.get(model, 0.0) + sum(finite)
            self.counts[model] = self.counts.get(model, 0.0) + len(finite)

    def score(self, model: str) -> float | None:
        """The decayed mean log-prob per token the model gives right answers; None before any task."""
        count = self.counts.get(model, 0.0)
        return self.sums[model] / count if count > 0 else None

    def weight(self, model: str) -> float:
        """``exp(score - best score)`` over the models measured, in (0, 1]; 1 for the best and for a model not
        measured yet."""
        mine = self.score(model)
        scores = [s for s in (self.score(m) for m in self.counts) if s is not None]
        if mine is None or not scores:
            return 1.0
        return math.exp(min(0.0, mine - max(scores)))
