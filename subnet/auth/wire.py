"""The signed-call format: metadata entries, the exact bytes that are signed, and strict parsing.

Pure functions, no I/O. ``subnet/WIRE.md`` documents the same layout for people writing other clients; keep
the two in step. Each direction carries ONE metadata entry whose value is ``;``-separated fields: it is
present or absent as a whole, simple to parse strictly, and a little cheaper per call than one entry per field.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import NamedTuple

from subnet.errors import BadResponseSignatureError, InvalidAddressError, UnsignedResponseError
from subnet.keys import Keypair, public_key_of, verify_signature, verify_signature_fast

WIRE_VERSION = "v1"
WIRE_TAG = "subnet-wire/1"

# Request metadata (sent by the caller):
#   v1;<caller>;<receiver>;<nonce>;<timestamp_ms>;<body_sha256>;<signature>
MD_AUTH = "x-subnet-auth"
# Response trailing metadata (sent by the server):
#   v1;<signer>;<caller>;<nonce>;<timestamp_ms>;<count>;<digest>;<signature>
MD_RESPONSE_AUTH = "x-subnet-response-auth"
# Sent with RESOURCE_EXHAUSTED: milliseconds to wait before the next call is likely to pass.
MD_RETRY_AFTER = "x-subnet-retry-after-ms"

NONCE_BYTES = 16
_HEX_NONCE = re.compile(r"[0-9a-f]{32}")
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{128}")
_DECIMAL = re.compile(r"[0-9]{1,16}")
# A well-formed request header in one match (the common case); anything else goes through the field-by-field
# parse, which says what is wrong. Addresses are checked separately (they are cached).
_REQUEST_AUTH = re.compile(
    r"v1;([^;]{1,64});([^;]{1,64});([0-9a-f]{32});([0-9]{1,16});([0-9a-f]{64});([0-9a-f]{128})"
)


class AuthFailure(Exception):
    """A request failed one named check; ``str()`` is the message sent back with UNAUTHENTICATED."""

    def __init__(self, check: str, detail: str) -> None:
        super().__init__(f"{check}: {detail}")
        self.check = check


def now_ms(clock=time.time) -> int:
    return int(clock() * 1000)


def new_nonce() -> str:
    """A fresh random 128-bit nonce as 32 lowercase hex digits."""
    return secrets.token_hex(NONCE_BYTES)


def method_name(method: str | bytes) -> str:
    return method.decode() if isinstance(method, bytes) else method


def request_message(method: str, body_sha256: str, caller: str, receiver: str, nonce: str, timestamp_ms: int) -> bytes:
    """The exact bytes a caller signs: UTF-8 lines joined by ``\\n`` (no field can contain a newline)."""
    return "\n".join((f"{WIRE_TAG} request", method, body_sha256, caller, receiver, nonce, str(timestamp_ms))).encode()


def response_message(
    method: str, digest: str, count: int, signer: str, caller: str, nonce: str, timestamp_ms: int
) -> bytes:
    """The exact bytes a server signs over its response (see ``ResponseDigest``)."""
    return "\n".join(
        (f"{WIRE_TAG} response", method, digest, str(count), signer, caller, nonce, str(timestamp_ms))
    ).encode()


class ResponseDigest:
    """Running SHA-256 over framed response messages: for each, 8-byte big-endian length then the bytes.

    A unary response is a stream of one message. Framing makes the digest unambiguous about message
    boundaries, so a server cannot be shown to have said something split differently.
    """

    __slots__ = ("_h", "count")

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self.count = 0

    def update(self, data: bytes) -> None:
        self._h.update(len(data).to_bytes(8, "big"))
        self._h.update(data)
        self.count += 1

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def single_message_digest(data: bytes) -> str:
    """``ResponseDigest`` of exactly one message (a unary response), without the object."""
    return hashlib.sha256(len(data).to_bytes(8, "big") + data).hexdigest()


def response_digest(messages: Iterable[bytes]) -> tuple[str, int]:
    """The digest and count of a sequence of serialized response messages."""
    d = ResponseDigest()
    for m in messages:
        d.update(m)
    return d.hexdigest(), d.count


def _single(metadata: Sequence | None, key: str) -> str | None:
    """The value of ``key``; None when absent. Raises ``AuthFailure`` when it appears twice or is not text."""
    found = None
    for item in metadata or ():
        if item[0] == key:
            if found is not None:
                raise AuthFailure("malformed metadata", f"{key} appears more than once")
            if not isinstance(item[1], str):
                raise AuthFailure("malformed metadata", f"{key} must be a text value")
            found = item[1]
    return found


def _check_address(value: str, what: str) -> None:
    try:
        public_key_of(value)
    except InvalidAddressError as e:
        raise AuthFailure("malformed metadata", f"{what}: {e}") from None


# --- requests ---------------------------------------------------------------------------------------------


class RequestHeader(NamedTuple):
    """The signing fields of a request (parsed and well-formed, not yet verified)."""

    caller: str
    receiver: str
    nonce: str
    timestamp_ms: int
    body_sha256: str
    signature: bytes

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The request metadata carrying this header."""
        value = ";".join(
            (
                WIRE_VERSION,
                self.caller,
                self.receiver,
                self.nonce,
                str(self.timestamp_ms),
                self.body_sha256,
                self.signature.hex(),
            )
        )
        return ((MD_AUTH, value),)


