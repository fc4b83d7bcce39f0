"""A real Miner server on loopback refuses every kind of bad call with the exact status and says why."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from consensus.units import UNITS_PER_TOKEN
from subnet.auth import (
    AuthInterceptor,
    AuthSettings,
    MetagraphPolicy,
    NeuronAccess,
    RateLimitSettings,
    signing_interceptors,
    wire,
)
from subnet.client import MinerClient
from subnet.keys import Keypair
from subnet.proto import subnet_pb2 as pb
from subnet.proto import subnet_pb2_grpc as pb_grpc
from subnet.server import service
from subnet.testing import EchoMiner, serving

INFO = "/subnet.v1.Miner/Info"
GENERATE = "/subnet.v1.Miner/Generate"
STREAM = "/subnet.v1.Miner/GenerateStream"
TOKEN = UNITS_PER_TOKEN
BODY = pb.GenerateRequest(prompt="two words", max_new_tokens=8).SerializeToString()
U = grpc.StatusCode.UNAUTHENTICATED


@dataclass
class Net:
    port: int
    miner: Keypair
    validator: Keypair
    no_permit: Keypair
    low_stake: Keypair
    gateway: Keypair
    echo: EchoMiner

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self, key: Keypair, **kw) -> MinerClient:
        return MinerClient.connect(self.endpoint, keypair=key, receiver_ss58=self.miner.ss58_address, **kw)

    def sign(self, key: Keypair, method: str = GENERATE, body: bytes = BODY, **kw) -> tuple:
        kw.setdefault("receiver", self.miner.ss58_address)
        receiver = kw.pop("receiver")
        return wire.sign_request(key, method, body, receiver, **kw)[0]


def with_field(metadata: tuple, index: int, value: str) -> tuple:
    """The signing metadata with field ``index`` of its value replaced (0 is the version)."""
    ((key, text),) = metadata
    fields = text.split(";")
    fields[index] = value
    return ((key, ";".join(fields)),)


def keys(n: int) -> list[Keypair]:
    return [Keypair.generate() for _ in range(n)]


@pytest.fixture
async def net():
    miner, validator, no_permit, low_stake, gateway = keys(5)
    policy = MetagraphPolicy(
        {
            validator.ss58_address: NeuronAccess(0, 1000 * TOKEN, True),
            no_permit.ss58_address: NeuronAccess(1, 1000 * TOKEN, False),
            low_stake.ss58_address: (2, TOKEN // 2, True),
        },
        min_stake_units=TOKEN,
        allowlist=[gateway.ss58_address],
    )
    echo = EchoMiner(miner.ss58_address)
    async with serving(service(echo, "Miner"), identity=miner, policy=policy) as port:
        yield Net(port, miner, validator, no_permit, low_stake, gateway, echo)


async def raw_call(net: Net, method: str, body: bytes, metadata) -> bytes | list[bytes]:
    """Send exact bytes and metadata, as an attacker could; stream methods are read to the end."""
    async with grpc.aio.insecure_channel(net.endpoint) as channel:
        if method == STREAM:
            return [m async for m in channel.unary_stream(method)(body, metadata=tuple(metadata), timeout=5)]
        return await channel.unary_unary(method)(body, metadata=tuple(metadata), timeout=5)


async def refused(
    net: Net, method: str, body: bytes, metadata, code: grpc.StatusCode, text: str
) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await raw_call(net, method, body, metadata)
    assert info.value.code() == code, info.value.details()
    assert text in info.value.details()
    # Refused calls never reach the servicer.
    assert net.echo.callers == []
    return info.value


async def test_a_signed_call_from_a_validator_is_served(net: Net) -> None:
    async with net.client(net.validator) as miner:
        reply = await miner.generate(pb.GenerateRequest(prompt="hello signed world", request_id="r1"))
        info = await miner.info()
    assert reply.text == "hello signed world" and reply.request_id == "r1"
    assert info.hotkey == net.miner.ss58_address
    caller = net.echo.callers[0]
    assert (caller.caller_ss58, caller.verified, caller.uid, caller.stake_units) == (
        net.validator.ss58_address,
        True,
        0,
        1000 * TOKEN,
    )


@pytest.mark.parametrize("method", [GENERATE, STREAM])
async def test_missing_metadata(net: Net, method: str) -> None:
    await refused(net, method, BODY, (), U, "missing metadata")
    await refused(net, method, BODY, (("x-subnet-other", "1"),), U, "missing metadata")


@pytest.mark.parametrize(
    ("index", "value"),
    [
        (0, "v2"),
        (1, "5notanaddress"),
        (2, "alice"),
        (3, "zz" * 16),
        (3, "ab"),
        (4, "-5"),
        (4, "12.5"),
        (5, "AB" * 32),
        (6, "00" * 63),
        (6, "00" * 64 + ";extra"),
    ],
)
async def test_malformed_metadata(net: Net, index: int, value: str) -> None:
    metadata = with_field(net.sign(net.validator), index, value)
    await refused(net, GENERATE, BODY, metadata, U, "malformed metadata")


async def test_duplicated_metadata_is_malformed(net: Net) -> None:
    metadata = net.sign(net.validator)
    await refused(net, GENERATE, BODY, metadata + net.sign(net.validator), U, "appears more than once")


async def test_bad_signature(net: Net) -> None:
    # A stranger signs but claims to be the validator.
    forged = wire.parse_request_metadata(net.sign(Keypair.generate()))
    stolen_identity = forged._replace(caller=net.validator.ss58_address).metadata()
    await refused(net, GENERATE, BODY, stolen_identity, U, "bad signature")
    # A valid signature over a different method does not transfer.
    await refused(net, GENERATE, BODY, net.sign(net.validator, method=INFO), U, "bad signature")


async def test_body_that_does_not_match_the_signature(net: Net) -> None:
    tampered = pb.GenerateRequest(prompt="two words!", max_new_tokens=8).SerializeToString()
    await refused(net, GENERATE, tampered, net.sign(net.validator), U, "body hash mismatch")


async def test_call_addressed_to_another_receiver(net: Net) -> None:
    other = Keypair.generate().ss58_address
    await refused(net, GENERATE, BODY, net.sign(net.validator, receiver=other), U, "wrong receiver")


@pytest.mark.parametrize("offset_ms", [-120_000, 120_000])
async def test_timestamp_outside_the_skew(net: Net, offset_ms: int) -> None:
    metadata = net.sign(net.validator, timestamp_ms=wire.now_ms() + offset_ms)
    await refused(net, GENERATE, BODY, metadata, U, "stale timestamp")


class Recorder(grpc.aio.UnaryUnaryClientInterceptor):
    """Keeps the exact bytes and metadata of each call, as a network eavesdropper would see them."""

    def __init__(self) -> None:
        self.seen: list[tuple[bytes, tuple]] = []

    async def intercept_unary_unary(self, continuation, client_call_details, request):
        self.seen.append((request, tuple(client_call_details.metadata)))
        return await continuation(client_call_details, request)


async def test_replayed_and_tampered_captures_are_refused(net: Net) -> None:
    # Signed by the interceptors under a generated stub, recorded after signing, then replayed.
    recorder = Recorder()
    interceptors = [*signing_interceptors(net.validator, net.miner.ss58_address), recorder]
    async with grpc.aio.insecure_channel(net.endpoint, interceptors=interceptors) as channel:
        stub = pb_grpc.MinerStub(channel)
        assert (await stub.Generate(pb.GenerateRequest(prompt="captured call"), timeout=5)).text == "captured call"
    body, metadata = recorder.seen[0]
    body = body.SerializeToString()
    net.echo.callers.clear()
    await refused(net, GENERATE, body, metadata, U, "replayed nonce")
    await refused(net, GENERATE, body + b"\x10\x01", metadata, U, "body hash mismatch")


async def test_callers_the_policy_refuses(net: Net) -> None:
    P = grpc.StatusCode.PERMISSION_DENIED
    await refused(net, GENERATE, BODY, net.sign(Keypair.generate()), P, "not registered")
    await refused(net, GENERATE, BODY, net.sign(net.no_permit), P, "no validator permit")
    await refused(net, STREAM, BODY, net.sign(net.low_stake, STREAM), P, "below the minimum")


async def test_allowlisted_gateway_is_served(net: Net) -> None:
    async with net.client(net.gateway) as miner:
        assert (await miner.generate(pb.GenerateRequest(prompt="from the demo"))).text == "from the demo"
    assert net.echo.callers[0].caller_ss58 == net.gateway.ss58_address


async def test_undecodable_body_with_a_valid_signature(net: Net) -> None:
    garbage = b"\xff\xff\xff"
    await refused(
        net,
        GENERATE,
        garbage,
        net.sign(net.validator, body=garbage),
        grpc.StatusCode.INVALID_ARGUMENT,
        "does not parse",
    )


async def test_64_concurrent_calls_from_one_caller_all_pass(net: Net) -> None:
    async with net.client(net.validator) as miner:
        replies = await asyncio.gather(*(miner.generate(pb.GenerateRequest(prompt=f"call {i}")) for i in range(64)))
    assert sorted(r.text for r in replies) == sorted(f"call {i}" for i in range(64))
    assert len({c.nonce for c in net.echo.callers}) == 64


async def test_rate_limit_answers_resource_exhausted_with_a_retry_hint() -> None:
    miner, caller = keys(2)
    policy = MetagraphPolicy({caller.ss58_address: (0, 0, True)})
    tight = AuthSettings(
        rate_limit=RateLimitSettings(base_burst_requests=3, burst_per_token_staked=0, refill_window_s=30)
    )
    async with serving(service(EchoMiner(), "Miner"), identity=miner, policy=policy, auth=tight) as port:
        client = MinerClient.connect(f"127.0.0.1:{port}", keypair=caller, receiver_ss58=miner.ss58_address)
        async with client:
            for _ in range(3):
                await client.info()
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await client.info()
    error = info.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "retry after" in error.details()
    retry_ms = dict(error.trailing_metadata())[wire.MD_RETRY_AFTER]
    # One token refills in 30 s / 3 = 10 s.
    assert 9_000 <= int(retry_ms) <= 10_000


async def test_health_and_reflection_need_no_signature(net: Net) -> None:
    async with grpc.aio.insecure_channel(net.endpoint) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(service="subnet.v1.Miner"), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        responses = [r async for r in stub.ServerReflectionInfo(iter([request]), timeout=5)]
    names = {s.name for s in responses[0].list_services_response.service}
    assert {"subnet.v1.Miner", "grpc.health.v1.Health"} <= names


async def test_nonce_memory_stays_bounded_on_a_real_server() -> None:
    miner, caller = keys(2)
    policy = MetagraphPolicy({caller.ss58_address: (0, 1000 * TOKEN, True)})
    settings = AuthSettings(nonce_cache_max_entries=40, rate_limit=RateLimitSettings(enabled=False))
    interceptor = AuthInterceptor(miner, policy, settings)
    recorder = Recorder()
    async with serving(
        service(EchoMiner(), "Miner"), identity=miner, policy=policy, auth_interceptor=interceptor
    ) as port:
        interceptors = [*signing_interceptors(caller, miner.ss58_address), recorder]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", interceptors=interceptors) as channel:
            stub = pb_grpc.MinerStub(channel)
            for _ in range(150):
                await stub.Info(pb.InfoRequest(), timeout=5)
                assert len(interceptor.nonces) <= 40
        net = Net(port, miner, caller, caller, caller, caller, EchoMiner())
        # The oldest call was forgotten but its replay is still refused; the newest is remembered.
        first, last = recorder.seen[0], recorder.seen[-1]
        await refused(net, INFO, first[0].SerializeToString(), first[1], U, "stale timestamp")
        await refused(net, INFO, last[0].SerializeToString(), last[1], U, "replayed nonce")
