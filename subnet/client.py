"""Call peers with signed requests and verified responses through typed stubs.

    async with MinerClient.connect(endpoint, keypair=hotkey, receiver_ss58=miner_hotkey) as miner:
        reply = await miner.generate(request, timeout_s=20)           # verified before it returns
        stream = miner.generate_stream(request, timeout_s=60)
        async for chunk in stream: ...                                  # verified when the stream ends
        stream.proof                                                    # the miner's signature, to keep

The stubs send and receive raw bytes, so signatures cover exactly what went over the wire, and sign inline
with a ``ClientSigner`` (the same logic as the interceptors of ``open_channel``, without their per-call cost).
Calls raise ``grpc.aio.AioRpcError`` for a non-OK status (its details say which check failed) and
``ResponseVerificationError`` when verification is on and the response is unsigned or mis-signed. Every call
has a deadline (``timeout_s``, or the client's default).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import grpc
import grpc.aio

from subnet.auth import wire
from subnet.auth.client_interceptor import ClientSigner, signing_interceptors
from subnet.keys import Keypair
from subnet.proto import subnet_pb2 as pb

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_RECEIVE_MESSAGE_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_SEND_MESSAGE_BYTES = 4 * 1024 * 1024

Resp = TypeVar("Resp")


def plain_channel(
    endpoint: str,
    *,
    credentials: grpc.ChannelCredentials | None = None,
    max_receive_message_bytes: int = DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
    max_send_message_bytes: int = DEFAULT_MAX_SEND_MESSAGE_BYTES,
    interceptors: list[grpc.aio.ClientInterceptor] | None = None,
) -> grpc.aio.Channel:
    """A grpc.aio channel to ``endpoint`` ("host:port") with message size caps (TLS with ``credentials``)."""
    options = (
        ("grpc.max_receive_message_length", max_receive_message_bytes),
        ("grpc.max_send_message_length", max_send_message_bytes),
    )
    if credentials is not None:
        return grpc.aio.secure_channel(endpoint, credentials, options=options, interceptors=interceptors)
    return grpc.aio.insecure_channel(endpoint, options=options, interceptors=interceptors)


def open_channel(
    endpoint: str,
    *,
    keypair: Keypair,
    receiver_ss58: str,
    verify_responses: bool = True,
    credentials: grpc.ChannelCredentials | None = None,
    clock: Callable[[], float] = time.time,
) -> grpc.aio.Channel:
    """A channel whose every call is signed by ``keypair`` for ``receiver_ss58`` (for generated stubs); with
    ``verify_responses`` every response must carry the receiver's valid signature."""
    interceptors = signing_interceptors(keypair, receiver_ss58, verify_responses=verify_responses, clock=clock)
    return plain_channel(endpoint, credentials=credentials, interceptors=interceptors)


@dataclass(frozen=True)
class Signed(Generic[Resp]):
    """A response with the exact bytes received and, when verified, the sender's proof."""

    message: Resp
    raw: bytes
    proof: wire.ResponseProof | None