def sign_request(
    keypair: Keypair,
    method: str,
    body: bytes,
    receiver: str,
    *,
    nonce: str | None = None,
    timestamp_ms: int | None = None,
) -> tuple[tuple[tuple[str, str], ...], str]:
    """Sign a call; return ``(metadata, nonce)``. ``nonce``/``timestamp_ms`` are for tests and replays."""
    nonce = nonce or new_nonce()
    ts = now_ms() if timestamp_ms is None else timestamp_ms
    body_sha = hashlib.sha256(body).hexdigest()
    caller = keypair.ss58_address
    sig = keypair.sign(request_message(method, body_sha, caller, receiver, nonce, ts)).hex()
    # Built directly (same layout as RequestHeader.metadata): this runs on every call a client makes.
    return ((MD_AUTH, f"{WIRE_VERSION};{caller};{receiver};{nonce};{ts};{body_sha};{sig}"),), nonce


def parse_request_metadata(metadata: Sequence | None) -> RequestHeader:
    """Strictly parse the signing metadata of a request. Raises ``AuthFailure`` naming the failed check."""
    value = _single(metadata, MD_AUTH)
    if value is None:
        raise AuthFailure("missing metadata", f"the call is not signed (no {MD_AUTH} metadata)")
    match = _REQUEST_AUTH.fullmatch(value)
    if match is None:
        _explain_malformed_request(value)
    caller, receiver, nonce, ts, body_sha, sig = match.groups()
    _check_address(caller, "caller")
    _check_address(receiver, "receiver")
    return RequestHeader(caller, receiver, nonce, int(ts), body_sha, bytes.fromhex(sig))


def _explain_malformed_request(value: str) -> None:
    """Raise ``AuthFailure`` naming the first field of a request header that is malformed."""
    fields = value.split(";")
    if len(fields) != 7 or fields[0] != WIRE_VERSION:
        raise AuthFailure("malformed metadata", f"{MD_AUTH} must be {WIRE_VERSION} followed by 6 ';'-separated fields")
    _, caller, receiver, nonce, ts, body_sha, sig = fields
    if not _HEX_NONCE.fullmatch(nonce):
        raise AuthFailure("malformed metadata", "the nonce must be 32 lowercase hex digits")
    if not _DECIMAL.fullmatch(ts):
        raise AuthFailure("malformed metadata", "the timestamp must be unix milliseconds in decimal")
    if not _HEX_SHA256.fullmatch(body_sha):
        raise AuthFailure("malformed metadata", "the body hash must be 64 lowercase hex digits")
    if not _HEX_SIGNATURE.fullmatch(sig):
        raise AuthFailure("malformed metadata", "the signature must be 128 lowercase hex digits")
    _check_address(caller, "caller")
    _check_address(receiver, "receiver")
    raise AuthFailure("malformed metadata", f"{MD_AUTH} is not a well-formed header")


def claimed_binding(metadata: Sequence | None) -> tuple[str, str] | None:
    """``(caller, nonce)`` if the request carries a well-formed signing header, else None (not verified)."""
    try:
        header = parse_request_metadata(metadata)
    except AuthFailure:
        return None
    return header.caller, header.nonce


