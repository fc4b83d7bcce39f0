"""ed25519 keys, their SS58 addresses, and BIP39 mnemonics.

A ``Keypair`` is a 32-byte ed25519 seed (PyNaCl). Mnemonics follow substrate-bip39: the BIP39 English phrase is
turned back into its entropy, and the seed is the first 32 bytes of
``PBKDF2-HMAC-SHA512(password=entropy, salt="mnemonic" + passphrase, 2048 rounds)``. This is how Substrate tools
derive a key from a phrase, so the same phrase gives the same ed25519 key there (without derivation paths).
"""

from __future__ import annotations

import functools
import hashlib
import hmac

import ed25519_zebra
import nacl.bindings
import nacl.exceptions
import nacl.signing
import nacl.utils

from subnet import ss58
from subnet.errors import InvalidAddressError, InvalidMnemonicError

SEED_BYTES = 32
SIGNATURE_BYTES = 64
MNEMONIC_WORD_COUNTS = (12, 15, 18, 21, 24)


@functools.cache
def _wordlist():
    # Imported lazily: loading the wordlist is work, and importing this module must do nothing.
    from mnemonic import Mnemonic

    return Mnemonic("english")


def generate_mnemonic(words: int = 12) -> str:
    """Return a fresh random BIP39 English phrase of ``words`` words (12, 15, 18, 21 or 24)."""
    if words not in MNEMONIC_WORD_COUNTS:
        raise InvalidMnemonicError(f"a mnemonic has one of {MNEMONIC_WORD_COUNTS} words, not {words}")
    return _wordlist().generate(strength=words * 32 // 3)


def normalize_mnemonic(phrase: str) -> str:
    """Lower-case the phrase and collapse whitespace, so pasted phrases compare equal."""
    return " ".join(phrase.lower().split())


def seed_from_mnemonic(phrase: str, passphrase: str = "") -> bytes:
    """Return the 32-byte ed25519 seed of a BIP39 phrase (substrate-bip39 derivation, see module docstring).

    Raises ``InvalidMnemonicError`` for unknown words, a wrong word count or a bad checksum.
    """
    words = normalize_mnemonic(phrase)
    if len(words.split()) not in MNEMONIC_WORD_COUNTS:
        raise InvalidMnemonicError(
            f"a mnemonic has one of {MNEMONIC_WORD_COUNTS} words, this one has {len(words.split())}"
        )
    try:
        entropy = bytes(_wordlist().to_entropy(words))
    except (ValueError, LookupError) as e:
        raise InvalidMnemonicError(f"not a valid BIP39 English mnemonic: {e}") from None
    if not _wordlist().check(words):
        raise InvalidMnemonicError("not a valid BIP39 English mnemonic: the checksum does not match (a typo?)")
    salt = ("mnemonic" + passphrase).encode()
    return hashlib.pbkdf2_hmac("sha512", entropy, salt, 2048)[:SEED_BYTES]


class Keypair:
    """An ed25519 signing key with its SS58 address. Never prints its secret."""

    __slots__ = ("_secret_key", "_signing_key", "public_key", "ss58_address")

    def __init__(self, signing_key: nacl.signing.SigningKey) -> None:
        self._signing_key = signing_key
        self.public_key: bytes = bytes(signing_key.verify_key)
        self.ss58_address: str = ss58.encode(self.public_key)
        # libsodium's 64-byte secret key (seed || public key), kept to sign without PyNaCl's wrapper objects.
        self._secret_key = bytes(signing_key) + self.public_key

    @classmethod
    def from_seed(cls, seed: bytes) -> Keypair:
        """Build the keypair of a 32-byte seed."""
        if not isinstance(seed, bytes | bytearray) or len(seed) != SEED_BYTES:
            raise ValueError(f"an ed25519 seed is {SEED_BYTES} bytes")
        return cls(nacl.signing.SigningKey(bytes(seed)))

    @classmethod
    def from_seed_hex(cls, seed_hex: str) -> Keypair:
        """Build the keypair of a seed written as 64 hex digits (an optional ``0x`` prefix is allowed)."""
        text = seed_hex.strip().removeprefix("0x")
        try:
            seed = bytes.fromhex(text)
        except ValueError:
            raise ValueError("a seed is 64 hexadecimal digits") from None
        return cls.from_seed(seed)

    @classmethod
    def from_mnemonic(cls, phrase: str, passphrase: str = "") -> Keypair:
        """Build the keypair of a BIP39 phrase (see ``seed_from_mnemonic``)."""
        return cls.from_seed(seed_from_mnemonic(phrase, passphrase))

    @classmethod
    def generate(cls) -> Keypair:
        """A keypair from 32 fresh random bytes (no mnemonic; use ``generate_mnemonic`` for a restorable one)."""
        return cls.from_seed(nacl.utils.random(SEED_BYTES))

    @property
    def seed(self) -> bytes:
        """The 32-byte secret seed. Handle with care."""
        return bytes(self._signing_key)

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte ed25519 signature of ``message``."""
        return nacl.bindings.crypto_sign(message, self._secret_key)[:SIGNATURE_BYTES]

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this key's signature of ``message``."""
        return verify_signature(self.public_key, message, signature)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Keypair) and hmac.compare_digest(self.seed, other.seed)

    def __hash__(self) -> int:
        return hash(self.public_key)

    def __repr__(self) -> str:
        return f"Keypair({self.ss58_address})"


@functools.lru_cache(maxsize=4096)
def public_key_of(address: str) -> bytes:
    """The public key of an SS58 address (cached; raises ``InvalidAddressError``)."""
    return ss58.decode(address)


def verify_signature(signer: str | bytes, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid ed25519 signature of ``message`` by ``signer``.

    ``signer`` is an SS58 address or a 32-byte public key. Malformed input returns False, never raises.
    """
    try:
        public_key = public_key_of(signer) if isinstance(signer, str) else bytes(signer)
        if len(public_key) != ss58.PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
            return False
        nacl.bindings.crypto_sign_open(bytes(signature) + bytes(message), public_key)
    except (InvalidAddressError, nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, TypeError):
        return False
    return True


# Public keys that libsodium has accepted a signature from, so ``verify_signature_fast`` may use zebra for them.
_VETTED_KEYS: set[bytes] = set()
_MAX_VETTED_KEYS = 65_536


def verify_signature_fast(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """``verify_signature`` for a 32-byte public key, faster on the keys a process sees again and again.

    Signed calls verify one signature per call on each side, the costliest step of a call. ed25519-zebra (Rust;
    the binding Substrate's Python tools use) verifies faster than libsodium on this project's machines
    (``bench/bench_wire.py`` prints both). It follows ZIP-215, which accepts a few encodings libsodium refuses,
    among them small-order public keys, under which anyone could forge. So a key's first signature is checked
    by libsodium, and only keys that passed once take the fast path. What still differs then is which
    signatures the key's *own holder* can make valid (non-canonical R, the cofactored equation): that gives
    nobody else a forgery, and replay protection rests on nonces, never on signature bytes.
    """
    if public_key in _VETTED_KEYS:
        return ed25519_zebra.ed_verify(signature, message, public_key)
    if not verify_signature(public_key, message, signature):
        return False
    if len(_VETTED_KEYS) >= _MAX_VETTED_KEYS:
        _VETTED_KEYS.clear()  # forgetting only sends keys back through libsodium once more
    _VETTED_KEYS.add(bytes(public_key))
    return True
