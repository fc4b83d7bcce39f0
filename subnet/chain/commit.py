"""The commit-reveal hash, shared by the validator that commits and the chain that checks the reveal."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

from subnet.keys import public_key_of


def commit_hash(hotkey: str, uids: Sequence[int], values: Sequence[int], salt: bytes, version_key: int) -> bytes:
    """SHA-256 over the hotkey's public key, the row (u16 uids and values), the salt and the version key.

    Binding the hotkey stops another validator from revealing (copying) somebody else's commit.
    """
    if len(uids) != len(values):
        raise ValueError("uids and values must have the same length")
    h = hashlib.sha256(b"subnet-commit/v1")
    h.update(public_key_of(hotkey))
    h.update(struct.pack(f"<I{len(uids)}H", len(uids), *uids))
    h.update(struct.pack(f"<{len(values)}H", *values))
    h.update(struct.pack("<I", len(salt)) + bytes(salt))
    h.update(struct.pack("<Q", version_key))
    return h.digest()
