"""Proof that the registering coldkey holds the hotkey it registers.

Bittensor registers any hotkey address for whichever coldkey pays first, without a word from the hotkey. We do
not: whoever learned a hotkey address (from a metagraph, a log, a config file) could otherwise claim it under
their own coldkey before its holder does. So a ``Register`` carries the hotkey's signature over this chain's
genesis hash, the registering coldkey and the last block the proof is good for: it cannot be reused by another
coldkey, on another chain, or (the window is bounded, see ``MAX_PROOF_WINDOW_BLOCKS``) long after it was made.

The signed message has a fixed layout, 122 bytes::

    b"subnet-register/v1" (18) || genesis hash (32) || coldkey public key (32) || hotkey public key (32)
    || valid_until_block (8, big-endian)

Public keys, not SS58 text: an SS58 address names exactly one key (``subnet.ss58`` parses strictly), and fixed
widths leave no doubt where one field ends. The domain tag keeps this message apart from transactions
(``subnet-tx/v1``) and signed wire calls (``subnet-wire/1``).
"""

from __future__ import annotations

from subnet.keys import Keypair, public_key_of, verify_signature

REGISTER_DOMAIN = b"subnet-register/v1"
MAX_PROOF_WINDOW_BLOCKS = 1000  # a proof may name a last block at most this far past the block that applies it
U64_MAX = (1 << 64) - 1


def registration_message(genesis_hash: str, coldkey_ss58: str, hotkey_ss58: str, valid_until_block: int) -> bytes:
    """The exact bytes the hotkey signs (see the module docstring). Raises ValueError/InvalidAddressError on
    malformed input."""
    genesis = bytes.fromhex(genesis_hash)
    if len(genesis) != 32:
        raise ValueError("a genesis hash is 32 bytes")
    return (REGISTER_DOMAIN + genesis + public_key_of(coldkey_ss58) + public_key_of(hotkey_ss58)
            + valid_until_block.to_bytes(8, "big"))


def sign_registration(hotkey: Keypair, genesis_hash: str, coldkey_ss58: str, valid_until_block: int) -> bytes:
    """The hotkey's 64-byte signature allowing ``coldkey_ss58`` to register it on this chain until
    ``valid_until_block``."""
    return hotkey.sign(registration_message(genesis_hash, coldkey_ss58, hotkey.ss58_address, valid_until_block))


def check_registration_proof(genesis_hash: str, coldkey_ss58: str, hotkey_ss58: str, signature: bytes,
                             valid_until_block: int, block: int) -> tuple[str, str] | None:
    """None when the proof lets ``coldkey_ss58`` register ``hotkey_ss58`` at ``block``; else (reason, message).

    Reasons: ``proof_expired`` (``block`` is past the window), ``proof_window_too_long`` (the window ends more
    than ``MAX_PROOF_WINDOW_BLOCKS`` after ``block``), ``bad_hotkey_proof`` (not the hotkey's signature over this
    genesis, coldkey and window). Messages never echo the input.
    """
    if not 0 <= valid_until_block <= U64_MAX:
        return "bad_hotkey_proof", "proof_valid_until_block must be a u64"
    # The cheap checks first: an expired or overlong proof is refused without verifying a signature.
    if block > valid_until_block:
        return "proof_expired", "the hotkey proof has expired: sign a new one"
    if valid_until_block - block > MAX_PROOF_WINDOW_BLOCKS:
        return "proof_window_too_long", (f"the hotkey proof may be valid for at most {MAX_PROOF_WINDOW_BLOCKS} "
                                         "blocks ahead")
    try:
        message = registration_message(genesis_hash, coldkey_ss58, hotkey_ss58, valid_until_block)
    except ValueError:  # a malformed address (InvalidAddressError is one) or genesis hash: no proof matches it
        return "bad_hotkey_proof", "the hotkey proof does not match this hotkey"
    if not verify_signature(hotkey_ss58, message, signature):
        return "bad_hotkey_proof", ("the hotkey proof is not the hotkey's signature over this chain, this coldkey "
                                    "and this window: sign it with the hotkey (subnet.chain.registration)")
    return None
