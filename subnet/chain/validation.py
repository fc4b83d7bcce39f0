"""Checks of a call's fields that need no state, run when a transaction is admitted (so a malformed one is
answered at once and never queued or stored) and again when it is applied.

Everything a stranger sends is bounded here: addresses are SS58, endpoints are ASCII host:port, u16 fields fit in
16 bits, lists have equal lengths, and refusal messages never echo the input (a refusal is stored with its block).
"""

from __future__ import annotations

import re

from consensus.units import U16_MAX
from subnet import ss58
from subnet.chain import calls
from subnet.keys import SIGNATURE_BYTES

MAX_ENDPOINT_CHARS = 255
MAX_MODEL_NAME_CHARS = 256
MAX_TLS_CERT_BYTES = 16_384
MAX_SALT_BYTES = 256
MAX_HYPERPARAMETER_NAME_CHARS = 64
MAX_ADMITTED_MODELS = 16
ADMITTED_DTYPES = ("", "float32", "bfloat16", "float16")  # "" admits any precision
INT64_MAX = (1 << 63) - 1
U64_MAX = (1 << 64) - 1

# host:port, ASCII only: a DNS name or IPv4 address, or a bracketed IPv6 address; no scheme, path or unix: socket.
_ENDPOINT = re.compile(r"(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):([0-9]{1,5})",
                       re.ASCII)
_HEX64 = re.compile(r"[0-9a-f]{64}", re.ASCII)


class TxRejected(Exception):
    """A transaction the chain refuses; ``reason`` is a stable short code, the message says what to do."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_address(value: str, what: str) -> str:
    if not ss58.is_valid(value):
        raise TxRejected("invalid_address", f"{what} is not a valid SS58 address")
    return value


def check_endpoint(endpoint: str) -> None:
    match = _ENDPOINT.fullmatch(endpoint) if len(endpoint) <= MAX_ENDPOINT_CHARS else None
    if match is None or not 0 < int(match.group(2)) <= U16_MAX:
        raise TxRejected("invalid_endpoint", f"the endpoint must be host:port in ASCII, at most {MAX_ENDPOINT_CHARS} "
                         "characters, with a port in 1..65535 (no scheme or unix: prefix)")


def check_weight_row(uids: tuple[int, ...], values: tuple[int, ...]) -> None:
    if len(uids) != len(values):
        raise TxRejected("length_mismatch", "uids and values must have the same length")
    if len(uids) > U16_MAX + 1 or any(not 0 <= x <= U16_MAX for x in (*uids, *values)):
        raise TxRejected("out_of_range", "uids and weight values must be u16 integers (0..65535)")


def _amount(amount: int) -> None:
    if amount <= 0:
        raise TxRejected("invalid_amount", "the amount must be a positive number of units")


def check_call(call: calls.Call) -> None:
    """Raise ``TxRejected`` unless every field of ``call`` is well-formed."""
    match call:
        case calls.Transfer(dest, amount):
            check_address(dest, "the destination")
            _amount(amount)
        case calls.Register(hotkey, hotkey_signature, proof_valid_until_block):
            check_address(hotkey, "the hotkey")
            if not isinstance(hotkey_signature, bytes) or len(hotkey_signature) != SIGNATURE_BYTES:
                raise TxRejected("invalid_proof", f"the hotkey proof is a {SIGNATURE_BYTES}-byte ed25519 signature "
                                 "(subnet.chain.registration.sign_registration)")
            if not 0 <= proof_valid_until_block <= U64_MAX:
                raise TxRejected("invalid_proof", "proof_valid_until_block must be a u64 block height")
        case calls.AddStake(hotkey, amount) | calls.RemoveStake(hotkey, amount):
            check_address(hotkey, "the hotkey")
            _amount(amount)
        case calls.Serve(endpoint, model_name, model_hash, tls_certificate):
            check_endpoint(endpoint)
            if len(model_name) > MAX_MODEL_NAME_CHARS or not model_name.isprintable():
                raise TxRejected("invalid_model", f"the model name must be printable, at most {MAX_MODEL_NAME_CHARS} "
                                 "characters")
            if model_hash and not _HEX64.fullmatch(model_hash):
                raise TxRejected("invalid_model", "the model hash must be 64 lowercase hex digits (SHA-256 of the "
                                 "weights file), or empty")
            if len(tls_certificate) > MAX_TLS_CERT_BYTES or not tls_certificate.isascii():
                raise TxRejected("invalid_certificate", "the TLS certificate must be ASCII PEM of at most 16 KiB")
        case calls.SetWeights(uids, values, _):
            check_weight_row(uids, values)
        case calls.RevealWeights(uids, values, salt, _):
            check_weight_row(uids, values)
            if len(salt) > MAX_SALT_BYTES:
                raise TxRejected("invalid_commit", f"the salt must be at most {MAX_SALT_BYTES} bytes")
        case calls.CommitWeights(commit_hash):
            if len(commit_hash) != 32:
                raise TxRejected("invalid_commit", "a commit is the 32-byte SHA-256 from "
                                 "subnet.chain.commit.commit_hash")
        case calls.SetHyperparameter(name, value):
            if len(name) > MAX_HYPERPARAMETER_NAME_CHARS or not name.isidentifier():
                raise TxRejected("unknown_hyperparameter", "no hyperparameter has that name: the chain's "
                                 "GetHyperparameters lists them")
            if not 0 <= int(value) <= INT64_MAX:
                raise TxRejected("invalid_hyperparameter", "hyperparameter values are non-negative integers")
        case calls.SetAdmittedModels(models):
            check_admitted_models(models)
        case _:
            raise TxRejected("unknown_call", "this node does not know the call")


def check_admitted_models(models: tuple[calls.AdmittedModel, ...]) -> None:
    if len(models) > MAX_ADMITTED_MODELS:
        raise TxRejected("invalid_model", f"at most {MAX_ADMITTED_MODELS} admitted models")
    for m in models:
        if not _HEX64.fullmatch(m.model_hash):
            raise TxRejected("invalid_model", "an admitted model's hash must be 64 lowercase hex digits (SHA-256 of "
                             "the weights, as miners commit it)")
        if not m.name or len(m.name) > MAX_MODEL_NAME_CHARS or not m.name.isprintable():
            raise TxRejected("invalid_model", f"an admitted model needs a printable name of at most "
                             f"{MAX_MODEL_NAME_CHARS} characters")
        if m.dtype not in ADMITTED_DTYPES:
            raise TxRejected("invalid_model", "an admitted model's dtype is one of float32, bfloat16, float16, or "
                             "empty for any")
    if len({m.model_hash for m in models}) != len(models):
        raise TxRejected("invalid_model", "each model may be admitted once")
