"""Keys and addresses: SS58 vectors and strict parsing, mnemonics, signatures."""

from __future__ import annotations

import ed25519_zebra
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subnet import keys, ss58
from subnet.errors import InvalidAddressError, InvalidMnemonicError
from subnet.keys import Keypair, generate_mnemonic, seed_from_mnemonic, verify_signature, verify_signature_fast

# Substrate's well-known development key "Alice": public key and its generic-prefix (42) address.
ALICE_PUBLIC = bytes.fromhex("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d")
ALICE_SS58 = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


def test_ss58_matches_substrate_vector() -> None:
    assert ss58.encode(ALICE_PUBLIC) == ALICE_SS58
    assert ss58.decode(ALICE_SS58) == ALICE_PUBLIC
    assert ss58.is_valid(ALICE_SS58)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        (ALICE_SS58[:-1] + ("Z" if ALICE_SS58[-1] != "Z" else "Y"), "checksum"),
        ("0" + ALICE_SS58[1:], "base58"),  # '0' is not in the alphabet
        ("1" + ALICE_SS58, "too long|decodes to"),  # a leading "1" adds a zero byte
        (ALICE_SS58[:-2], "decodes to"),
        (ss58.encode(ALICE_PUBLIC, prefix=0), "prefix"),
        ("", "non-empty"),
        (ALICE_SS58 * 2, "too long"),
    ],
)
def test_ss58_parsing_is_strict(address: str, why: str) -> None:
    with pytest.raises(InvalidAddressError, match=why):
        ss58.decode(address)
    assert not ss58.is_valid(address)


def test_ss58_rejects_non_strings_and_wrong_key_sizes() -> None:
    assert not ss58.is_valid(None)
    assert not ss58.is_valid(ALICE_PUBLIC)
    with pytest.raises(InvalidAddressError):
        ss58.encode(b"\x01" * 31)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_ss58_round_trips_every_key(public_key: bytes) -> None:
    address = ss58.encode(public_key)
    assert ss58.decode(address) == public_key


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0OIl", max_size=60))
def test_ss58_decode_never_accepts_a_non_canonical_string(text: str) -> None:
    try:
        key = ss58.decode(text)
    except InvalidAddressError:
        return
    assert ss58.encode(key) == text


def test_mnemonic_follows_substrate_bip39() -> None:
    # substrate-bip39's published vector (password "Substrate"): the seed is the first 32 bytes.
    seed = seed_from_mnemonic(ABANDON, "Substrate")
    assert seed.hex() == "44e9d125f037ac1d51f0a7d3649689d422c2af8b1ec8e00d71db4d7bf6d127e3"


def test_mnemonic_round_trip_and_normalisation() -> None:
    phrase = generate_mnemonic(12)
    assert len(phrase.split()) == 12
    key = Keypair.from_mnemonic(phrase)
    messy = "  " + phrase.upper().replace(" ", "   \n") + " "
    assert Keypair.from_mnemonic(messy) == key
    assert Keypair.from_mnemonic(phrase, "passphrase") != key
    assert len(generate_mnemonic(24).split()) == 24
    assert generate_mnemonic() != generate_mnemonic()


@pytest.mark.parametrize(
    ("phrase", "why"),
    [
        ("abandon " * 11 + "abandon", "checksum"),
        ("abandon " * 11 + "notaword", "not a valid"),
        ("abandon " * 10 + "about", "words"),
    ],
)
def test_invalid_mnemonics_are_refused(phrase: str, why: str) -> None:
    with pytest.raises(InvalidMnemonicError, match=why):
        seed_from_mnemonic(phrase)


def test_seed_round_trip_and_hex_forms() -> None:
    key = Keypair.generate()
    assert Keypair.from_seed(key.seed) == key
    assert Keypair.from_seed_hex("0x" + key.seed.hex()) == key
    with pytest.raises(ValueError):
        Keypair.from_seed_hex("zz" * 32)
    with pytest.raises(ValueError):
        Keypair.from_seed(b"\x00" * 31)
    assert key.seed.hex() not in repr(key) and key.ss58_address in repr(key)


def test_signatures_verify_only_for_the_right_key_and_message() -> None:
    key, other = Keypair.generate(), Keypair.generate()
    sig = key.sign(b"message")
    assert len(sig) == 64
    assert key.verify(b"message", sig)
    assert verify_signature(key.ss58_address, b"message", sig)
    assert verify_signature(key.public_key, b"message", sig)
    assert not verify_signature(key.ss58_address, b"messagE", sig)
    assert not verify_signature(other.ss58_address, b"message", sig)
    assert not verify_signature(key.ss58_address, b"message", sig[:-1])
    assert not verify_signature(key.ss58_address, b"message", bytes(64))
    assert not verify_signature("not-an-address", b"message", sig)


def test_fast_verification_agrees_and_vets_each_key_with_libsodium_first() -> None:
    key, other = Keypair.generate(), Keypair.generate()
    sig = key.sign(b"message")
    # A bad first signature does not vet the key.
    assert not verify_signature_fast(key.public_key, b"messagE", sig)
    assert key.public_key not in keys._VETTED_KEYS
    assert verify_signature_fast(key.public_key, b"message", sig)
    assert key.public_key in keys._VETTED_KEYS
    # Vetted keys take zebra's path, which still refuses what it must.
    assert verify_signature_fast(key.public_key, b"message", sig)
    assert not verify_signature_fast(key.public_key, b"messagE", sig)
    assert not verify_signature_fast(other.public_key, b"message", sig)
    assert not verify_signature_fast(key.public_key, b"message", sig[:-1])
    assert not verify_signature_fast(key.public_key, b"message", bytes(64))


def test_fast_verification_refuses_a_small_order_key_that_zebra_alone_would_accept() -> None:
    # The identity point as public key, R = identity, S = 0: valid for ANY message under ZIP-215 (zebra), so
    # anyone could "sign" as this key. libsodium refuses small-order keys, and it vets every key first.
    identity = b"\x01" + bytes(31)
    forged = identity + bytes(32)
    assert ed25519_zebra.ed_verify(forged, b"any message", identity)
    assert not verify_signature_fast(identity, b"any message", forged)
    assert identity not in keys._VETTED_KEYS
