"""The validator's own copy of a model: reference answers for open challenges, and teacher-forced spot checks
of miners that claim to serve the same model."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from subnet.model_loading import LoadedModel, end_token_ids, load_model
from subnet.models import ChatMessage, encode_prompt, teacher_forced_logprobs
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
    ok: bool
    reason: str
    positions: int = 0  # completion tokens the check teacher-forced (0 when it ran no model)
    logprob_error: float = 0.0  # the largest |reported - recomputed| log-prob among them (nats)
    choice_gap: float = 0.0  # the largest distance of a token from the sampler's choice among them (logit units)
    # False for a failure that an honest miner can cause (an answer cut at its own token limit, below the
    # request's, as the proto lets it clamp): that answer scores 0, but the miner is not penalised as a liar.
    lie: bool = True


def _comparable(text: str) -> str:
    """Text as compared with the decoded tokens: outer whitespace dropped, and a trailing U+FFFD (a multi-byte
    character cut by the last token, which a streaming decoder holds back) ignored."""
    return text.strip().removesuffix("\ufffd").strip()


class ReferenceModel:
    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self._lock = threading.Lock()  # one forward pass at a time: the model is not thread-safe
        self.cancelled = threading.Event()  # set at shutdown: a generation in progress stops at the next token
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

    def answer(self, messages: Sequence[Mapping[str, str]], max_new_tokens: int) -> str:
        """The greedy answer of the reference model (blocking; call it from a worker thread)."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        cancelled = self.cancelled

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), cancelled.is_set(), dtype=torch.bool)

        ids = self._prompt_ids(messages)
        model, tokenizer = self.loaded.model, self.loaded.tokenizer
        with self._lock, torch.inference_mode():
            inputs = torch.tensor([ids], device=self.loaded.device)
            out = model.generate(inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=max_new_tokens,
                                 do_sample=False, pad_token_id=tokenizer.eos_token_id,
                                 stopping_criteria=StoppingCriteriaList([_Cancelled()]))
        return tokenizer.decode(out[0, len(ids):], skip_special_tokens=True).strip()

    def tolerances_for(self, miner_dtype: str) -> Tolerances:
        """The strict float32 rule needs both sides in float32; a miner that computes in half precision, or does
        not say (``ModelIdentity.dtype`` empty), is held to the loose rule, which still fails another model."""
        return self.tolerances if miner_dtype == "float32" else HALF_PRECISION

    def verify(self, messages: Sequence[Mapping[str, str]], text: str, token_ids: Sequence[int],
               logprobs: Sequence[float], *, temperature: float, top_p: float, seed: int, max_new_tokens: int,
               miner_dtype: str) -> Verdict:
        """Check a miner's answer ``text``, its reported tokens and log-probs, and its token choices (blocking).

        ``temperature``, ``top_p``, ``seed`` and ``max_new_tokens`` are those of the request the validator sent.
        Fails without running the model when the answer has more than ``max_new_tokens`` tokens (its end token
        included: no honest miner returns more, and teacher forcing costs memory per token, so a check never
        teacher-forces more than that). Otherwise it fails when: the text is not what the tokens decode to
        (special tokens skipped, outer whitespace ignored), so a miner cannot be paid for text its tokens do not
        carry; a non-empty answer comes without tokens, or with a log-prob count other than its token count; a
        token is outside the vocabulary; an end-of-sequence token is followed by anything (padding); the answer
        stops before ``max_new_tokens`` without ending in an end-of-sequence token (truncated). Then, in one
        teacher-forced forward pass: the final end token is not the sampler's choice at its position (within
        ``choice_nats``); or more than ``tolerances.max_bad_fraction`` of the positions report a log-prob off by
        more than ``logprob_nats``; or more than ``max_bad_choice_fraction`` of them hold a token farther than
        ``choice_nats`` from the sampler's choice (``subnet.sampling.choice_gap``: greedy requests the argmax,
        sampled ones the position-keyed Gumbel-max choice for this seed), so answering greedily when asked to
        sample, or with another model, fails. No failure at all is allowed when both sides compute in float32
        (see ``tolerances_for``).
        """
        if len(token_ids) > max_new_tokens:
            return Verdict(False, f"{len(token_ids)} tokens for a request of at most {max_new_tokens}")
        if not token_ids:
            if _comparable(text):
                return Verdict(False, "an answer without its tokens and log-probs")
            return Verdict(True, "an empty answer (it earns nothing)")
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
        # Checked after the forward pass: a cut answer whose tokens are not the model's is a lie all the same.
        truncated = not ended and len(token_ids) < max_new_tokens
        tol = self.tolerances_for(miner_dtype)
        with self._lock:
            forced = teacher_forced_logprobs(self.loaded.model, self._prompt_ids(messages), token_ids,
                                             with_logits=True)
        rows = forced.logits.numpy()  # [C, V] float32
        errors = [abs(r - f) if math.isfinite(r) else math.inf for r, f in zip(logprobs, forced.logprobs, strict=True)]
        gaps = [choice_gap(rows[i], int(token), temperature=temperature, top_p=top_p, seed=seed, position=i,
                           nucleus_slack=tol.nucleus_mass) for i, token in enumerate(token_ids)]
        positions = len(token_ids)
        measured = {"positions": positions, "logprob_error": max(errors), "choice_gap": max(gaps)}
        if ended and gaps[-1] > tol.choice_nats:
            return Verdict(False, f"the end token is not the sampler's choice at position {positions - 1} (gap "
                                  f"{gaps[-1]:.3g}): the answer was cut short", **measured)
        bad_logprobs = sum(e > tol.logprob_nats for e in errors)
        bad_choices = sum(g > tol.choice_nats for g in gaps)
        if bad_logprobs > tol.max_bad_fraction * positions or bad_choices > tol.max_bad_choice_fraction * positions:
            return Verdict(False, f"{bad_logprobs} log-probs and {bad_choices} token choices of {positions} positions "
                                  "failed: the answer does not come from the committed model sampled as asked",
                           **measured)
        if truncated:
            return Verdict(False, f"the answer stops after {positions} of {max_new_tokens} tokens without an "
                                  "end-of-sequence token (a truncated answer)", lie=False, **measured)
        return Verdict(True, "consistent with the committed model sampled as asked", **measured)
