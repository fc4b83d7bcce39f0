"""The validator's own copy of a model: reference answers for open challenges, and teacher-forced spot checks
of miners that claim to serve the same model."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from subnet.model_loading import LoadedModel, load_model
from subnet.models import ChatMessage, encode_prompt, teacher_forced_logprobs


@dataclass(frozen=True)
class Tolerances:
    """How far an honest answer may stray from the reference's teacher-forced pass.

    ``logprob_nats``: per token, |reported - recomputed| log-prob. ``tie_nats``: for a greedy request, a token
    that is not the reference's argmax passes only when its log-prob is within this of the argmax's (a float
    tie). ``max_bad_fraction``: share of all checks allowed to fail.
    """

    logprob_nats: float
    tie_nats: float
    max_bad_fraction: float


# Both sides in float32 (what `--dtype auto` picks on a CPU without native bf16, e.g. this machine and the
# tests): honest tiny and SmolLM2-135M miners, batched 8-wide in the engine, then teacher-forced alone, differed
# by at most 2.4e-5 nats per log-prob over 640 + 326 greedy positions and 20 sampled answers, and never flipped
# an argmax (largest gap 0). So 1e-3 nats (40x the worst seen) for both, and no failed position is forgiven:
# another model misses by whole nats (the tiny-1 liar of the tests fails every one of its 64 positions).
FLOAT32 = Tolerances(logprob_nats=1e-3, tie_nats=1e-3, max_bad_fraction=0.0)
# A bf16/fp16 reference (`--dtype auto` on a GPU or a CPU with native bf16) needs the loose rule. Measured with
# SmolLM2-135M, 20 answers of 48 tokens (10 greedy), miner batched vs reference alone: both bf16, log-probs
# differ by up to 0.28 nats and 4 of 316 greedy tokens (1.3%) were not the reference's argmax, by up to 0.50
# nats; a bf16 miner checked by a float32 reference: up to 0.19 nats, 9 of 316 (2.8%), gaps up to 0.32 nats.
# Strict per-position limits would catch every honest half-precision miner within a few steps.
HALF_PRECISION = Tolerances(logprob_nats=0.5, tie_nats=0.5, max_bad_fraction=0.1)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str
    positions: int = 0  # completion tokens the check teacher-forced (0 when it ran no model)


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

    @classmethod
    def load(cls, spec: str, *, device: str = "auto") -> ReferenceModel:
        return cls(load_model(spec, device=device))

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
               logprobs: Sequence[float], *, greedy: bool, miner_dtype: str, max_tokens: int | None = None) -> Verdict:
        """Check a miner's answer ``text`` and its reported tokens and log-probs (blocking).

        Fails without running the model when the answer has more than ``max_tokens`` tokens (pass the request's
        ``max_new_tokens`` plus one end token): no honest miner returns more, and teacher forcing costs memory
        per token, so a check never teacher-forces more than that. Otherwise it fails when: the text is not what the tokens decode to (special tokens skipped, outer whitespace
        ignored), so a miner cannot be paid for text its tokens do not carry; a non-empty answer comes without
        tokens, or with a log-prob count other than its token count; a token is outside the vocabulary; or, in
        one teacher-forced forward pass, a reported log-prob is off by more than ``tolerances.logprob_nats``, or
        (greedy requests) a token is not the argmax and not within ``tolerances.tie_nats`` of it, at more than
        ``tolerances.max_bad_fraction`` of the checks (none at all when both sides compute in float32; see
        ``tolerances_for``).
        """
        if max_tokens is not None and len(token_ids) > max_tokens:
            return Verdict(False, f"{len(token_ids)} tokens for a request of at most {max_tokens}")
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
        tol = self.tolerances_for(miner_dtype)
        with self._lock:
            forced = teacher_forced_logprobs(self.loaded.model, self._prompt_ids(messages), token_ids)
        checks = [not math.isfinite(r) or abs(r - f) > tol.logprob_nats
                  for r, f in zip(logprobs, forced.logprobs, strict=True)]
        if greedy:
            # forced.gaps[i]: nats between the argmax and the chosen token at position i.
            checks += [gap > tol.tie_nats for gap in forced.gaps]
        bad = sum(checks)
        positions = len(forced.logprobs)
        if bad > tol.max_bad_fraction * len(checks):
            return Verdict(False, f"{bad} of {len(checks)} checks failed: the answer does not come from the "
                                  "committed model", positions)
        return Verdict(True, "consistent with the committed model", positions)
