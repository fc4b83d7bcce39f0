"""Spot checks (``ReferenceModel.verify``) against real tiny models: honest miner output passes, and every way of
lying about it fails (another model, missing or misaligned log-probs, text its tokens do not carry)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from miners.backend import Completion, GenerationRequest, SamplingParams
from miners.engine import Engine, EngineSettings
from miners.transformers_backend import TransformersBackend
from subnet.model_loading import load_model
from subnet.models import ChatMessage, PromptCache, encode_prompt, teacher_forced_logprobs
from validators.reference import FLOAT32, HALF_PRECISION, ReferenceModel

MESSAGES = [{"role": "user", "content": "Write a short poem about rivers and stones, then explain it."}]
OTHER = [{"role": "user", "content": "What is 17 times 23?"}]


@pytest.fixture(scope="module")
def miner(model_cache_dir: Path) -> TransformersBackend:
    return TransformersBackend.load("tiny", device="cpu", dtype="float32", cache_dir=model_cache_dir)


@pytest.fixture(scope="module")
def reference(miner: TransformersBackend) -> ReferenceModel:
    return ReferenceModel(miner.loaded)  # the same weights, as the validator would load them


async def generate(backend: TransformersBackend, messages: list[dict[str, str]], **sampling: object) -> Completion:
    """What an honest miner serving ``backend`` answers, batched with another request as in production."""
    engine = Engine(backend, EngineSettings(max_batch=4))
    await engine.start()
    try:
        other = GenerationRequest(messages=tuple(ChatMessage(**m) for m in OTHER),
                                  sampling=SamplingParams(max_new_tokens=48))
        request = GenerationRequest(messages=tuple(ChatMessage(**m) for m in messages),
                                    sampling=SamplingParams(**sampling))
        done, _ = await asyncio.gather(engine.generate(request), engine.generate(other))
    finally:
        await engine.stop()
    return done


GREEDY = SamplingParams(max_new_tokens=64)
SAMPLED = SamplingParams(max_new_tokens=64, temperature=1.0, seed=11)


def check(reference: ReferenceModel, done: Completion, sampling: SamplingParams, *, messages=MESSAGES, text=None,
          tokens=None, logprobs=None, miner_dtype="float32"):
    """The validator's check of ``done`` as the answer to a request for ``messages`` sampled with ``sampling``."""
    return reference.verify(messages, done.text if text is None else text,
                            done.token_ids if tokens is None else tokens,
                            done.logprobs if logprobs is None else logprobs, temperature=sampling.temperature,
                            top_p=sampling.top_p, seed=sampling.seed or 0, max_new_tokens=sampling.max_new_tokens,
                            miner_dtype=miner_dtype)


