"""Named exceptions of the ``subnet`` package.

Every message says what went wrong and what to do about it. At a gRPC boundary these map to status codes
(see ``subnet/WIRE.md``); on the command line they are printed as one line, never as a traceback.
"""

from __future__ import annotations


class SubnetError(Exception):
    """Base class of every error this package raises on purpose."""


class InvalidAddressError(SubnetError, ValueError):
    """A string is not a valid SS58 address of an ed25519 public key with this network's prefix."""


class InvalidMnemonicError(SubnetError, ValueError):
    """A mnemonic is not a valid BIP39 English phrase (unknown word, wrong length or bad checksum)."""


class WalletError(SubnetError):
    """A wallet or keyfile cannot be created, read or decrypted."""


class KeyfileNotFoundError(WalletError):
    """The keyfile a command needs does not exist."""


class KeyfileExistsError(WalletError):
    """Refusing to overwrite an existing keyfile."""


class WrongPasswordError(WalletError):
    """The password does not decrypt the keyfile."""


class WireError(SubnetError):
    """A problem with a signed call that is not a gRPC status from the peer."""


class ResponseVerificationError(WireError):
    """A peer's response could not be proven to come from the peer we called."""


class UnsignedResponseError(ResponseVerificationError):
    """The response carried no signature, and this client requires one."""


class BadResponseSignatureError(ResponseVerificationError):
    """The response's signature is malformed, from the wrong key, or does not cover what we received."""
