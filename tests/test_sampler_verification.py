"""The position-keyed sampler (``subnet.sampling``) and the validator's check of every token choice.

The sampler: its noise is exactly the construction subnet/WIRE.md specifies, depends only on (seed, position),
and a choice changes only where its own noise does. Real engines and tiny models: a seed gives the same tokens
alone and in a batch of 8, the very tokens a validator recomputes from one teacher-forced pass; honest sampled
answers pass ``ReferenceModel.verify`` (float32 and bf16, batch 1 and 8) and every cheat fails: greedy when asked
to sample, another seed or temperature, another model, fewer layers, bf16 declared as float32, a truncated
answer (with or without an end token stuck on) and a padded one.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import struct
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from miners.backend import Completion, GenerationRequest, SamplingParams
from miners.engine import Engine, EngineSettings
from miners.transformers_backend import TransformersBackend
from subnet import sampling
from subnet.model_loading import keep_first_layers, load_model
from subnet.models import ChatMessage, teacher_forced_logprobs
from subnet.sampling import choice_gap, choose_token, gumbel_noise, request_float
from validators.reference import FLOAT32, HALF_PRECISION, ReferenceModel, Verdict

PROMPTS = [
    "Write a short poem about rivers and stones.",
    "Explain why the sky is blue to a child.",
    "List five uses of a paperclip.",
    "Tell me a story about a fox and a crow.",
    "What makes a good cup of tea?",
    "Describe a busy market in the morning.",
    "Give three tips for learning to swim.",
    "Why do cats purr?",
]
ASKED = 48  # max_new_tokens of every request here
TEMPERATURE = 0.7


def spec_noise(seed: int, position: int, n: int) -> list[float]:
    """subnet/WIRE.md's noise, written from the text with the standard library only."""
    stream = hashlib.shake_128(b"subnet-sampler/v1" + struct.pack("<QQ", seed, position)).digest(4 * n)
    words = struct.unpack(f"<{n}I", stream)
    return [-math.log(-math.log((x + 0.5) * 2.0**-32)) for x in words]


def test_the_noise_is_the_specified_construction() -> None:
    for seed, position in ((0, 0), (1, 0), (1, 1), (2**64 - 1, 7), (12345, 2**40)):
        ours, spec = gumbel_noise(seed, position, 4096), spec_noise(seed, position, 4096)
        assert np.allclose(ours, spec, rtol=0, atol=1e-12), (seed, position)  # numpy's log vs libm: an ulp or so
    # The test vectors printed in subnet/WIRE.md.
    assert np.round(gumbel_noise(1, 0, 3), 12).tolist() == [0.876227740083, 2.788695852085, -0.250002432637]
    assert np.round(gumbel_noise(1, 1, 3), 12).tolist() == [0.536417745614, 2.831770290616, 1.60374041081]
    # Never infinite: the uniforms stay strictly inside (0, 1) even at the extreme words.
    assert math.isfinite(spec_noise(0, 0, 1)[0])
    for x in (0, 2**32 - 1):
        u = (x + 0.5) * 2.0**-32
        assert 0 < u < 1 and math.isfinite(-math.log(-math.log(u)))


def test_the_noise_depends_only_on_seed_and_position() -> None:
    a = gumbel_noise(7, 3, 49152)
    assert np.array_equal(gumbel_noise(7, 3, 100), a[:100])  # a shorter stream is a prefix
    gumbel_noise(7, 4, 49152)  # drawing other positions first changes nothing (no hidden state)
    assert np.array_equal(gumbel_noise(7, 3, 49152), a)
    assert not np.array_equal(gumbel_noise(7, 4, 100), a[:100])
    assert not np.array_equal(gumbel_noise(8, 3, 100), a[:100])
    # And it is Gumbel(0, 1): mean ~ Euler's gamma (0.5772), variance ~ pi^2 / 6.
    assert abs(a.mean() - 0.5772) < 0.03 and abs(a.var() - math.pi**2 / 6) < 0.06


