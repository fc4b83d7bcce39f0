"""Refused strangers cannot take room in a server's nonce cache, so they cannot lock allowed callers out.

The cache is bounded; when it is full it refuses every call stamped at or before its oldest entry. A stranger
with a valid signature and timestamps up to the allowed skew ahead of the clock used to fill it and raise that
floor over the stamps of honest calls. A real Miner server on loopback with a 64-entry cache shows it cannot.
"""

from __future__ import annotations

import grpc
import grpc.aio

from consensus.units import UNITS_PER_TOKEN
from subnet.auth import AuthInterceptor, AuthSettings, MetagraphPolicy, NeuronAccess, signing_interceptors, wire
from subnet.client import MinerClient
from subnet.keys import Keypair
from subnet.proto import subnet_pb2 as pb
from subnet.proto import subnet_pb2_grpc as pb_grpc
from subnet.server import service
from subnet.testing import EchoMiner, serving

GENERATE = "/subnet.v1.Miner/Generate"
TOKEN = UNITS_PER_TOKEN
CACHE = 64
FLOOD = 320


class Recorder(grpc.aio.UnaryUnaryClientInterceptor):
    """Keeps the exact bytes and metadata of each call, as a network eavesdropper would see them."""

    def __init__(self) -> None:
        self.seen: list[tuple[bytes, tuple]] = []

    async def intercept_unary_unary(self, continuation, client_call_details, request):
        self.seen.append((request.SerializeToString(), tuple(client_call_details.metadata)))
        return await continuation(client_call_details, request)


async def _status(channel: grpc.aio.Channel, body: bytes, metadata: tuple) -> tuple[grpc.StatusCode, str]:
    try:
        await channel.unary_unary(GENERATE)(body, metadata=metadata, timeout=10)
    except grpc.aio.AioRpcError as e:
        return e.code(), e.details() or ""
    return grpc.StatusCode.OK, ""


async def test_a_flood_of_refused_strangers_does_not_lock_out_allowed_callers() -> None:
    miner, validator, gateway = (Keypair.generate() for _ in range(3))
    policy = MetagraphPolicy({validator.ss58_address: NeuronAccess(0, 1000 * TOKEN, True)},
                             allowlist=[gateway.ss58_address])
    interceptor = AuthInterceptor(miner, policy, AuthSettings(nonce_cache_max_entries=CACHE))
    echo = EchoMiner(miner.ss58_address)
    async with serving(service(echo, "Miner"), identity=miner, policy=policy, auth_interceptor=interceptor) as port:
        endpoint = f"127.0.0.1:{port}"
        strangers = [Keypair.generate() for _ in range(16)]
        now = wire.now_ms()
        flood = []
        for i in range(FLOOD):
            body = pb.GenerateRequest(prompt=f"flood {i}").SerializeToString()
            # Validly signed, stamped from now up to 25 s ahead: inside the 30 s skew the server allows.
            stamp = now + (i * 25_000) // FLOOD
            flood.append((body, wire.sign_request(strangers[i % 16], GENERATE, body, miner.ss58_address,
                                                  timestamp_ms=stamp)[0]))
        async with grpc.aio.insecure_channel(endpoint) as channel:
            # One after another, in stamp order, as an attacker raising the floor would send them.
            answers = [await _status(channel, body, md) for body, md in flood]
            assert all(code == grpc.StatusCode.PERMISSION_DENIED and "not registered" in details
                       for code, details in answers), set(answers)
        assert echo.callers == []

        # The allowlisted gateway and the registered validator are still served, calls stamped now.
        recorder = Recorder()
        interceptors = [*signing_interceptors(gateway, miner.ss58_address), recorder]
        async with grpc.aio.insecure_channel(endpoint, interceptors=interceptors) as channel:
            stub = pb_grpc.MinerStub(channel)
            for i in range(5):
                reply = await stub.Generate(pb.GenerateRequest(prompt=f"gateway {i}"), timeout=10)
                assert reply.text == f"gateway {i}"
        async with MinerClient.connect(endpoint, keypair=validator, receiver_ss58=miner.ss58_address) as client:
            assert (await client.generate(pb.GenerateRequest(prompt="validator call"))).text == "validator call"
        assert [c.caller_ss58 for c in echo.callers] == [gateway.ss58_address] * 5 + [validator.ss58_address]

        # A replayed nonce of an allowed caller is still refused, and never reaches the servicer; a stranger's
        # replay is refused by the policy. Only the six served calls took room in the cache.
        async with grpc.aio.insecure_channel(endpoint) as channel:
            for body, metadata in (recorder.seen[0], recorder.seen[-1]):
                code, details = await _status(channel, body, metadata)
                assert code == grpc.StatusCode.UNAUTHENTICATED
                assert details.startswith("replayed nonce")
            assert (await _status(channel, *flood[-1]))[0] == grpc.StatusCode.PERMISSION_DENIED
        assert len(echo.callers) == 6
        assert len(interceptor.nonces) == 6


async def test_a_refused_call_does_not_spend_its_nonce() -> None:
    # The same signed call, refused while the caller is a stranger, is served once the caller is allowed
    # (a refused call ran nothing, so it is not remembered), and only once.
    miner, caller = Keypair.generate(), Keypair.generate()
    policy = MetagraphPolicy({})
    echo = EchoMiner(miner.ss58_address)
    body = pb.GenerateRequest(prompt="late").SerializeToString()
    metadata = wire.sign_request(caller, GENERATE, body, miner.ss58_address, timestamp_ms=wire.now_ms())[0]
    async with (
        serving(service(echo, "Miner"), identity=miner, policy=policy) as port,
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        assert (await _status(channel, body, metadata))[0] == grpc.StatusCode.PERMISSION_DENIED
        policy.update({caller.ss58_address: NeuronAccess(3, 1000 * TOKEN, True)})
        assert (await _status(channel, body, metadata))[0] == grpc.StatusCode.OK
        code, details = await _status(channel, body, metadata)
    assert code == grpc.StatusCode.UNAUTHENTICATED and details.startswith("replayed nonce")
    assert [c.caller_ss58 for c in echo.callers] == [caller.ss58_address]
