"""SS58 addresses (Substrate's format) for 32-byte public keys.

An address is ``base58(prefix || public_key || checksum)`` where ``prefix`` is one byte (42, Substrate's generic
network id) and ``checksum`` is the first two bytes of ``blake2b-512(b"SS58PRE" || prefix || public_key)``.
Parsing is strict: only canonical base58, exactly 35 decoded bytes, our prefix and a matching checksum pass.
"""

from __future__ import annotations

import hashlib

from subnet.errors import InvalidAddressError

SS58_PREFIX = 42
PUBLIC_KEY_BYTES = 32

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
_CHECKSUM_BYTES = 2
_DECODED_BYTES = 1 + PUBLIC_KEY_BYTES + _CHECKSUM_BYTES
# A 35-byte value is at most 48 base58 digits; anything longer is rejected before decoding.
_MAX_ADDRESS_CHARS = 48


def _b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    digits = []
    while n:
        n, r = divmod(n, 58)
        digits.append(_ALPHABET[r])
    # Each leading zero byte is written as a leading '1'.
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


def _b58decode(text: str) -> bytes:
    n = 0
    for c in text:
        i = _INDEX.get(c)
        if i is None:
            raise InvalidAddressError(f"{text!r} is not an SS58 address: {c!r} is not a base58 character")
        n = n * 58 + i
    zeros = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * zeros + body


def _checksum(prefix_and_key: bytes) -> bytes:
    return hashlib.blake2b(b"SS58PRE" + prefix_and_key, digest_size=64).digest()[:_CHECKSUM_BYTES]


def encode(public_key: bytes, prefix: int = SS58_PREFIX) -> str:
    """Return the SS58 address of a 32-byte public key (single-byte prefixes 0..63 only)."""
    if len(public_key) != PUBLIC_KEY_BYTES:
        raise InvalidAddressError(f"a public key is {PUBLIC_KEY_BYTES} bytes, got {len(public_key)}")
    if not 0 <= prefix < 64:
        raise InvalidAddressError(f"only single-byte SS58 prefixes (0..63) are supported, got {prefix}")
    payload = bytes([prefix]) + bytes(public_key)
    return _b58encode(payload + _checksum(payload))


def decode(address: str, prefix: int = SS58_PREFIX) -> bytes:
    """Return the 32-byte public key of ``address``.

    Raises ``InvalidAddressError`` unless ``address`` is exactly the canonical encoding of a public key with
    ``prefix``: wrong characters, length, prefix or checksum are all rejected.
    """
    if not isinstance(address, str) or not address:
        raise InvalidAddressError("an SS58 address must be a non-empty string")
    if len(address) > _MAX_ADDRESS_CHARS:
        raise InvalidAddressError(f"{address[:16]!r}... is too long to be an SS58 address")
    raw = _b58decode(address)
    if len(raw) != _DECODED_BYTES:
        raise InvalidAddressError(
            f"{address!r} decodes to {len(raw)} bytes; an SS58 address of a 32-byte key decodes to {_DECODED_BYTES}"
        )
    if raw[0] != prefix:
        raise InvalidAddressError(f"{address!r} has network prefix {raw[0]}, expected {prefix}")
    payload, check = raw[:-_CHECKSUM_BYTES], raw[-_CHECKSUM_BYTES:]
    if _checksum(payload) != check:
        raise InvalidAddressError(f"{address!r} has a bad checksum (a typo?)")
    public_key = payload[1:]
    # Reject the non-canonical spellings base58 would otherwise let through (e.g. extra leading '1's).
    if encode(public_key, prefix) != address:
        raise InvalidAddressError(f"{address!r} is not the canonical SS58 spelling of its key")
    return public_key


def is_valid(address: object, prefix: int = SS58_PREFIX) -> bool:
    """True when ``address`` is a string that ``decode`` accepts."""
    if not isinstance(address, str):
        return False
    try:
        decode(address, prefix)
    except InvalidAddressError:
        return False
    return True
