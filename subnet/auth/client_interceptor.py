"""The client side of signed calls: ``ClientSigner`` and the grpc.aio interceptors built on it.

Use the interceptors (``signing_interceptors``) with generated stubs; ``subnet.client`` calls the same
``ClientSigner`` inline instead, which saves the interceptor machinery's per-call cost (an extra task and a
call wrapper). The interceptors sign the exact request bytes: requests passed as ``bytes`` are signed as
they are; protobuf messages are serialized here with ``SerializeToString``, which is what the generated stubs
send. Responses are verified over the bytes received when the call has no response deserializer; for a
generated stub the message is re-serialized, which matches what an honest peer sent as long as both sides'
protobuf builds agree on the message definition (a mismatch can only refuse an answer, never accept a forged
one).

A verified unary call returns only after the signature checked out. A verified stream yields each message as
it arrives and checks the signature when the stream ends: the consumer must read to the end, and treat
everything it read as unproven if the iteration raised ``ResponseVerificationError``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import grpc
import grpc.aio

from subnet.auth import wire
from subnet.auth.settings import DEFAULT_METHOD_RULES
from subnet.keys import Keypair

# Methods this interceptor leaves alone by default (the standard health and reflection services).
DEFAULT_UNSIGNED_PREFIXES: tuple[str, ...] = tuple(DEFAULT_METHOD_RULES)


def _as_bytes(message) -> bytes:
    return message if isinstance(message, bytes) else message.SerializeToString()


class ClientSigner:
    """Sign every call to ``receiver_ss58`` with ``keypair``; with ``verify_responses``, require and check the
    receiver's signature on every response (raising ``UnsignedResponseError``/``BadResponseSignatureError``).

    grpc.aio files each interceptor under one call type only, so this holds the logic and
    ``signing_interceptors`` returns one interceptor per call type that uses it.
    """

    def __init__(
        self,
        keypair: Keypair,
        receiver_ss58: str,
        *,
        verify_responses: bool = True,
        unsigned_prefixes: Iterable[str] = DEFAULT_UNSIGNED_PREFIXES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keypair = keypair
        self.receiver_ss58 = receiver_ss58
        self.verify_responses = verify_responses
        self._unsigned_prefixes = tuple(unsigned_prefixes)
        self._clock = clock

    def sign(self, method: str, body: bytes) -> tuple[tuple[tuple[str, str], ...], str]:
        """The signing metadata for a call of ``method`` with exactly ``body``, and the nonce it uses."""
        return wire.sign_request(self.keypair, method, body, self.receiver_ss58, timestamp_ms=wire.now_ms(self._clock))

    def sign_details(self, details: grpc.aio.ClientCallDetails, request) -> tuple[grpc.aio.ClientCallDetails, str, str]:
        """Return call details with the signing metadata added, the method name and the nonce used."""
        method = wire.method_name(details.method)
        signed, nonce = self.sign(method, _as_bytes(request))
        # A plain tuple is what the call object keeps anyway; building a Metadata object costs per call.
        metadata = (*tuple(details.metadata or ()), *signed)
        new = grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )
        return new, method, nonce

    def skips(self, details: grpc.aio.ClientCallDetails) -> bool:
        return wire.method_name(details.method).startswith(self._unsigned_prefixes)

    def check(self, method: str, trailers, nonce: str, digest: wire.ResponseDigest) -> wire.ResponseProof:
        """Verify the response trailers (see ``wire.check_response``); returns the proof or raises."""
        return wire.check_response(
            method,
            tuple(trailers or ()),
            signer=self.receiver_ss58,
            caller=self.keypair.ss58_address,
            nonce=nonce,
            digest=digest.hexdigest(),
            count=digest.count,
        )


class UnarySigningInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Signs unary-unary calls; verifies the response before the call returns."""

    def __init__(self, signer: ClientSigner) -> None:
        self.signer = signer

    async def intercept_unary_unary(self, continuation, client_call_details, request):
        signer = self.signer
        if signer.skips(client_call_details):
            return await continuation(client_call_details, request)
        details, method, nonce = signer.sign_details(client_call_details, request)
        call = await continuation(details, request)
        if not signer.verify_responses:
            return call
        response = await call  # a failed call raises AioRpcError here, as it would without us
        digest = wire.ResponseDigest()
        digest.update(_as_bytes(response))
        signer.check(method, await call.trailing_metadata(), nonce, digest)
        return call


class StreamSigningInterceptor(grpc.aio.UnaryStreamClientInterceptor):
    """Signs unary-stream calls; verifies the whole stream when it ends."""

    def __init__(self, signer: ClientSigner) -> None:
        self.signer = signer

    async def intercept_unary_stream(self, continuation, client_call_details, request):
        signer = self.signer
        if signer.skips(client_call_details):
            return await continuation(client_call_details, request)
        details, method, nonce = signer.sign_details(client_call_details, request)
        call = await continuation(details, request)
        if not signer.verify_responses:
            return call

        async def verified():
            digest = wire.ResponseDigest()
            async for message in call:
                digest.update(_as_bytes(message))
                yield message
            signer.check(method, await call.trailing_metadata(), nonce, digest)

        return verified()


def signing_interceptors(
    keypair: Keypair,
    receiver_ss58: str,
    *,
    verify_responses: bool = True,
    unsigned_prefixes: Iterable[str] = DEFAULT_UNSIGNED_PREFIXES,
    clock: Callable[[], float] = time.time,
) -> list[grpc.aio.ClientInterceptor]:
    """The interceptors to pass to ``grpc.aio.insecure_channel``/``secure_channel`` for signed calls."""
    signer = ClientSigner(
        keypair, receiver_ss58, verify_responses=verify_responses, unsigned_prefixes=unsigned_prefixes, clock=clock
    )
    return [UnarySigningInterceptor(signer), StreamSigningInterceptor(signer)]