async def test_honest_answers_pass_and_the_float32_rule_is_strict(
    miner: TransformersBackend, reference: ReferenceModel
) -> None:
    assert reference.tolerances == FLOAT32 and FLOAT32.max_bad_fraction == 0
    greedy = await generate(miner, MESSAGES, **asdict(GREEDY))
    sampled = await generate(miner, MESSAGES, **asdict(SAMPLED))
    assert len(greedy.token_ids) > 10 and greedy.text.strip()
    assert check(reference, greedy, GREEDY).ok, check(reference, greedy, GREEDY).reason
    assert check(reference, sampled, SAMPLED).ok, check(reference, sampled, SAMPLED).reason
    # The checks are not vacuous: a sampled answer is not greedy, a greedy answer is not this sample, and one
    # nudged log-prob is caught.
    assert not check(reference, sampled, GREEDY).ok
    assert not check(reference, greedy, SAMPLED).ok
    nudged = list(greedy.logprobs)
    nudged[len(nudged) // 2] += 0.01
    assert not check(reference, greedy, GREEDY, logprobs=nudged).ok
    # A miner computing in half precision (or not saying) is held to the loose rule, where the nudge is noise.
    assert miner.identity.dtype == "float32"
    for dtype in ("bfloat16", ""):
        assert reference.tolerances_for(dtype) == HALF_PRECISION
        assert check(reference, greedy, GREEDY, logprobs=nudged, miner_dtype=dtype).ok
    # The answer to another prompt does not verify against this one.
    assert not check(reference, greedy, GREEDY, messages=OTHER).ok


async def test_another_models_answer_fails(model_cache_dir: Path, reference: ReferenceModel) -> None:
    liar = TransformersBackend.load("tiny-1", device="cpu", dtype="float32", cache_dir=model_cache_dir)
    for sampling in (GREEDY, SAMPLED):
        done = await generate(liar, MESSAGES, **asdict(sampling))
        for dtype in ("float32", "bfloat16"):  # claiming half precision does not get another model through
            verdict = check(reference, done, sampling, miner_dtype=dtype)
            assert not verdict.ok and "does not come from the committed model" in verdict.reason


async def test_missing_or_misaligned_tokens_and_logprobs_fail(
    miner: TransformersBackend, reference: ReferenceModel
) -> None:
    asked = SamplingParams(max_new_tokens=32)
    done = await generate(miner, MESSAGES, max_new_tokens=32)
    for tokens, logprobs in (((), ()), ((), done.logprobs), (done.token_ids, ()), (done.token_ids, done.logprobs[:-1]),
                             (done.token_ids, (*done.logprobs, -1.0))):
        verdict = check(reference, done, asked, tokens=tokens, logprobs=logprobs)
        assert not verdict.ok, (len(tokens), len(logprobs))
    assert "without its tokens" in check(reference, done, asked, tokens=(), logprobs=()).reason
    assert not check(reference, done, asked, tokens=(10**7, *done.token_ids[1:])).ok  # outside the vocabulary
    assert check(reference, done, asked, text="  ", tokens=(), logprobs=()).ok  # nothing said, nothing to pay


async def test_text_must_be_what_the_tokens_decode_to(miner: TransformersBackend, reference: ReferenceModel) -> None:
    asked = SamplingParams(max_new_tokens=48)
    done = await generate(miner, MESSAGES, max_new_tokens=48)
    decoded = miner.tokenizer.decode(list(done.token_ids), skip_special_tokens=True)
    assert done.text == decoded  # what the miner sends is exactly the decode the validator compares with
    assert check(reference, done, asked, text=f"\n {done.text}  ").ok  # outer whitespace does not matter
    forgeries = {"The answer is 391.", done.text + " 391", done.text[: len(done.text) // 2], done.text.upper()}
    for forged in forgeries - {done.text}:
        verdict = check(reference, done, asked, text=forged)
        assert not verdict.ok and "decode" in verdict.reason, forged
    # Special tokens are skipped: an honest answer that ends with end-of-sequence verifies with its plain text.
    eos = miner.tokenizer.eos_token_id
    with_eos = replace(done, token_ids=(*done.token_ids[:-1], eos))
    assert miner.tokenizer.decode([eos], skip_special_tokens=True) == ""
    verdict = check(reference, with_eos, asked, text=miner.tokenizer.decode(list(done.token_ids[:-1])),
                    logprobs=done.logprobs)
    assert "decode" not in verdict.reason


def test_half_precision_references_use_the_measured_loose_rule(model_cache_dir: Path) -> None:
    half = ReferenceModel(load_model("tiny", device="cpu", dtype="bfloat16", cache_dir=model_cache_dir))
    assert half.tolerances == HALF_PRECISION


def test_a_cached_prompt_gives_the_same_scores_as_a_full_pass(miner: TransformersBackend) -> None:
    """Answers to one prompt share its prefill (``PromptCache``): each pass over a completion gives the scores of a
    full pass over prompt + completion, and one answer's pass never leaks into the next one's."""
    model, tokenizer = miner.loaded.model, miner.loaded.tokenizer
    prompt = encode_prompt(tokenizer, [ChatMessage(**m) for m in MESSAGES])
    answers = [[5, 17, 300, 41], [9000, 12, 7], [5, 17, 300, 41, 8, 8, 8, 8]]
    cache = PromptCache(capacity=1)
    for completion in [*answers, *answers]:
        full = teacher_forced_logprobs(model, prompt, completion, with_logits=True)
        cached = teacher_forced_logprobs(model, prompt, completion, with_logits=True, prompt_cache=cache)
        assert (cached.logits - full.logits).abs().max().item() < 1e-4
        assert cached.argmax_ids == full.argmax_ids
    other = encode_prompt(tokenizer, [ChatMessage(**m) for m in OTHER])
    fresh = teacher_forced_logprobs(model, other, answers[0], with_logits=True)
    assert (teacher_forced_logprobs(model, other, answers[0], with_logits=True, prompt_cache=cache).logits
            - fresh.logits).abs().max().item() < 1e-4  # a capacity of one: the other prompt replaced the first
    assert len(cache._entries) == 1
