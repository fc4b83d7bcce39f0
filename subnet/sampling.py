"""The token sampler every miner runs and every validator re-checks (spec: subnet/WIRE.md, "Sampling").

The token at completion position ``i`` (0-based, counting generated tokens) of a request with seed ``seed`` is
``argmax_j (logit_j / T + g_j)`` over the top-p nucleus, where the Gumbel noise ``g_j`` is a pure function of
``(seed, i, j)``: SHAKE-128 of the seed and the position, read as one little-endian uint32 per token. Nothing
else (the batch, earlier draws, the thread) feeds the noise, so a batched miner and a validator's single
teacher-forced pass, which sees every position's logits at once, make the same choice; the validator measures
how far the miner's token is from that choice (``choice_gap``) and accepts near-ties caused by float noise.

argmax(scores + Gumbel noise) is an exact sample of softmax(scores). Unlike inverse-CDF sampling, whose pick flips
whenever float noise moves a CDF step across the uniform draw (steps are ~1e-5 apart in a 49k-token tail), the
winner here changes only if the top two noisy scores are within float noise of each other. numpy rather than torch:
its sort is ~10x faster on CPU and it uses no torch threads.

Both sides live here because miners and validators never import each other.
"""

from __future__ import annotations

import hashlib
import math
import secrets

import numpy as np

# Domain separation of the noise: the ASCII bytes that start the SHAKE-128 input.
NOISE_DOMAIN = b"subnet-sampler/v1"
MAX_SEED = 2**64


def random_seed() -> int:
    """A fresh seed for a request that came without one."""
    return secrets.randbits(64)


def request_float(x: float) -> float:
    """``x`` as a request carries it: rounded to float32 (the wire type of temperature and top_p), as a double.

    Both sides round, so an in-process request for 0.7 samples exactly like a wire request for 0.7.
    """
    return float(np.float32(x))


def gumbel_noise(seed: int, position: int, n: int) -> np.ndarray:
    """The Gumbel noise of tokens ``0 .. n-1`` at completion ``position`` of a request seeded ``seed`` ([n] float64).

    ``g_j = -ln(-ln(u_j))`` with ``u_j = (x_j + 0.5) * 2**-32`` (exact in a double, strictly inside (0, 1)), where
    ``x_j`` is the little-endian uint32 in bytes ``4j .. 4j+3`` of the SHAKE-128 output for
    ``NOISE_DOMAIN || seed as 8 bytes LE || position as 8 bytes LE``. A shorter call's output is a prefix of a
    longer one's (SHAKE is an extendable-output function). 32-bit words rather than 64: half the hashing, and the
    noise still spans [-3.13, 22.9], so only tokens whose probability is below ~1e-10 of the winner's can never win.
    """
    if not 0 <= seed < MAX_SEED or not 0 <= position < MAX_SEED:
        raise ValueError(f"seed and position must be in [0, 2**64), got {seed}, {position}")
    message = NOISE_DOMAIN + seed.to_bytes(8, "little") + position.to_bytes(8, "little")
    noise = np.frombuffer(hashlib.shake_128(message).digest(4 * n), dtype="<u4").astype(np.float64)
    noise += 0.5
    noise *= 2.0**-32
    np.log(noise, out=noise)
    np.negative(noise, out=noise)
    np.log(noise, out=noise)
    np.negative(noise, out=noise)
    return noise


def _probabilities(scores: np.ndarray) -> np.ndarray:
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    return probs


def nucleus(probs: np.ndarray, mass: float) -> np.ndarray:
    """Token ids of the shortest most-likely-first prefix (ties by lower id) whose running sum reaches ``mass``.

    A token is in it exactly when the probability ranked before it sums to less than ``mass`` (so the most likely
    token always is). Sorting all 49k entries costs ~8 ms; the nucleus is usually among the top few dozen, so
    sort a growing top-k (selected in linear time) and fall back to the full sort only when needed. The running
    sums are those of the full sort: the same values added in the same order.
    """
    k = 64
    while True:
        candidates = np.arange(len(probs)) if k >= len(probs) else np.argpartition(-probs, k)[:k]
        order = candidates[np.lexsort((candidates, -probs[candidates]))]  # most likely first, ties by id
        size = int(np.searchsorted(np.cumsum(probs[order]), mass)) + 1
        # Strictly inside the candidates, so no token outside them could belong to the prefix.
        if size < len(order) or k >= len(probs):
            return order[: min(size, len(order))]
        k *= 8


def choose_token(logits: np.ndarray, *, temperature: float, top_p: float, seed: int, position: int) -> int:
    """The sampler's token for one row of float32 ``logits`` ([V]) at completion ``position``.

    Temperature 0 is greedy: the argmax of the logits. Otherwise the scores are ``float64(logit) / T`` (T as a
    request carries it, see ``request_float``), restricted to the top-p nucleus of ``softmax(scores)`` when
    ``top_p < 1``, and the token is the argmax of score + ``gumbel_noise`` (an exact sample of the restricted
    softmax). Ties go to the lower token id, also in the nucleus.
    """
    t = request_float(temperature)
    if t == 0:
        return int(np.argmax(logits))
    scores = logits.astype(np.float64) / t
    p = request_float(top_p)
    if p >= 1:
        return int(np.argmax(scores + gumbel_noise(seed, position, len(scores))))
    ids = np.sort(nucleus(_probabilities(scores), p))
    noise = gumbel_noise(seed, position, int(ids[-1]) + 1)[ids]  # only the prefix of the stream that is needed
    return int(ids[np.argmax(scores[ids] + noise)])


def choice_gap(logits: np.ndarray, token: int, *, temperature: float, top_p: float, seed: int, position: int,
               nucleus_slack: float) -> float:
    """How far ``token`` is from being the sampler's choice on this row of ``logits``, in logit units (>= 0).

    0 when ``choose_token`` picks it. Otherwise ``T * (best noisy score - token's noisy score)``, which a logit
    error of at most ``e`` per entry keeps below ``2e`` for an honest token, at any temperature (greedy: the
    logit gap to the argmax). With top-p the nucleus edge can move with float noise: the best score is taken
    over the tokens surely inside the nucleus (the nucleus of mass ``top_p - nucleus_slack``), and a token ranked
    after ``top_p + nucleus_slack`` or more of the mass (``mass_before``) is outside (gap infinite).
    """
    t = request_float(temperature)
    if t == 0:
        return float(logits.max()) - float(logits[token])
    scores = logits.astype(np.float64) / t
    noisy = scores + gumbel_noise(seed, position, len(scores))
    p = request_float(top_p)
    if p >= 1:
        best = float(noisy.max())
    else:
        probs = _probabilities(scores)
        if mass_before(probs, token) >= p + nucleus_slack:
            return math.inf
        best = float(noisy[nucleus(probs, p - nucleus_slack)].max())
    return max(0.0, (best - float(noisy[token])) * t)


def mass_before(probs: np.ndarray, token: int) -> float:
    """The probability ranked before ``token`` (more likely tokens, and equally likely ones with a lower id).

    A token is in the top-p nucleus exactly when this is below top_p; summed without sorting (O(V)), in a different
    order than the nucleus's running sums, which the verifier's slack absorbs.
    """
    p = probs[token]
    return float(probs[probs > p].sum() + probs[:token][probs[:token] == p].sum())
