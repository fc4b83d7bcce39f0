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
    """Sample from softmax(logits / temperature) restricted to the top-p nucleus, by the Gumbel-max trick.

    argmax(scores + Gumbel noise) is an exact sample of softmax(scores). Unlike inverse-CDF sampling, whose
    pick flips whenever float noise moves a CDF step across the uniform draw (steps are ~1e-5 apart in a
    49k-token tail, so batched and solo runs of one seed diverged), the winner here changes only if the
    top two noisy scores are within float noise of each other. One Gumbel draw per vocabulary entry per
    token; numpy rather than torch because its sort is ~10x faster on CPU and it uses no torch threads.
    """
    scores = logits.astype(np.float64) / temperature  # [V]
    if top_p < 1:
        nucleus = _nucleus(scores, top_p)
        restricted = np.full_like(scores, -np.inf)
        restricted[nucleus] = scores[nucleus]
        scores = restricted
    return int(np.argmax(scores + generator.gumbel(size=scores.shape)))


def _nucleus(scores: np.ndarray, top_p: float) -> np.ndarray:
    """Token ids of the shortest most-likely-first prefix whose probability reaches ``top_p`` (ties by id).

    Sorting all 49k entries costs ~8 ms; the nucleus is usually among the top few dozen, so sort a growing
    top-k (selected in linear time) and fall back to the full sort only when needed.
    """
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    k = 64
    while True:
        candidates = np.arange(len(probs)) if k >= len(probs) else np.argpartition(-probs, k)[:k]
        order = candidates[np.lexsort((candidates, -probs[candidates]))]  # most likely first, ties by id
        size = int(np.searchsorted(np.cumsum(probs[order]), top_p)) + 1
        # Strictly inside the candidates, so no token outside them could belong to the prefix.
        if size < len(order) or k >= len(probs):
            return order[: min(size, len(order))]
        k *= 8


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