def test_changing_the_noise_at_one_position_changes_only_that_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    rows = (rng.standard_normal((40, 2000)) * 1.5).astype(np.float32)  # flat enough that the noise decides

    def choices(top_p: float) -> list[int]:
        return [choose_token(row, temperature=1.0, top_p=top_p, seed=99, position=i) for i, row in enumerate(rows)]

    for top_p in (1.0, 0.9):
        before = choices(top_p)
        changed_somewhere = False
        for k in (0, 7, 21, 39):
            def other_noise_at_k(seed: int, position: int, n: int, k: int = k) -> np.ndarray:
                return gumbel_noise(seed + 1 if position == k else seed, position, n)

            monkeypatch.setattr(sampling, "gumbel_noise", other_noise_at_k)
            after = choices(top_p)
            monkeypatch.undo()
            assert [i for i in range(len(rows)) if after[i] != before[i]] in ([], [k]), (top_p, k)
            changed_somewhere |= after[k] != before[k]
        assert changed_somewhere, "new noise at a position should change some choice"


def test_the_sampler_samples_the_tempered_nucleus() -> None:
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05], dtype=np.float32))
    for temperature, top_p in ((1.0, 1.0), (0.5, 1.0), (1.0, 0.6)):
        drawn = np.bincount([choose_token(logits, temperature=temperature, top_p=top_p, seed=3, position=i)
                             for i in range(4000)], minlength=4) / 4000
        tempered = np.exp(logits.astype(np.float64) / request_float(temperature))
        if top_p < 1:
            tempered[2:] = 0  # 0.5 < 0.6 <= 0.8: the nucleus is the first two tokens
        assert np.abs(drawn - tempered / tempered.sum()).max() < 0.03, (temperature, top_p, drawn)
    assert choose_token(logits, temperature=0, top_p=1.0, seed=3, position=0) == 0  # greedy
    assert choose_token(np.zeros(5, dtype=np.float32), temperature=0, top_p=1.0, seed=3, position=0) == 0  # tie


def test_a_logit_error_e_moves_the_choice_by_at_most_2e() -> None:
    """What the margins rest on: on rows that differ by at most ``e`` per entry, the token one row's sampler picks
    is within ``2e`` (logit units, any temperature) of the other row's choice."""
    rng = np.random.default_rng(1)
    for i in range(300):
        row = (rng.standard_normal(3000) * 2).astype(np.float32)
        e = float(rng.choice([1e-5, 1e-2, 0.3]))
        other = (row + rng.uniform(-e, e, row.shape)).astype(np.float32)
        temperature, top_p = float(rng.choice([0.0, 0.3, 0.7, 1.5])), 1.0
        token = choose_token(other, temperature=temperature, top_p=top_p, seed=i, position=i)
        gap = choice_gap(row, token, temperature=temperature, top_p=top_p, seed=i, position=i, nucleus_slack=0)
        assert gap <= 2 * e * (1 + 1e-6) + 1e-9, (i, e, temperature, gap)
        assert choice_gap(row, choose_token(row, temperature=temperature, top_p=top_p, seed=i, position=i),
                          temperature=temperature, top_p=top_p, seed=i, position=i, nucleus_slack=0) == 0


# --- real engines on tiny models ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(model_cache_dir: Path) -> TransformersBackend:
    return TransformersBackend.load("tiny", device="cpu", dtype="float32", cache_dir=model_cache_dir)


@pytest.fixture(scope="module")
def tiny_bf16(model_cache_dir: Path) -> TransformersBackend:
    return TransformersBackend.load("tiny", device="cpu", dtype="bfloat16", cache_dir=model_cache_dir)


@pytest.fixture(scope="module")
def reference(model_cache_dir: Path) -> ReferenceModel:
    """The validator's own float32 copy of tiny-0 (loaded separately, as a validator would)."""
    return ReferenceModel(load_model("tiny", device="cpu", dtype="float32", cache_dir=model_cache_dir))


