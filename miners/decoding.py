"""Per-token decoding for the engine: request validation, token choice with log-probs, incremental text.

Token choice is per row with the row's own random generator, so a seeded request draws the same random
numbers, hence the same tokens, whether it runs alone or in any batch.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Sequence

import numpy as np
import torch

from miners.backend import InvalidRequestError, SamplingParams

_MAX_SEED = 2**64


def validate_request(
    sampling: SamplingParams,
    prompt_ids: Sequence[int],
    *,
    max_prompt_tokens: int,
    max_new_tokens: int,
    max_positions: int,
) -> None:
    """Raise ``InvalidRequestError`` (saying what to change) unless the request can be served as is."""
    if not prompt_ids:
        raise InvalidRequestError("the prompt is empty: send at least one chat message or a non-empty prompt")
    if not isinstance(sampling.temperature, (int, float)) or not math.isfinite(sampling.temperature):
        raise InvalidRequestError(f"temperature must be a finite number >= 0, got {sampling.temperature!r}")
    if sampling.temperature < 0:
        raise InvalidRequestError(f"temperature must be >= 0 (0 = greedy), got {sampling.temperature}")
    if not isinstance(sampling.top_p, (int, float)) or not 0 < sampling.top_p <= 1:
        raise InvalidRequestError(f"top_p must be in (0, 1] (1 = no nucleus filtering), got {sampling.top_p!r}")
    if not isinstance(sampling.max_new_tokens, int) or not 1 <= sampling.max_new_tokens <= max_new_tokens:
        raise InvalidRequestError(
            f"max_new_tokens must be between 1 and this miner's limit {max_new_tokens}, got {sampling.max_new_tokens!r}"
        )
    if sampling.seed is not None and (not isinstance(sampling.seed, int) or not 0 <= sampling.seed < _MAX_SEED):
        raise InvalidRequestError(f"seed must be an integer in [0, 2**64) or unset, got {sampling.seed!r}")
    if len(prompt_ids) > max_prompt_tokens:
        raise InvalidRequestError(
            f"the prompt has {len(prompt_ids)} tokens, more than this miner's limit of {max_prompt_tokens}; shorten it"
        )
    if len(prompt_ids) + sampling.max_new_tokens > max_positions:
        raise InvalidRequestError(
            f"prompt ({len(prompt_ids)} tokens) + max_new_tokens ({sampling.max_new_tokens}) exceeds the "
            f"model's context of {max_positions} tokens; ask for fewer tokens"
        )


def make_generator(seed: int | None) -> np.random.Generator:
    """A PCG64 generator seeded with ``seed``, or with fresh OS randomness when ``seed`` is None."""
    return np.random.Generator(np.random.PCG64(seed if seed is not None else secrets.randbits(64)))


def choose_tokens(
    logits: torch.Tensor, params: Sequence[SamplingParams], generators: Sequence[np.random.Generator]
) -> list[tuple[int, float]]:
    """For each row of ``logits`` ([B, V] float32, CPU), the chosen token and its log-prob.

    The log-prob is log_softmax of the raw logits (temperature 1, before top-p) at the chosen token, which is
    what a validator recomputes by teacher forcing. Greedy (temperature 0) takes the argmax.
    """
    logprobs = torch.log_softmax(logits, dim=-1)  # [B, V]
    chosen = []
    for row, (p, generator) in enumerate(zip(params, generators, strict=True)):
        if p.temperature == 0:
            token = int(torch.argmax(logits[row]))
        else:
            token = _sample(logits[row].numpy(), p.temperature, p.top_p, generator)
        chosen.append((token, float(logprobs[row, token])))
    return chosen


def _sample(logits: np.ndarray, temperature: float, top_p: float, generator: np.random.Generator) -> int:
    """Inverse-CDF sampling from softmax(logits / temperature) restricted to the top-p nucleus.

    numpy rather than torch: a 49k-entry sort is ~10x faster there on CPU, and it uses no torch threads.
    """
    scaled = logits.astype(np.float64) / temperature  # [V]; float64 keeps the CDF exact enough
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    order = None
    if top_p < 1:
        order = np.argsort(-probs, kind="stable")  # [V], most likely first, ties by token id
        probs = probs[order]
    cdf = np.cumsum(probs)  # [V]
    nucleus = len(cdf)
    if order is not None:
        # The nucleus is the shortest prefix whose mass reaches top_p (always at least one token).
        nucleus = min(int(np.searchsorted(cdf, top_p)) + 1, nucleus)
    u = generator.random() * cdf[nucleus - 1]
    pick = min(int(np.searchsorted(cdf[:nucleus], u, side="right")), nucleus - 1)
    return int(order[pick]) if order is not None else pick


class IncrementalText:
    """Turns a growing token sequence into text deltas without splitting multi-byte characters.

    It re-decodes only a short window (the previous delta's tokens plus the new ones) and holds text back
    while it ends in U+FFFD (an incomplete UTF-8 sequence). The deltas concatenate to the decoded text.
    """

    def __init__(self, detokenize: Callable[[Sequence[int]], str]) -> None:
        self._detokenize = detokenize
        self._ids: list[int] = []
        self._prefix = 0  # start of the decoding window
        self._read = 0  # tokens before this index have been turned into emitted text

    def push(self, token_id: int, *, last: bool = False) -> str:
        """Add a token; return the text it completes. ``last`` flushes everything, complete or not."""
        self._ids.append(token_id)
        before = self._detokenize(self._ids[self._prefix : self._read])
        after = self._detokenize(self._ids[self._prefix :])
        if len(after) <= len(before) or (after.endswith("\ufffd") and not last):
            return ""
        self._prefix, self._read = self._read, len(self._ids)
        return after[len(before) :]
