"""The validator's own copy of a model: reference answers for open challenges, and teacher-forced spot checks
of miners that claim to serve the same model."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from subnet.model_loading import LoadedModel, load_model
from subnet.models import ChatMessage, encode_prompt, teacher_forced_logprobs

# A liar serving another model disagrees at most positions by whole nats; bf16 or batching noise moves an
# honest miner's log-probs by hundredths and flips the argmax only where two tokens are nearly tied.
LOGPROB_TOLERANCE = 0.5  # nats, per token
NEAR_TIE_NATS = 0.5  # a non-argmax greedy token is accepted when within this of the argmax
MAX_BAD_FRACTION = 0.1  # share of positions allowed outside the tolerances


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str


class ReferenceModel:
    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self._lock = threading.Lock()  # one forward pass at a time: the model is not thread-safe
        self.cancelled = threading.Event()  # set at shutdown: a generation in progress stops at the next token

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

    def verify(self, messages: Sequence[Mapping[str, str]], token_ids: Sequence[int], logprobs: Sequence[float],
               *, greedy: bool) -> Verdict:
        """Check a miner's reported tokens and log-probs with one teacher-forced forward pass (blocking).

        Every reported log-prob must be within LOGPROB_TOLERANCE of the recomputed one; for a greedy request every
        token must also be the argmax, or within NEAR_TIE_NATS of it. Up to MAX_BAD_FRACTION of the checks may
        fail (numerical noise); more means the answer did not come from the committed model.
        """
        if not token_ids:
            return Verdict(True, "nothing to check")
        if len(logprobs) != len(token_ids):
            return Verdict(False, f"{len(token_ids)} tokens but {len(logprobs)} log-probs")
        if any(not 0 <= t < self.loaded.model.config.vocab_size for t in token_ids):
            return Verdict(False, "token ids outside the committed model's vocabulary")
        with self._lock:
            forced = teacher_forced_logprobs(self.loaded.model, self._prompt_ids(messages), token_ids)
        checks = [not math.isfinite(r) or abs(r - f) > LOGPROB_TOLERANCE for r, f in zip(logprobs, forced.logprobs,
                                                                                             strict=True)]
        if greedy:
            # forced.gaps[i]: nats between the argmax and the chosen token at position i.
            checks += [gap > NEAR_TIE_NATS for gap in forced.gaps]
        bad = sum(checks)
        if bad > MAX_BAD_FRACTION * len(checks):
            return Verdict(False, f"{bad} of {len(checks)} checks failed: the answer does not come from the "
                                  "committed model")
        return Verdict(True, "consistent with the committed model")