def request(i: int, **sampling: object) -> GenerationRequest:
    params = {"max_new_tokens": ASKED, "temperature": TEMPERATURE, "seed": 1000 + i, **sampling}
    return GenerationRequest(messages=(ChatMessage("user", PROMPTS[i % len(PROMPTS)]),),
                             sampling=SamplingParams(**params))


async def serve(backend: TransformersBackend, requests: Sequence[GenerationRequest], *, max_batch: int
                ) -> list[Completion]:
    """An honest engine's answers, all submitted at once (``max_batch`` 1: each alone, in turn)."""
    engine = Engine(backend, EngineSettings(max_batch=max_batch, max_new_tokens=ASKED))
    await engine.start()
    try:
        return list(await asyncio.gather(*(engine.generate(r) for r in requests)))
    finally:
        await engine.stop()


def verify(reference: ReferenceModel, asked: GenerationRequest, done: Completion, *, tokens=None, logprobs=None,
           miner_dtype: str = "float32") -> Verdict:
    """The validator's check of ``done`` as the answer to ``asked`` (what the validator sent)."""
    s = asked.sampling
    tokens = done.token_ids if tokens is None else tokens
    text = reference.loaded.tokenizer.decode(list(tokens), skip_special_tokens=True)
    return reference.verify([{"role": m.role, "content": m.content} for m in asked.messages], text, tokens,
                            done.logprobs if logprobs is None else logprobs, temperature=s.temperature,
                            top_p=s.top_p, seed=s.seed, max_new_tokens=s.max_new_tokens, miner_dtype=miner_dtype)


async def test_a_seed_gives_the_same_tokens_alone_in_a_batch_of_8_and_in_the_validators_pass(
    tiny: TransformersBackend, reference: ReferenceModel
) -> None:
    requests = [request(i, top_p=0.95 if i % 2 else 1.0) for i in range(8)]
    alone = await serve(tiny, requests, max_batch=1)
    together = await serve(tiny, requests, max_batch=8)
    assert [d.token_ids for d in together] == [d.token_ids for d in alone]
    assert len({d.token_ids for d in alone}) == 8
    for asked, done in zip(requests, together, strict=True):
        s = asked.sampling
        rows = teacher_forced_logprobs(reference.loaded.model, done.prompt_token_ids, done.token_ids,
                                       with_logits=True).logits.numpy()
        recomputed = [choose_token(row, temperature=s.temperature, top_p=s.top_p, seed=s.seed, position=i)
                      for i, row in enumerate(rows)]
        assert tuple(recomputed) == done.token_ids
        # ... and the sampler did sample: not every token is the argmax.
        assert tuple(rows.argmax(axis=1).tolist()) != done.token_ids


