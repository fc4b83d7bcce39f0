"""The sampling seed a miner actually uses: the request's seed bound to the miner's own hotkey.

    effective = first 8 bytes, big-endian, of BLAKE2b-256( b"subnet-seed/v1" || seed as 8 bytes big-endian
                                                          || the miner hotkey's 32-byte public key )

Why: a relay that forwards a validator's request to an honest miner gets back that miner's sample under the
*source's* key, not under its own; the validator verifies every sampled answer against the key of the miner it
asked, so a relayed sampled answer fails its check, and a copy probe (the relay's request repeated to the source)
returns exactly the relay's answer, which tells who copied whom. Two honest miners serving the same admitted
model with the same request seed still sample differently, so identical sampled answers are never expected
between distinct hotkeys. Greedy requests do not depend on the seed at all (identical greedy answers from the
same model are expected, and never evidence).
"""

from __future__ import annotations

import hashlib

from subnet.keys import public_key_of

_DOMAIN = b"subnet-seed/v1"
U64 = 1 << 64


def bind_seed(seed: int, hotkey_ss58: str) -> int:
    """The seed the miner with ``hotkey_ss58`` samples with when a request carries ``seed`` (a u64)."""
    if not 0 <= seed < U64:
        raise ValueError(f"a sampling seed is a u64, got {seed}")
    digest = hashlib.blake2b(_DOMAIN + seed.to_bytes(8, "big") + public_key_of(hotkey_ss58), digest_size=32).digest()
    return int.from_bytes(digest[:8], "big")