# --- responses --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseProof:
    """Evidence that ``signer`` sent a response (``count`` messages with ``digest``) to ``caller``'s call.

    Anyone holding the serialized messages can check it offline with ``verify(messages)``.
    """

    method: str
    digest: str
    count: int
    signer: str
    caller: str
    nonce: str
    timestamp_ms: int
    signature: str

    def message(self) -> bytes:
        return response_message(
            self.method, self.digest, self.count, self.signer, self.caller, self.nonce, self.timestamp_ms
        )

    def verify(self, messages: Iterable[bytes] | None = None) -> bool:
        """True when the signature is valid (and, if ``messages`` are given, they are what was signed)."""
        if messages is not None and response_digest(messages) != (self.digest, self.count):
            return False
        try:
            signature = bytes.fromhex(self.signature)
        except ValueError:
            return False
        return verify_signature(self.signer, self.message(), signature)

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The trailing metadata carrying this proof."""
        value = ";".join(
            (
                WIRE_VERSION,
                self.signer,
                self.caller,
                self.nonce,
                str(self.timestamp_ms),
                str(self.count),
                self.digest,
                self.signature,
            )
        )
        return ((MD_RESPONSE_AUTH, value),)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def sign_response(
    keypair: Keypair, method: str, digest: str, count: int, caller: str, nonce: str, *, timestamp_ms: int | None = None
) -> tuple[tuple[str, str], ...]:
    """Trailing metadata proving ``keypair`` sent this response to ``caller``'s call with ``nonce``."""
    ts = now_ms() if timestamp_ms is None else timestamp_ms
    signer = keypair.ss58_address
    sig = keypair.sign(response_message(method, digest, count, signer, caller, nonce, ts)).hex()
    # Built directly (same layout as ResponseProof.metadata): this runs on every response a server sends.
    return ((MD_RESPONSE_AUTH, f"{WIRE_VERSION};{signer};{caller};{nonce};{ts};{count};{digest};{sig}"),)


def parse_response_proof(method: str, trailers: Sequence | None) -> ResponseProof:
    """Read a ``ResponseProof`` from trailing metadata (format only; use ``check_response`` to verify).

    Raises ``UnsignedResponseError`` when no signature is present, ``BadResponseSignatureError`` when it is
    malformed.
    """
    try:
        value = _single(trailers, MD_RESPONSE_AUTH)
    except AuthFailure as e:
        raise BadResponseSignatureError(f"{method}: the response's {e}") from None
    if value is None:
        raise UnsignedResponseError(
            f"{method}: the server did not sign its response; it may be an old or misconfigured peer "
            "(connect with verify_responses=False to accept unsigned answers)"
        )
    fields = value.split(";")
    if len(fields) == 8 and fields[0] == WIRE_VERSION:
        _, signer, caller, nonce, ts, count, digest, sig = fields
        if (
            _HEX_NONCE.fullmatch(nonce)
            and _DECIMAL.fullmatch(ts)
            and _DECIMAL.fullmatch(count)
            and _HEX_SHA256.fullmatch(digest)
            and _HEX_SIGNATURE.fullmatch(sig)
        ):
            return ResponseProof(method, digest, int(count), signer, caller, nonce, int(ts), sig)
    raise BadResponseSignatureError(f"{method}: the response signature metadata is malformed")


def check_response(
    method: str, trailers: Sequence | None, *, signer: str, caller: str, nonce: str, digest: str, count: int
) -> ResponseProof:
    """Verify a response's trailing metadata against what this client sent and received.

    Returns the proof; raises ``UnsignedResponseError`` or ``BadResponseSignatureError`` (naming the problem).
    """
    try:
        value = _single(trailers, MD_RESPONSE_AUTH)
    except AuthFailure:
        value = None
    # Fast path for the usual case: every field equals what we expect, so only the signature needs work.
    fields = value.split(";") if value else ()
    if (
        len(fields) == 8
        and fields[:4] == [WIRE_VERSION, signer, caller, nonce]
        and fields[5] == str(count)
        and fields[6] == digest
        and _DECIMAL.fullmatch(fields[4])
        and _HEX_SIGNATURE.fullmatch(fields[7])
    ):
        ts = int(fields[4])
        message = response_message(method, digest, count, signer, caller, nonce, ts)
        if verify_signature_fast(public_key_of(signer), message, bytes.fromhex(fields[7])):
            return ResponseProof(method, digest, count, signer, caller, nonce, ts, fields[7])
    # Something is off: parse strictly and say what.
    proof = parse_response_proof(method, trailers)
    problems = []
    if proof.signer != signer:
        problems.append(f"signed by {proof.signer}, expected {signer}")
    if proof.caller != caller or proof.nonce != nonce:
        problems.append("it answers a different call (caller or nonce differ)")
    if (proof.digest, proof.count) != (digest, count):
        problems.append("it does not cover the bytes received")
    if not problems:
        problems.append("the signature is invalid")
    raise BadResponseSignatureError(f"{method}: response rejected: {'; '.join(problems)}")