@pytest.mark.parametrize("max_batch", [1, 8])
async def test_honest_sampled_and_greedy_answers_pass(
    tiny: TransformersBackend, tiny_bf16: TransformersBackend, reference: ReferenceModel, max_batch: int
) -> None:
    requests = [request(i, temperature=(0.0, 0.7, 1.0, 1.3)[i % 4], top_p=(1.0, 0.9)[i // 4 % 2])
                for i in range(8)]
    for backend in (tiny, tiny_bf16):
        dtype = backend.identity.dtype
        for asked, done in zip(requests, await serve(backend, requests, max_batch=max_batch), strict=True):
            verdict = verify(reference, asked, done, miner_dtype=dtype)
            assert verdict.ok and verdict.positions == len(done.token_ids) > 0, (dtype, asked.sampling, verdict)
            bound = FLOAT32 if dtype == "float32" else HALF_PRECISION
            assert verdict.logprob_error <= bound.logprob_nats and verdict.choice_gap <= bound.choice_nats


async def cheat_answers(cheat: str, tiny: TransformersBackend, tiny_bf16: TransformersBackend,
                        model_cache_dir: Path, requests: list[GenerationRequest]) -> tuple[list[Completion], str]:
    """What a cheating miner returns for ``requests``, and the dtype it declares."""
    if cheat == "greedy when asked to sample":
        return await serve(tiny, [replace(r, sampling=replace(r.sampling, temperature=0.0)) for r in requests],
                           max_batch=8), "float32"
    if cheat == "ignores the seed":
        return await serve(tiny, [replace(r, sampling=replace(r.sampling, seed=r.sampling.seed + 1))
                                  for r in requests], max_batch=8), "float32"
    if cheat == "another temperature":
        return await serve(tiny, [replace(r, sampling=replace(r.sampling, temperature=1.0)) for r in requests],
                           max_batch=8), "float32"
    if cheat == "another model":
        other = TransformersBackend.load("tiny-1", device="cpu", dtype="float32", cache_dir=model_cache_dir)
        return await serve(other, requests, max_batch=8), "float32"
    if cheat == "fewer layers":
        loaded = keep_first_layers(load_model("tiny", device="cpu", dtype="float32", cache_dir=model_cache_dir), 0.5)
        assert loaded.model.config.num_hidden_layers == 1
        return await serve(TransformersBackend(loaded), requests, max_batch=8), "float32"
    assert cheat == "bf16 declared as float32"
    return await serve(tiny_bf16, requests, max_batch=8), "float32"


@pytest.mark.parametrize("cheat", ["greedy when asked to sample", "ignores the seed", "another temperature",
                                   "another model", "fewer layers", "bf16 declared as float32"])
async def test_cheating_miners_fail(cheat: str, tiny: TransformersBackend, tiny_bf16: TransformersBackend,
                                    reference: ReferenceModel, model_cache_dir: Path) -> None:
    requests = [request(i) for i in range(4)]
    answers, declared = await cheat_answers(cheat, tiny, tiny_bf16, model_cache_dir, requests)
    for asked, done in zip(requests, answers, strict=True):
        verdict = verify(reference, asked, done, miner_dtype=declared)
        assert not verdict.ok and verdict.positions == len(done.token_ids) > 0, (cheat, verdict)
    if cheat in ("another model", "fewer layers"):
        # Also when the miner declares half precision and so is held to the loose rule. (A greedy answer to a
        # sampled request can stay within the loose rule's margins when the model is nearly sure of every token;
        # bench/bench_verification.py measures how often.)
        assert not any(verify(reference, a, d, miner_dtype="bfloat16").ok for a, d in zip(requests, answers, strict=True))


async def test_truncated_answers_are_paid_their_share_and_padded_ones_fail(tiny: TransformersBackend, reference: ReferenceModel) -> None:
    asked = request(0)
    (done,) = await serve(tiny, [asked], max_batch=1)
    eos = tiny.tokenizer.eos_token_id
    assert len(done.token_ids) == ASKED and eos not in done.token_ids and verify(reference, asked, done).ok
    cut = 30
    # Cut short: the answer stops before max_new_tokens without an end token. Its tokens are the model's (an
    # honest miner with a lower token limit does this), so it is no lie, but it is never taken for a whole answer:
    # its completeness is the share of the requested tokens it holds. Its tokens are still checked.
    for dtype in ("float32", "bfloat16"):
        verdict = verify(reference, asked, done, tokens=done.token_ids[:cut], logprobs=done.logprobs[:cut],
                         miner_dtype=dtype)
        assert verdict.ok and verdict.completeness == pytest.approx(cut / ASKED) and verdict.positions == cut
    assert verify(reference, asked, done).completeness == 1.0
    forged = verify(reference, asked, done, tokens=done.token_ids[:cut], logprobs=[x - 1.0 for x in done.logprobs[:cut]])
    assert not forged.ok and "log-probs" in forged.reason
    # Cut short with an end token stuck on, its log-prob the true one: the sampler would not have ended there,
    # and the end token's choice is checked on its own, so the loose rule's allowance does not cover it.
    tokens = (*done.token_ids[: cut - 1], eos)
    true_logprobs = teacher_forced_logprobs(reference.loaded.model, done.prompt_token_ids, tokens).logprobs
    for dtype in ("float32", "bfloat16"):
        verdict = verify(reference, asked, done, tokens=tokens, logprobs=true_logprobs, miner_dtype=dtype)
        assert not verdict.ok and "end token is not the sampler's choice" in verdict.reason, verdict
    # Padded: anything after an end token, up to the length asked for or not.
    for tokens in ((*done.token_ids[: cut - 1], eos, *done.token_ids[cut:]), (*done.token_ids[:-2], eos, eos)):
        verdict = verify(reference, asked, done, tokens=tokens, logprobs=done.logprobs[: len(tokens)])
        assert not verdict.ok and "after an end-of-sequence token" in verdict.reason
    # More tokens than asked for: refused before any teacher forcing.
    longer = replace(asked, sampling=replace(asked.sampling, max_new_tokens=ASKED - 1))
    verdict = verify(reference, longer, done)
    assert not verdict.ok and verdict.positions == 0


@pytest.mark.slow
async def test_an_answer_that_ends_must_end_where_the_sampler_ends_it(model_cache_dir: Path) -> None:
    """SmolLM2-135M ends its answers with <|im_end|>: the honest answer passes, whole, with its end token; without
    it (truncated) it is no longer whole; followed by more (padded) it fails."""
    backend = TransformersBackend.load("smollm2-135m", device="cpu", dtype="float32", cache_dir=model_cache_dir)
    reference = ReferenceModel(backend.loaded)
    asked = GenerationRequest(messages=(ChatMessage("user", "What is the capital of France?"),),
                              sampling=SamplingParams(max_new_tokens=40, temperature=TEMPERATURE, seed=5))
    engine = Engine(backend, EngineSettings(max_batch=2, max_new_tokens=40))
    await engine.start()
    try:
        done = await engine.generate(asked)
    finally:
        await engine.stop()
    assert done.finish_reason == "stop" and done.token_ids[-1] in reference.end_ids and done.text.strip()
    whole = verify(reference, asked, done)
    assert whole.ok and whole.completeness == 1.0
    truncated = verify(reference, asked, done, tokens=done.token_ids[:-1], logprobs=done.logprobs[:-1])
    assert truncated.completeness == pytest.approx((len(done.token_ids) - 1) / 40)
    padded = (*done.token_ids, done.token_ids[-1])
    assert not verify(reference, asked, done, tokens=padded, logprobs=(*done.logprobs, done.logprobs[-1])).ok


async def test_a_relayed_sampled_answer_fails_and_same_model_miners_sample_apart(
    tiny: TransformersBackend, reference: ReferenceModel
) -> None:
    """Miners sample with the request's seed bound to their own hotkey (``subnet.seed_binding``): the validator
    checks an answer under the key of the miner it asked, so an answer relayed from another miner fails, and two
    honest miners serving the same model with the same request seed give different answers."""
    from miners.service import to_request
    from subnet.keys import Keypair
    from subnet.proto import subnet_pb2 as pb
    from subnet.seed_binding import bind_seed

    honest, relay = Keypair.generate().ss58_address, Keypair.generate().ss58_address
    wire = pb.GenerateRequest(messages=[pb.ChatMessage(role="user", content=PROMPTS[0])], max_new_tokens=ASKED,
                              temperature=TEMPERATURE, top_p=1.0, seed=424242)
    as_served = {k: to_request(wire, ASKED, hotkey_ss58=k) for k in (honest, relay)}
    assert {k: r.sampling.seed for k, r in as_served.items()} == {k: bind_seed(424242, k) for k in (honest, relay)}
    by_honest, by_relay = await serve(tiny, [as_served[honest], as_served[relay]], max_batch=2)
    assert by_honest.token_ids != by_relay.token_ids  # the same model, the same request seed, apart

    def checked_as(hotkey: str, done: Completion) -> Verdict:
        asked = replace(as_served[hotkey], sampling=replace(as_served[hotkey].sampling, seed=bind_seed(424242, hotkey)))
        return verify(reference, asked, done)

    assert checked_as(honest, by_honest).ok and checked_as(relay, by_relay).ok
    relayed = checked_as(relay, by_honest)  # the relay forwards the request and returns the honest miner's answer
    assert not relayed.ok
