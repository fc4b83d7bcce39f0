"""How good each held model is (the likelihood it gives right answers), and what that does to open answers."""

from __future__ import annotations

import math

import pytest

from validators.model_quality import ModelQuality
from validators.rewards import Response, open_quality


def test_weights_are_likelihood_ratios_against_the_best_model() -> None:
    q = ModelQuality(decay=1.0)
    q.observe({"full": [-4.0, -6.0], "half": [-18.0, -20.0]})
    assert q.score("full") == -5.0 and q.score("half") == -19.0
    assert q.weight("full") == 1.0 and q.weight("half") == pytest.approx(math.exp(-14.0))
    assert q.weight("never measured") == 1.0
    # A whole open answer of the weaker model is worth its model's weight; a half-cut one half of that.
    half = q.weight("half")
    assert open_quality(Response("x", 1.0, completeness=1.0, model_weight=half)) == pytest.approx(half)
    assert open_quality(Response("x", 1.0, completeness=0.5, model_weight=1.0)) == 0.5


def test_close_models_get_close_weights_and_old_steps_fade() -> None:
    q = ModelQuality(decay=0.5)
    q.observe({"a": [-3.0], "b": [-3.5]})
    assert q.weight("b") == pytest.approx(math.exp(-0.5))
    for _ in range(8):  # b becomes the better model
        q.observe({"a": [-3.0], "b": [-2.0]})
    assert q.weight("b") == 1.0 and q.weight("a") < 0.5
    q.observe({"a": [math.nan, -math.inf]})  # nothing finite: nothing learnt
    assert math.isfinite(q.score("a"))
