"""How good each admitted model is, measured on the network's own verified answers to exact tasks.

An open answer is paid for being its model's own (``validators.reference`` verifies it), which says nothing about
how good the model is; exact tasks do. Every miner serving a model returns that model's greedy answer to an exact
task, so the whole, verified exact answers of all its miners measure the model's accuracy, with far more samples
than one miner's own exact tasks give. An open answer's quality is then its completeness times its model's
accuracy relative to the best admitted model (``weight``): the better model earns more for every open answer.

Nothing a miner controls moves its model's figure: only answers that passed full verification and were whole
count (a cut or unverified answer, or a lie, never does), and a verified greedy answer is the model's own.
Accuracies decay per step (``decay``), so a figure follows the tasks in use. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class ModelQuality:
    decay: float = 0.95  # per step: a step's answers weigh 1, those of 20 steps ago about 0.36
    min_answers: float = 4.0  # below this many (decayed) answers a model is not judged: weight 1
    right: dict[str, float] = field(default_factory=dict)
    total: dict[str, float] = field(default_factory=dict)

    def observe(self, answers: Iterable[tuple[str, bool]]) -> None:
        """One step's whole, verified exact answers as (model hash, answered right)."""
        for model in self.total:
            self.right[model] *= self.decay
            self.total[model] *= self.decay
        for model, right in answers:
            self.total[model] = self.total.get(model, 0.0) + 1.0
            self.right[model] = self.right.get(model, 0.0) + (1.0 if right else 0.0)

    def accuracy(self, model: str) -> float | None:
        """The decayed share of right answers, or None while the model has fewer than ``min_answers``."""
        total = self.total.get(model, 0.0)
        return self.right[model] / total if total >= self.min_answers else None

    def weight(self, model: str) -> float:
        """``model``'s accuracy over the best judged model's, in [0, 1]; 1 when either is unknown or the best
        is 0 (random-weight test models answer nothing: they are then all paid alike)."""
        judged = [a for a in (self.accuracy(m) for m in self.total) if a is not None]
        best = max(judged, default=0.0)
        mine = self.accuracy(model)
        if mine is None or best <= 0.0:
            return 1.0
        return mine / best
