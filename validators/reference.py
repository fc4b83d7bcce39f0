"""The validator's own copies of the admitted models: every answer of a miner committed to one of them is
inspected (tokens, text, end), and a share is verified by one teacher-forced pass (log-probs and token choices).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from subnet.model_loading import LoadedModel, end_token_ids, load_model
from subnet.models import ChatMessage, PromptCache, encode_prompt, teacher_forced_logprobs
from subnet.sampling import choice_gap


@dataclass(frozen=True)
class Tolerances:
    """How far an honest answer may stray from the reference's teacher-forced pass.

    ``logprob_nats``: per token, |reported - recomputed| log-prob. ``choice_nats``: per token, how far (in logit
    units, ``subnet.sampling.choice_gap``) the miner's token may be from the sampler's choice recomputed from the
    reference's logits with the request's seed, temperature and top_p: a near-tie of the noisy scores, which float
    differences between the two forward passes can flip (greedy requests: the logit gap to the argmax).
    ``nucleus_mass``: how far the top-p nucleus edge may move (probability mass). ``max_bad_fraction``: share of
    the log-prob checks allowed to fail; ``max_bad_choice_fraction``: share of the choice checks allowed to fail.
    """

    logprob_nats: float
    choice_nats: float
    nucleus_mass: float
    max_bad_fraction: float
    max_bad_choice_fraction: float


# Measured on this 2-core CPU (native bf16), honest answers from the real engine at batch 1 and 8, the validator's
# prompts, temperatures 0 / 0.7 / 1.0, top_p 1 and 0.9 (and 0.5-0.95 for the nucleus), checked by a float32
# reference (what `ReferenceModel.load` gives). "Logit error" is the largest |miner row - reference row| over all
# 49,152 entries, recorded inside the engine; a choice gap is at most twice it (subnet.sampling.choice_gap).
# Both sides float32: tiny models, 144 answers x 64 tokens (batch 1 and 8): log-probs within 9.1e-6 nats, logits
# within 1.1e-5; SmolLM2-135M, 52 answers (2,043 positions): log-probs within 2.6e-5, logits within 8.9e-5; no
# choice gap above 0, no honest token outside the reference's own nucleus. So 1e-3 for log-probs and choices
# (38x and 5.6x the worst bound seen), 1e-3 of probability mass for the nucleus edge, and no failed position
# forgiven: another model or fewer layers miss by whole nats, a bf16 miner's log-probs are off by 0.07-0.4.
FLOAT32 = Tolerances(logprob_nats=1e-3, choice_nats=1e-3, nucleus_mass=1e-3, max_bad_fraction=0.0,
                     max_bad_choice_fraction=0.0)
# A bf16 miner (or a bf16 reference: `--dtype auto` on a GPU or a CPU with native bf16) needs the loose rule.
# bf16 miner, float32 reference: tiny, 144 answers x 64 tokens: log-probs within 0.083 nats, logits within 0.15,
# choice gaps up to 0.076; SmolLM2-135M, 52 answers (2,155 positions): log-probs within 0.24, logits within 1.4,
# choice gaps up to 0.22. Both bf16: log-probs within 0.11 (tiny) and 0.40 (SmolLM2), gaps within 0.19. Top-p:
# an honest token was ranked up to 0.042 of mass past top_p in the reference, and keeping the reference's winner
# required up to 0.060 of slack (SmolLM2, top_p 0.5). So 0.5 nats for log-probs and choices (2.3x the worst gap),
# 0.15 of mass (2.5x), and a few outliers forgiven: 10% of the log-probs, 2% of the choices (one per 50 positions;
# an earlier greedy-only measurement saw 1-3% of bf16 tokens off the argmax by up to 0.5 nats). The end token's
# choice is never forgiven. A greedy answer to a sampled request can pass this rule when the model is nearly sure
# of every token; the float32 rule catches it. bench/bench_verification.py (2,016 honest answers, batch 1 and 8)
# agrees: float32 log-probs within 1.9e-5 and no choice gap; bf16 log-probs within 0.25, choice gaps within 0.21.
HALF_PRECISION = Tolerances(logprob_nats=0.5, choice_nats=0.5, nucleus_mass=0.15, max_bad_fraction=0.1,
                            max_bad_choice_fraction=0.02)


@dataclass(frozen=True)
class Verdict:
    ok: bool  # False: the answer is not what the committed model, sampled as asked, returns (a lie)
    reason: str
    positions: int = 0  # completion tokens the check teacher-forced (0 when it ran no model)
    logprob_error: float = 0.0  # the largest |reported - recomputed| log-prob among them (nats)
    choice_gap: float = 0.0  # the largest distance of a token from the sampler's choice among them (logit units)
    # The share of the answer delivered: 1 when it ends with an end token or fills ``max_new_tokens``, else its
    # token count over ``max_new_tokens`` (an answer cut short at the miner's own lower limit, as the proto lets
    # it clamp, is the model's but incomplete: it is paid for what it holds, never as a whole answer).
    completeness: float = 1.0


def _comparable(text: str) -> str:
    """Text as compared with the decoded tokens: outer whitespace dropped, and a trailing U+FFFD (a multi-byte
    character cut by the last token, which a streaming decoder holds back) ignored."""
    return text.strip().removesuffix("\ufffd").strip()


class ReferenceModel:
    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self._lock = threading.Lock()  # one forward pass at a time: the model is not thread-safe
        # Every miner answers the same challenge prompts: their prefill is computed once per step, not per answer.
        self._prompts = PromptCache()
        self.tolerances = FLOAT32 if str(loaded.dtype) == "torch.float32" else HALF_PRECISION
        self.end_ids = end_token_ids(loaded)

    @classmethod
    def load(cls, spec: str, *, device: str = "auto", dtype: str = "float32") -> ReferenceModel:
        """The reference computes in float32 by default, whatever ``--dtype auto`` would pick for a miner on this
        machine: only a float32 reference can hold float32 miners to the strict rule (and catch one that
        computes in bf16 but declares float32). A 135M model's one teacher-forced pass stays cheap in float32."""
        return cls(load_model(spec, device=device, dtype=dtype))

    @property
    def weights_sha256(self) -> str:
        return self.loaded.identity.weights_sha256

    def _prompt_ids(self, messages: Sequence[Mapping[str, str]]) -> list[int]:
        turns = [ChatMessage(m["role"], m["content"]) for m in messages]
        return encode_prompt(self.loaded.tokenizer, turns)

    def answer_logprob(self, messages: Sequence[Mapping[str, str]], answer: str) -> float:
        """The mean log-probability per token this model gives ``answer`` after the prompt (blocking): how close
        it is to answering right (``validators.model_quality``)."""
        ids = self.loaded.tokenizer(answer, add_special_tokens=False)["input_ids"]
        if not ids:
            raise ValueError("an empty answer has no likelihood")
        with self._lock:
            forced = teacher_forced_logprobs(self.loaded.model, self._prompt_ids(messages), ids,
                                             prompt_cache=self._prompts)
        return sum(forced.logprobs) / len(ids)

    def tolerances_for(self, miner_dtype: str) -> Tolerances:
        """The strict float32 rule needs both sides in float32; a miner that computes in half precision, or does
        not say (``ModelIdentity.dtype`` empty), is held to the loose rule, which still fails another model."""
        return self.tolerances if miner_dtype == "float32" else HALF_PRECISION

    def inspect(self, text: str, token_ids: Sequence[int], logprobs: Sequence[float], *,
                max_new_tokens: int) -> Verdict:
        """What can be checked of an answer without running the model (cheap: every answer gets it).

        Fails when: the answer has more than ``max_new_tokens`` tokens (its end token included: no honest miner
        returns more, and a check never teacher-forces more than that); a non-empty answer comes without tokens,
        or with a log-prob count other than its token count; a token is outside the vocabulary; the text is not
        what the tokens decode to (special tokens skipped, outer whitespace ignored), so a miner cannot be paid
        for text its tokens do not carry; an end token is followed by anything (padding). Otherwise ``ok``, with
        the answer's ``completeness`` (see ``Verdict``).
        """
        if len(token_ids) > max_new_tokens:
            return Verdict(False, f"{len(token_ids)} tokens for a request of at most {max_new_tokens}")
        if not token_ids:
            if _comparable(text):
                return Verdict(False, "an answer without its tokens and log-probs")
            return Verdict(True, "an empty answer (it earns nothing)", completeness=0.0)
        if len(logprobs) != len(token_ids):
            return Verdict(False, f"{len(token_ids)} tokens but {len(logprobs)} log-probs")
        if any(not 0 <= t < self.loaded.model.config.vocab_size for t in token_ids):
            return Verdict(False, "token ids outside the committed model's vocabulary")
        decoded = self.loaded.tokenizer.decode(list(token_ids), skip_special_tokens=True)
        if _comparable(decoded) != _comparable(text):
            return Verdict(False, "the answer's text is not what its tokens decode to")
        if any(t in self.end_ids for t in token_ids[:-1]):
            return Verdict(False, "tokens after an end-of-sequence token (a padded answer)")
        ended = token_ids[-1] in self.end_ids
        if ended or len(token_ids) >= max_new_tokens:
            return Verdict(True, "a whole answer")
        return Verdict(True, f"an answer cut after {len(token_ids)} of {max_new_tokens} tokens without an end token",
                       completeness=len(token_ids) / max_new_tokens)

    def verify(self, messages: Sequence[Mapping[str, str]], text: str, token_ids: Sequence[int],
               logprobs: Sequence[float], *, temperature: float, top_p: float, seed: int, max_new_tokens: int,
               miner_dtype: str) -> Verdict:
        """``inspect``, then one teacher-forced forward pass over the answer (blocking; call it from a thread).

        ``temperature``, ``top_p``, ``seed`` (already bound to the answering miner's hotkey) and
        ``max_new_tokens`` are those of the request the validator sent. After ``inspect``'s checks, it fails when:
        the final end token is not the sampler's choice at its position (within ``choice_nats``: an answer cut
        short with a forged end); or more than ``tolerances.max_bad_fraction`` of the positions report a log-prob
        off by more than ``logprob_nats``; or more than ``max_bad_choice_fraction`` of them hold a token farther
        than ``choice_nats`` from the sampler's choice (``subnet.sampling.choice_gap``: greedy requests the argmax,
        sampled ones the position-keyed Gumbel-max choice for this seed), so answering greedily when asked to
        sample, with another model, fewer layers or another precision than declared, or relaying another miner's
        sampled answer, fails. No failure at all is allowed when both sides compute in float32 (see
        ``tolerances_for``). An answer cut without an end token passes when its tokens are the model's, with its
        ``completeness`` below 1.
        """
        inspected = self.inspect(text, token_ids, logprobs, max_new_tokens=max_new_tokens)
        if not inspected.ok or not token_ids:
            return inspected
        ended = token_ids[-1] in self.end_ids
        tol = self.tolerances_for(miner_dtype)
        with self._lock:
            forced = teacher_forced_logprobs(self.loaded.model, self._prompt_ids(messages), token_ids,
                                             with_logits=True, prompt_cache=self._prompts)
        rows = forced.logits.numpy()  # [C, V] float32
        errors = [abs(r - f) if math.isfinite(r) else math.inf for r, f in zip(logprobs, forced.logprobs, strict=True)]
        gaps = [choice_gap(rows[i], int(token), temperature=temperature, top_p=top_p, seed=seed, position=i,
                           nucleus_slack=tol.nucleus_mass) for i, token in enumerate(token_ids)]
        positions = len(token_ids)
        measured = {"positions": positions, "logprob_error": max(errors), "choice_gap": max(gaps),
                    "completeness": inspected.completeness}
        bad_logprobs = sum(e > tol.logprob_nats for e in errors)
        body = gaps[:-1] if ended else gaps  # an end token's choice has its own rule, below
        bad_choices = sum(g > tol.choice_nats for g in body)
        if bad_logprobs > tol.max_bad_fraction * positions or bad_choices > tol.max_bad_choice_fraction * positions:
            return Verdict(False, f"{bad_logprobs} log-probs and {bad_choices} token choices of {positions} positions "
                                  "failed: the answer does not come from the committed model sampled as asked",
                           **measured)
        # Checked on its own, after the rest (whose failure says more): no allowance ever covers the end token.
        if ended and gaps[-1] > tol.choice_nats:
            return Verdict(False, f"the end token is not the sampler's choice at position {positions - 1} (gap "
                                  f"{gaps[-1]:.3g}): the answer was cut short", **measured)
        return Verdict(True, "consistent with the committed model sampled as asked", **measured)


class ReferenceModels:
    """The admitted models this validator holds, by weights hash: the only miners it can verify, and so pay."""

    def __init__(self, models: Sequence[ReferenceModel]) -> None:
        self.by_hash: dict[str, ReferenceModel] = {m.weights_sha256: m for m in models}

    @classmethod
    def load(cls, specs: Sequence[str], *, device: str = "auto") -> ReferenceModels:
        return cls([ReferenceModel.load(spec, device=device) for spec in specs])

    def get(self, model_hash: str) -> ReferenceModel | None:
        return self.by_hash.get(model_hash)

    def __bool__(self) -> bool:
        return bool(self.by_hash)

    def describe(self) -> list[str]:
        return [f"{m.loaded.identity.name} ({h[:12]})" for h, m in self.by_hash.items()]