class UnaryMethod(Generic[Resp]):
    """A typed unary method over raw bytes; signed and verified when given a ``ClientSigner``."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        method: str,
        response_type: type[Resp],
        *,
        signer: ClientSigner | None = None,
        default_timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.method = method
        self._parse = response_type.FromString
        self._call = channel.unary_unary(method)
        self._signer = signer
        self._default_timeout_s = default_timeout_s

    async def signed(self, request, *, timeout_s: float | None = None) -> Signed[Resp]:
        """Call; return the response with its proof (None unless this stub verifies responses)."""
        body = request.SerializeToString()
        signer = self._signer
        metadata, nonce = signer.sign(self.method, body) if signer else (None, "")
        call = self._call(body, timeout=timeout_s or self._default_timeout_s, metadata=metadata)
        raw = await call
        proof = None
        if signer is not None and signer.verify_responses:
            digest = wire.ResponseDigest()
            digest.update(raw)
            proof = signer.check(self.method, await call.trailing_metadata(), nonce, digest)
        return Signed(self._parse(raw), raw, proof)

    async def __call__(self, request, *, timeout_s: float | None = None) -> Resp:
        return (await self.signed(request, timeout_s=timeout_s)).message


class StreamCall(Generic[Resp]):
    """One server-streaming call: iterate it once. Messages are yielded as they arrive; when the stream ends
    the signature is checked (raising ``ResponseVerificationError`` if it fails, in which case everything
    yielded is unproven). Afterwards ``raw`` holds every message's bytes and ``proof`` the sender's signature."""

    def __init__(
        self, call, method: str, parse: Callable[[bytes], Resp], signer: ClientSigner | None, nonce: str
    ) -> None:
        self._call = call
        self._method = method
        self._parse = parse
        self._signer = signer
        self._nonce = nonce
        self.raw: list[bytes] = []
        self.proof: wire.ResponseProof | None = None

    async def _iterate(self) -> AsyncIterator[Resp]:
        digest = wire.ResponseDigest()
        async for data in self._call:
            self.raw.append(data)
            digest.update(data)
            yield self._parse(data)
        if self._signer is not None and self._signer.verify_responses:
            self.proof = self._signer.check(self._method, await self._call.trailing_metadata(), self._nonce, digest)

    def __aiter__(self) -> AsyncIterator[Resp]:
        return self._iterate()

    def cancel(self) -> bool:
        """Stop the stream early (the result is then unproven)."""
        return self._call.cancel()


class StreamMethod(Generic[Resp]):
    """A typed server-streaming method over raw bytes; signed and verified when given a ``ClientSigner``."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        method: str,
        response_type: type[Resp],
        *,
        signer: ClientSigner | None = None,
        default_timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.method = method
        self._parse = response_type.FromString
        self._call = channel.unary_stream(method)
        self._signer = signer
        self._default_timeout_s = default_timeout_s

    def __call__(self, request, *, timeout_s: float | None = None) -> StreamCall[Resp]:
        body = request.SerializeToString()
        metadata, nonce = self._signer.sign(self.method, body) if self._signer else (None, "")
        call = self._call(body, timeout=timeout_s or self._default_timeout_s, metadata=metadata)
        return StreamCall(call, self.method, self._parse, self._signer, nonce)


def method_path(service: str, name: str) -> str:
    """The full gRPC method name of ``service.name`` in subnet.proto, e.g. "/subnet.v1.Miner/Generate"."""
    return f"/{pb.DESCRIPTOR.services_by_name[service].full_name}/{name}"


class MinerClient:
    """Typed, signed access to one miner. Build it with ``connect``, or around any channel with a
    ``ClientSigner`` (``signer=None`` sends unsigned calls, which restricted servers refuse)."""

    def __init__(
        self, channel: grpc.aio.Channel, *, signer: ClientSigner | None, default_timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.channel = channel
        self.signer = signer
        kw = {"signer": signer, "default_timeout_s": default_timeout_s}
        self._generate = UnaryMethod(channel, method_path("Miner", "Generate"), pb.GenerateResponse, **kw)
        self._stream = StreamMethod(channel, method_path("Miner", "GenerateStream"), pb.GenerateChunk, **kw)
        self._info = UnaryMethod(channel, method_path("Miner", "Info"), pb.InfoResponse, **kw)

    @classmethod
    def connect(
        cls,
        endpoint: str,
        *,
        keypair: Keypair,
        receiver_ss58: str,
        verify_responses: bool = True,
        default_timeout_s: float = DEFAULT_TIMEOUT_S,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> MinerClient:
        """A client for the miner at ``endpoint`` whose hotkey is ``receiver_ss58``, signing as ``keypair``."""
        signer = ClientSigner(keypair, receiver_ss58, verify_responses=verify_responses)
        return cls(plain_channel(endpoint, credentials=credentials), signer=signer, default_timeout_s=default_timeout_s)

    async def generate(self, request: pb.GenerateRequest, *, timeout_s: float | None = None) -> pb.GenerateResponse:
        return await self._generate(request, timeout_s=timeout_s)

    async def generate_signed(
        self, request: pb.GenerateRequest, *, timeout_s: float | None = None
    ) -> Signed[pb.GenerateResponse]:
        return await self._generate.signed(request, timeout_s=timeout_s)

    def generate_stream(
        self, request: pb.GenerateRequest, *, timeout_s: float | None = None
    ) -> StreamCall[pb.GenerateChunk]:
        return self._stream(request, timeout_s=timeout_s)

    async def info(self, *, timeout_s: float | None = None) -> pb.InfoResponse:
        return await self._info(pb.InfoRequest(), timeout_s=timeout_s)

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> MinerClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()
