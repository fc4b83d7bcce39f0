"""Each admitted model's accuracy, learnt from verified exact answers, and what it does to open answers."""

from __future__ import annotations

import pytest

from validators.model_quality import ModelQuality
from validators.rewards import Response, open_quality


def test_weights_follow_accuracy_relative_to_the_best_model() -> None:
    q = ModelQuality(decay=1.0, min_answers=4)
    q.observe([("full", True), ("full", True), ("full", False), ("full", True)] + [("half", False)] * 3
              + [("half", True)])
    assert q.accuracy("full") == 0.75 and q.accuracy("half") == 0.25
    assert q.weight("full") == 1.0 and q.weight("half") == pytest.approx(1 / 3)
    assert q.weight("never seen") == 1.0  # not judged yet: paid in full until measured
    # A whole open answer of the weaker model is worth a third of one of the better model.
    assert open_quality(Response("x", 1.0, completeness=1.0, model_weight=q.weight("half"))) == pytest.approx(1 / 3)


def test_too_few_answers_or_a_model_that_answers_nothing_judge_nobody() -> None:
    q = ModelQuality(decay=1.0, min_answers=4)
    q.observe([("a", True), ("b", False)])
    assert q.accuracy("a") is None and q.weight("b") == 1.0
    zero = ModelQuality(decay=1.0, min_answers=1)
    zero.observe([("tiny-0", False), ("tiny-1", False)])  # random-weight models: all paid alike
    assert zero.weight("tiny-0") == zero.weight("tiny-1") == 1.0


def test_old_answers_fade() -> None:
    q = ModelQuality(decay=0.5, min_answers=1)
    q.observe([("m", False)] * 8)
    for _ in range(6):
        q.observe([("m", True)] * 2)
    assert q.accuracy("m") > 0.95
