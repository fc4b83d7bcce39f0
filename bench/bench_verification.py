"""Verification of sampled answers: false positives over honest answers, detection of cheats, and the cost of
checking an answer against the cost of generating it.

Real engines (``miners.engine.Engine`` over ``TransformersBackend``) answer validator-style requests (the
validator's own challenge prompts: greedy exact tasks and open questions sampled at 0.7, plus a share sampled at
1.0 with top_p 0.9 to exercise the nucleus) at batch 1 and batch 8, in float32 and, when the CPU computes bf16
natively, in bfloat16. A float32 ``ReferenceModel`` (what ``subnet-validator`` loads) verifies every answer with
the seed, temperature and top_p that were sent. Reported:

- false positives: honest answers the check refuses (goal: 0), with the largest log-prob error and choice gap
  seen (the margins of ``validators.reference`` must stay above them);
- detection: the share of each cheat's answers the check refuses, or (an answer cut without an end token) does
  not take for a whole one (goal: 100% under the float32 rule);
- cost: time to verify (one teacher-forced pass + recomputing every choice) over the time to generate the same
  answers token by token (goal: <= 10%), and the sampler's per-token cost against the PCG64 sampler it replaced.
  As in a validator's step, several miners (``MINERS_PER_PROMPT``, each with its own seed) answer each prompt,
  and the checks of one prompt's answers share its prefill (``subnet.models.PromptCache``).

Tiny random-weight models carry the bulk (answers cut at 32 tokens to keep the run short); SmolLM2-135M a smaller
sample (48 tokens). ``--answers`` sets the total of honest answers (default 2,016: 1,920 tiny + 96 SmolLM2); the
default run took 15.4 min on a 2-core machine with other work running (bench/RESULTS.md).

Run: .venv/bin/python bench/bench_verification.py [--answers N] [--smollm2-answers N] [--cheat-answers N] [--append]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from miners.backend import Completion, GenerationRequest, SamplingParams  # noqa: E402
from miners.engine import Engine, EngineSettings  # noqa: E402
from miners.transformers_backend import TransformersBackend  # noqa: E402
from subnet.model_loading import (  # noqa: E402
    cpu_has_native_bf16,
    keep_first_layers,
    load_model,
)
from subnet.models import ChatMessage, teacher_forced_logprobs  # noqa: E402
from subnet.sampling import choice_gap, choose_token, mass_before, request_float  # noqa: E402
from validators.challenges import ChallengeSettings, build_challenges  # noqa: E402
from validators.reference import FLOAT32, HALF_PRECISION, ReferenceModel, Verdict  # noqa: E402

VOCAB = 49152
# (temperature, top_p) of the requests, in turn: greedy, the validator's open temperature, a hotter nucleus one.
SAMPLINGS = ((0.0, 1.0), (0.7, 1.0), (0.7, 1.0), (1.0, 0.9))


@dataclass
class Tally:
    """Honest answers of one (model, dtype, batch) configuration."""

    answers: int = 0
    positions: int = 0
    refused: int = 0
    reasons: list[str] = field(default_factory=list)
    logprob_error: float = 0.0
    choice_gap: float = 0.0
    nucleus_excess: float = 0.0  # how far past top_p (in mass) an honest token was ranked in the reference
    gap_without_slack: float = 0.0  # the largest choice gap of the top-p answers with no nucleus slack
    generate_s: float = 0.0
    verify_s: float = 0.0

    def add(self, verdict: Verdict, seconds: float) -> None:
        self.answers += 1
        self.positions += verdict.positions
        self.verify_s += seconds
        self.logprob_error = max(self.logprob_error, verdict.logprob_error)
        self.choice_gap = max(self.choice_gap, verdict.choice_gap)
        if not verdict.ok:
            self.refused += 1
            self.reasons.append(verdict.reason)


MINERS_PER_PROMPT = 4


def requests_for(n: int, max_new_tokens: int, seed: int) -> list[GenerationRequest]:
    """``n`` validator-style requests: the validator's challenge prompts, each sent to ``MINERS_PER_PROMPT``
    miners with a seed each."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % MINERS_PER_PROMPT == 0:
            exact, open_ = build_challenges(rng, 1, 1, ChallengeSettings())
        temperature, top_p = SAMPLINGS[(i // MINERS_PER_PROMPT) % len(SAMPLINGS)]
        ch = exact if temperature == 0 else open_
        out.append(GenerationRequest(messages=tuple(ChatMessage(**m) for m in ch.messages), request_id=str(i),
                                     sampling=SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature,
                                                             top_p=top_p, seed=rng.getrandbits(63))))
    return out


async def serve(backend: TransformersBackend, requests: Sequence[GenerationRequest], max_batch: int,
                max_new_tokens: int) -> tuple[list[Completion], float]:
    """The answers of an honest engine, all submitted at once, and the wall time it took."""
    engine = Engine(backend, EngineSettings(max_batch=max_batch, max_new_tokens=max_new_tokens, max_queue=10_000))
    await engine.start()
    try:
        started = time.perf_counter()
        done = await asyncio.gather(*(engine.generate(r) for r in requests))
        return list(done), time.perf_counter() - started
    finally:
        await engine.stop()


def check(reference: ReferenceModel, asked: GenerationRequest, tokens: Sequence[int], logprobs: Sequence[float],
          declared: str) -> tuple[Verdict, float]:
    s = asked.sampling
    text = reference.loaded.tokenizer.decode(list(tokens), skip_special_tokens=True)
    started = time.perf_counter()
    verdict = reference.verify([{"role": m.role, "content": m.content} for m in asked.messages], text, tokens,
                               logprobs, temperature=s.temperature, top_p=s.top_p, seed=s.seed,
                               max_new_tokens=s.max_new_tokens, miner_dtype=declared)
    return verdict, time.perf_counter() - started


def nucleus_margins(reference: ReferenceModel, asked: GenerationRequest, done: Completion) -> tuple[float, float]:
    """For a top-p answer: how far past top_p (probability mass ranked before it, in the reference) an honest token
    was, and the largest choice gap with no nucleus slack at all; both show how much slack the check needs."""
    s = asked.sampling
    rows = teacher_forced_logprobs(reference.loaded.model, done.prompt_token_ids, done.token_ids,
                                   with_logits=True).logits.numpy()
    excess = gap = 0.0
    for i, (row, token) in enumerate(zip(rows, done.token_ids, strict=True)):
        scores = row.astype(np.float64) / request_float(s.temperature)
        probs = np.exp(scores - scores.max())
        excess = max(excess, mass_before(probs / probs.sum(), token) - request_float(s.top_p))
        gap = max(gap, choice_gap(row, token, temperature=s.temperature, top_p=s.top_p, seed=s.seed, position=i,
                                  nucleus_slack=0.0))
    return excess, gap


# --- honest answers -------------------------------------------------------------------------------------------


async def honest(model: str, dtype: str, batch: int, n: int, max_new_tokens: int, reference: ReferenceModel,
                 seed: int) -> tuple[Tally, list[GenerationRequest], list[Completion]]:
    backend = TransformersBackend.load(model, device="cpu", dtype=dtype)
    requests = requests_for(n, max_new_tokens, seed)
    answers, seconds = await serve(backend, requests, batch, max_new_tokens)
    tally = Tally(generate_s=seconds)
    for asked, done in zip(requests, answers, strict=True):
        tally.add(*check(reference, asked, done.token_ids, done.logprobs, backend.identity.dtype))
        if asked.sampling.top_p < 1 and asked.sampling.temperature > 0:
            excess, gap = nucleus_margins(reference, asked, done)
            tally.nucleus_excess = max(tally.nucleus_excess, excess)
            tally.gap_without_slack = max(tally.gap_without_slack, gap)
    return tally, requests, answers


# --- cheats ---------------------------------------------------------------------------------------------------


async def cheats(model: str, reference: ReferenceModel, n: int, max_new_tokens: int, honest_requests, honest_answers,
                 other_model: str, dtypes: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Cheat name -> (answers refused, answers checked)."""
    results: dict[str, tuple[int, int]] = {}

    def tally(name: str, asked: Sequence[GenerationRequest], answers: Sequence[tuple[Sequence[int], Sequence[float]]],
              declared: str) -> None:
        verdicts = [check(reference, a, t, lp, declared)[0] for a, (t, lp) in zip(asked, answers, strict=True)]
        results[name] = (sum(not v.ok or v.completeness < 1.0 for v in verdicts), len(asked))

    requests = requests_for(n, max_new_tokens, seed=777)
    sampled = [r for r in requests if r.sampling.temperature > 0]
    f32 = TransformersBackend.load(model, device="cpu", dtype="float32")
    greedy = [replace(r, sampling=replace(r.sampling, temperature=0.0)) for r in sampled]
    answers, _ = await serve(f32, greedy, 8, max_new_tokens)
    tally("greedy when asked to sample (float32 rule)", sampled, [(d.token_ids, d.logprobs) for d in answers],
          "float32")
    if "bfloat16" in dtypes:
        bf16 = TransformersBackend.load(model, device="cpu", dtype="bfloat16")
        answers, _ = await serve(bf16, greedy, 8, max_new_tokens)
        tally("greedy when asked to sample (bf16 miner, loose rule)", sampled,
              [(d.token_ids, d.logprobs) for d in answers], "bfloat16")
        answers, _ = await serve(bf16, requests, 8, max_new_tokens)
        tally("bf16 computed, float32 declared", requests, [(d.token_ids, d.logprobs) for d in answers], "float32")
    reseeded = [replace(r, sampling=replace(r.sampling, seed=r.sampling.seed + 1)) for r in sampled]
    answers, _ = await serve(f32, reseeded, 8, max_new_tokens)
    tally("another seed (float32 rule)", sampled, [(d.token_ids, d.logprobs) for d in answers], "float32")
    other = TransformersBackend.load(other_model, device="cpu", dtype="float32")
    answers, _ = await serve(other, requests, 8, max_new_tokens)
    for declared in ("float32", "bfloat16"):
        tally(f"another model: {other_model} ({'float32' if declared == 'float32' else 'loose'} rule)", requests,
              [(d.token_ids, d.logprobs) for d in answers], declared)
    halved = TransformersBackend(keep_first_layers(load_model(model, device="cpu", dtype="float32"), 0.5))
    answers, _ = await serve(halved, requests, 8, max_new_tokens)
    layers = halved.model.config.num_hidden_layers
    for declared in ("float32", "bfloat16"):
        tally(f"fewer layers: first {layers} ({'float32' if declared == 'float32' else 'loose'} rule)", requests,
              [(d.token_ids, d.logprobs) for d in answers], declared)

    # Truncated and padded answers, made from honest float32 answers (their log-probs are the true ones).
    eos = min(reference.end_ids)
    asked_more, cut, cut_eos, padded = [], [], [], []
    for asked, done in zip(honest_requests, honest_answers, strict=True):
        tokens, logprobs = done.token_ids, done.logprobs
        if len(tokens) < 4:
            continue
        k = len(tokens) // 2
        cut.append((tokens[:k], logprobs[:k]))
        forced = teacher_forced_logprobs(reference.loaded.model, done.prompt_token_ids, (*tokens[: k - 1], eos))
        cut_eos.append(((*tokens[: k - 1], eos), forced.logprobs))
        room = asked.sampling.max_new_tokens - len(tokens)
        if tokens[-1] in reference.end_ids and room > 0:  # an answer that ended: end tokens up to the length asked
            padded.append(((*tokens, *[tokens[-1]] * room), (*logprobs, *[logprobs[-1]] * room)))
        else:  # an end token in the middle, the rest of the answer after it
            padded.append(((*tokens[: k - 1], eos, *tokens[k:]), logprobs))
        asked_more.append(asked)
        if len(asked_more) == n:
            break
    for declared in ("float32", "bfloat16"):
        rule = "float32" if declared == "float32" else "loose"
        tally(f"truncated, no end token ({rule} rule)", asked_more, cut, declared)
        tally(f"truncated, end token stuck on ({rule} rule)", asked_more, cut_eos, declared)
        tally(f"padded after an end token ({rule} rule)", asked_more, padded, declared)
    return results


# --- sampler cost ---------------------------------------------------------------------------------------------


def sampler_cost() -> dict[str, float]:
    """Milliseconds per token at 49,152 entries: the PCG64 Gumbel sampler this replaced, and the new one."""
    logits = (np.random.default_rng(0).standard_normal(VOCAB) * 3).astype(np.float32)
    generator = np.random.Generator(np.random.PCG64(1))

    def old() -> int:  # the previous miners/decoding.py, top_p = 1
        return int(np.argmax(logits.astype(np.float64) / 0.7 + generator.gumbel(size=VOCAB)))

    position = iter(range(10**9))

    def timed(fn, rounds: int = 5, n: int = 200) -> float:
        fn()
        best = []
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(n):
                fn()
            best.append((time.perf_counter() - started) / n * 1e3)
        return min(best)

    return {
        "old (PCG64 Gumbel), top_p 1": timed(old),
        "new (position-keyed), top_p 1": timed(lambda: choose_token(logits, temperature=0.7, top_p=1.0, seed=5,
                                                                   position=next(position))),
        "new (position-keyed), top_p 0.9": timed(lambda: choose_token(logits, temperature=0.7, top_p=0.9, seed=5,
                                                                     position=next(position))),
        "choice check (validator), top_p 1": timed(lambda: choice_gap(logits, 3, temperature=0.7, top_p=1.0, seed=5,
                                                                      position=next(position), nucleus_slack=1e-3)),
    }


# --- main -----------------------------------------------------------------------------------------------------


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--answers", type=int, default=2016, help="honest answers in all (tiny + SmolLM2)")
    p.add_argument("--smollm2-answers", type=int, default=96, help="of which SmolLM2-135M (the rest: tiny)")
    p.add_argument("--cheat-answers", type=int, default=48, help="answers per cheat and model (SmolLM2: a third)")
    p.add_argument("--append", action="store_true", help="append the figures to bench/RESULTS.md")
    a = p.parse_args()
    started = time.perf_counter()
    dtypes = ["float32", "bfloat16"] if cpu_has_native_bf16() else ["float32"]
    configs = [(dtype, batch) for dtype in dtypes for batch in (1, 8)]
    plans = [("tiny", "tiny-1", max(a.answers - a.smollm2_answers, 0), 32, a.cheat_answers),
             ("smollm2-135m", "tiny", a.smollm2_answers, 48, max(a.cheat_answers // 3, 8))]
    rows: list[tuple[str, str, int, Tally]] = []
    cheat_rows: list[tuple[str, str, int, int]] = []
    for model, other, total, max_new, n_cheats in plans:
        if total <= 0:
            continue
        reference = ReferenceModel.load(model, device="cpu")
        assert reference.tolerances == FLOAT32
        per = -(-total // len(configs))
        f32_requests: list[GenerationRequest] = []
        f32_answers: list[Completion] = []
        for i, (dtype, batch) in enumerate(configs):
            tally, requests, answers = await honest(model, dtype, batch, per, max_new, reference, seed=100 + i)
            rows.append((model, dtype, batch, tally))
            print(f"{model} {dtype} batch {batch}: {tally.answers} answers, {tally.refused} refused, "
                  f"max log-prob error {tally.logprob_error:.3g}, max choice gap {tally.choice_gap:.3g}, "
                  f"generate {tally.generate_s:.1f}s, verify {tally.verify_s:.1f}s", flush=True)
            for reason in tally.reasons[:3]:
                print("   refused:", reason, flush=True)
            if dtype == "float32" and batch == 8:
                f32_requests, f32_answers = requests, answers
        for name, (refused, checked) in (await cheats(model, reference, n_cheats, max_new, f32_requests, f32_answers,
                                                      other, dtypes)).items():
            cheat_rows.append((model, name, refused, checked))
            print(f"{model} cheat {name}: {refused}/{checked} refused", flush=True)
        del reference
    costs = sampler_cost()
    elapsed = time.perf_counter() - started
    report = render(a, rows, cheat_rows, costs, dtypes, elapsed)
    print(report)
    if a.append:
        with (ROOT / "bench" / "RESULTS.md").open("a") as f:
            f.write("\n" + report)


def render(a, rows, cheat_rows, costs, dtypes, elapsed: float) -> str:
    command = "`.venv/bin/python bench/bench_verification.py"
    command += "".join(f" --{k.replace('_', '-')} {v}" for k, v in (("answers", a.answers), ("smollm2_answers",
                       a.smollm2_answers), ("cheat_answers", a.cheat_answers)))
    command += " --append`"
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    total = sum(t.answers for *_, t in rows)
    refused = sum(t.refused for *_, t in rows)
    lines = [
        "## Verification of sampled answers", "",
        f"{command} ({when}, {elapsed / 60:.1f} min on {os.cpu_count()} cores with other work running; dtypes: "
        f"{', '.join(dtypes)}; torch {torch.__version__}). Real engines answer the validator's challenge prompts "
        "(greedy, 0.7, and 1.0 with top_p 0.9) with a seed each; a float32 `ReferenceModel` verifies every answer "
        "with the seed, temperature and top_p sent. Tiny answers stop at 32 tokens, SmolLM2-135M ones at 48.", "",
        "| model | miner dtype (rule) | batch | honest answers | refused | positions | max log-prob error | "
        "max choice gap | top-p answers: max nucleus excess, max gap without slack | verify / generate time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model, dtype, batch, t in rows:
        rule = "strict" if dtype == "float32" else "loose"
        lines.append(f"| {model} | {dtype} ({rule}) | {batch} | {t.answers} | {t.refused} | {t.positions} | "
                     f"{t.logprob_error:.2g} | {t.choice_gap:.2g} | {t.nucleus_excess:.2g}, {t.gap_without_slack:.2g} | "
                     f"{t.verify_s:.1f} s / {t.generate_s:.1f} s = {t.verify_s / t.generate_s:.1%} |")
    lines += ["", f"Margins in use: float32 rule {FLOAT32}; loose rule {HALF_PRECISION}.", "",
              "| model | cheat | refused (or not whole) / checked |", "|---|---|---|"]
    lines += [f"| {model} | {name} | {r}/{n} ({r / n:.0%}) |" for model, name, r, n in cheat_rows]
    lines += ["", "| sampler cost at 49,152 entries | ms per token |", "|---|---|"]
    lines += [f"| {name} | {ms:.2f} |" for name, ms in costs.items()]
    strict_cheats = [(r, n) for _, name, r, n in cheat_rows if "loose" not in name]
    smol = [t for model, _, batch, t in rows if model == "smollm2-135m" and batch == 1]
    smol_ratio = sum(t.verify_s for t in smol) / max(sum(t.generate_s for t in smol), 1e-9)
    lines += [
        "", "| goal | value | target | result |", "|---|---|---|---|",
        f"| false positives over honest answers | {refused}/{total} | 0 in >= 2,000 | "
        f"{'met' if refused == 0 and total >= 2000 else 'NOT met'} |",
        f"| cheats refused under the float32 rule | {sum(r for r, _ in strict_cheats)}/"
        f"{sum(n for _, n in strict_cheats)} | 100% | "
        f"{'met' if all(r == n for r, n in strict_cheats) else 'NOT met'} |",
        f"| verify / generate, SmolLM2-135M at batch 1 (one teacher-forced pass vs token by token) | "
        f"{smol_ratio:.1%} | <= 10% | {'met' if smol_ratio <= 0.10 else 'NOT met'} |",
        f"| sampler per token, new / old (top_p 1) | "
        f"{costs['new (position-keyed), top_p 1'] / costs['old (PCG64 Gumbel), top_p 1']:.2f}x | a few ms | "
        f"{'met' if costs['new (position-keyed), top_p 1'] < 3 else 'NOT met'} |", "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    asyncio.run(main())
