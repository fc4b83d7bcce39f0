"""Signed responses: honest miners' answers verify and can be shown later; lying or unsigned ones are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import grpc
import grpc.aio
import pytest

from subnet.auth import OPEN, AllowAll, MethodAuth, wire
from subnet.auth.client_interceptor import ClientSigner
from subnet.client import MinerClient, StreamMethod, open_channel
from subnet.errors import BadResponseSignatureError, UnsignedResponseError
from subnet.keys import Keypair
from subnet.proto import subnet_pb2 as pb
from subnet.proto import subnet_pb2_grpc as pb_grpc
from subnet.server import ServiceBinding, service
from subnet.testing import ECHO_MODEL, EchoMiner, policy_for, serving

INFO = "/subnet.v1.Miner/Info"
STREAM = "/subnet.v1.Miner/GenerateStream"
INFO_BYTES = pb.InfoResponse(model=ECHO_MODEL, version="liar").SerializeToString()


def connect(port: int, caller: Keypair, miner: Keypair, **kw) -> MinerClient:
    return MinerClient.connect(f"127.0.0.1:{port}", keypair=caller, receiver_ss58=miner.ss58_address, **kw)


async def test_unary_response_proof_can_be_checked_offline() -> None:
    miner, caller = Keypair.generate(), Keypair.generate()
    server = serving(service(EchoMiner(), "Miner"), identity=miner, policy=policy_for([caller]))
    async with server as port, connect(port, caller, miner) as client:
        signed = await client.generate_signed(pb.GenerateRequest(prompt="prove it"))
    proof = signed.proof
    assert signed.message.text == "prove it"
    assert (proof.signer, proof.caller, proof.count) == (miner.ss58_address, caller.ss58_address, 1)
    assert proof.verify([signed.raw])
    assert not proof.verify([signed.raw + b"\x00"])
    restored = wire.ResponseProof(**proof.to_dict())
    assert restored.verify([signed.raw])
    forged = wire.ResponseProof(**{**proof.to_dict(), "caller": Keypair.generate().ss58_address})
    assert not forged.verify([signed.raw])


async def test_stream_is_verified_and_its_final_message_is_proven() -> None:
    miner, caller = Keypair.generate(), Keypair.generate()
    server = serving(service(EchoMiner(), "Miner"), identity=miner, policy=policy_for([caller]))
    async with server as port, connect(port, caller, miner) as client:
        stream = client.generate_stream(pb.GenerateRequest(prompt="one two three", request_id="s"))
        chunks = [chunk async for chunk in stream]
    assert [c.WhichOneof("kind") for c in chunks] == ["delta"] * 3 + ["final"]
    final = chunks[-1].final
    assert final.text == "".join(c.delta.text for c in chunks[:-1]) == "one two three"
    assert final.request_id == "s" and list(final.token_ids) == [3, 3, 5]
    assert stream.proof.count == len(stream.raw) == 4
    assert stream.proof.verify(stream.raw)
    # The final message alone, or the deltas in another order, are not what the miner signed.
    assert not stream.proof.verify(stream.raw[-1:])
    assert not stream.proof.verify([stream.raw[1], stream.raw[0], *stream.raw[2:]])


async def test_unsigned_responses_are_refused_unless_the_client_accepts_them() -> None:
    miner, caller = Keypair.generate(), Keypair.generate()
    no_signing = MethodAuth(verify_request=True, check_policy=True, rate_limit=True, sign_response=False)
    async with serving(
        service(EchoMiner(), "Miner"),
        identity=miner,
        policy=policy_for([caller]),
        methods={"/subnet.v1.Miner/": no_signing},
    ) as port:
        async with connect(port, caller, miner) as client:
            with pytest.raises(UnsignedResponseError, match="did not sign"):
                await client.info()
            with pytest.raises(UnsignedResponseError):
                async for _ in client.generate_stream(pb.GenerateRequest(prompt="a b")):
                    pass
        async with connect(port, caller, miner, verify_responses=False) as lenient:
            assert (await lenient.info()).version == "echo"
            assert (await lenient.generate_signed(pb.GenerateRequest(prompt="x"))).proof is None


async def test_open_methods_need_no_signature_but_sign_for_signing_clients() -> None:
    miner, caller = Keypair.generate(), Keypair.generate()
    async with serving(
        service(EchoMiner(), "Miner"), identity=miner, policy=policy_for([]), methods={INFO: OPEN}
    ) as port:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary(INFO)(b"", timeout=5)
            assert pb.InfoResponse.FromString(await call).version == "echo"
            assert wire.MD_RESPONSE_AUTH not in dict(await call.trailing_metadata())
        async with connect(port, caller, miner) as client:
            assert (await client.info()).version == "echo"
            # Generate keeps the default rule: this caller is not registered.
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await client.generate(pb.GenerateRequest(prompt="x"))
            assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED


# --- misbehaving servers, written by hand -------------------------------------------------------------------

Trailers = Callable[[tuple, list[bytes]], tuple]


@asynccontextmanager
async def lying_server(trailers: Trailers, stream_messages: list[bytes] | None = None) -> AsyncIterator[int]:
    """A raw Miner server that answers Info and GenerateStream with trailers built by ``trailers``."""

    async def info(request: bytes, context) -> bytes:
        context.set_trailing_metadata(trailers(tuple(context.invocation_metadata()), [INFO_BYTES]))
        return INFO_BYTES

    async def stream(request: bytes, context):
        for message in stream_messages or []:
            yield message
        context.set_trailing_metadata(trailers(tuple(context.invocation_metadata()), stream_messages or []))

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "subnet.v1.Miner",
                {
                    "Info": grpc.unary_unary_rpc_method_handler(info),
                    "GenerateStream": grpc.unary_stream_rpc_method_handler(stream),
                },
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield port
    finally:
        await server.stop(None)


def signer(key: Keypair, *, method: str = INFO, nonce: str | None = None, messages: list[bytes] | None = None):
    def trailers(metadata: tuple, sent: list[bytes]) -> tuple:
        header = wire.parse_request_metadata(metadata)
        digest, count = wire.response_digest(sent if messages is None else messages)
        return wire.sign_response(key, method, digest, count, header.caller, nonce or header.nonce)

    return trailers


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda miner: signer(Keypair.generate()), "signed by"),
        (lambda miner: signer(miner, messages=[b"an honest answer"]), "does not cover"),
        (lambda miner: signer(miner, nonce="ab" * 16), "different call"),
        (lambda miner: signer(miner, method="/subnet.v1.Miner/Generate"), "signature is invalid"),
    ],
    ids=["impostor", "tampered-body", "replayed-proof", "other-method"],
)
async def test_mis_signed_unary_responses_are_refused(make, why: str) -> None:
    miner, caller = Keypair.generate(), Keypair.generate()
    async with lying_server(make(miner)) as port, connect(port, caller, miner) as client:
        with pytest.raises(BadResponseSignatureError, match=why):
            await client.info()
        async with connect(port, caller, miner, verify_responses=False) as lenient:
            assert (await lenient.info()).version == "liar"


async def test_a_stream_with_an_unsigned_extra_final_message_is_refused_at_the_end() -> None:
    miner, caller = Keypair.generate(), Keypair.generate()
    deltas = [pb.GenerateChunk(delta=pb.TokenDelta(text=w)).SerializeToString() for w in ("a", "b")]
    forged_final = pb.GenerateChunk(final=pb.GenerateResponse(text="something else")).SerializeToString()
    # The proof covers only the deltas; the final message was slipped in afterwards.
    trailers = signer(miner, method=STREAM, messages=deltas)
    async with lying_server(trailers, [*deltas, forged_final]) as port, connect(port, caller, miner) as client:
        received = []
        with pytest.raises(BadResponseSignatureError, match="does not cover"):
            async for chunk in client.generate_stream(pb.GenerateRequest(prompt="a b")):
                received.append(chunk)
    assert len(received) == 3  # delivered as they came, then refused when the stream ended


async def test_malformed_response_signature_metadata_is_refused() -> None:
    miner, caller = Keypair.generate(), Keypair.generate()

    def garbage(metadata: tuple, sent: list[bytes]) -> tuple:
        ((key, value),) = signer(miner)(metadata, sent)
        fields = value.split(";")
        fields[5] = "one"  # the message count
        return ((key, ";".join(fields)),)

    async with lying_server(garbage) as port, connect(port, caller, miner) as client:
        with pytest.raises(BadResponseSignatureError, match="malformed"):
            await client.info()


async def test_allow_all_policy_still_requires_a_valid_signature() -> None:
    miner, stranger = Keypair.generate(), Keypair.generate()
    async with serving(service(EchoMiner(), "Miner"), identity=miner, policy=AllowAll()) as port:
        async with connect(port, stranger, miner) as client:
            assert (await client.info()).version == "echo"
        async with connect(port, stranger, Keypair.generate()) as misaddressed:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await misaddressed.info()
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def custom_service(handlers: dict) -> ServiceBinding:
    """A service outside subnet.proto, registered through the same server factory."""

    def add(_servicer, server) -> None:
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Custom", handlers),))

    return ServiceBinding(None, "test.Custom", add)


async def test_streams_written_with_context_write_are_signed_too() -> None:
    miner, caller = Keypair.generate(), Keypair.generate()
    chunks = [pb.GenerateChunk(delta=pb.TokenDelta(text=t)) for t in ("x", "y")]

    async def write_stream(request, context) -> None:
        for chunk in chunks:
            await context.write(chunk)

    handlers = {
        "Write": grpc.unary_stream_rpc_method_handler(
            write_stream,
            request_deserializer=pb.InfoRequest.FromString,
            response_serializer=pb.GenerateChunk.SerializeToString,
        )
    }
    server = serving(custom_service(handlers), identity=miner, policy=policy_for([caller]))
    async with server as port, grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        signer = ClientSigner(caller, miner.ss58_address)
        stream = StreamMethod(channel, "/test.Custom/Write", pb.GenerateChunk, signer=signer)(pb.InfoRequest())
        received = [c async for c in stream]
    assert received == chunks
    assert stream.proof.count == 2 and stream.proof.verify(stream.raw)


async def test_client_streaming_methods_cannot_be_signed_and_fail_closed() -> None:
    miner, caller = Keypair.generate(), Keypair.generate()
    served = []

    async def upload(request_iterator, context) -> bytes:
        served.append(True)
        return b""

    handlers = {"Upload": grpc.stream_unary_rpc_method_handler(upload)}
    server = serving(custom_service(handlers), identity=miner, policy=policy_for([caller]))
    async with server as port, grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        metadata, _ = wire.sign_request(caller, "/test.Custom/Upload", b"", miner.ss58_address)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await channel.stream_unary("/test.Custom/Upload")(iter([b""]), metadata=metadata, timeout=5)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert served == []


async def test_interceptors_verify_generated_stubs_too() -> None:
    miner, caller = Keypair.generate(), Keypair.generate()
    request = pb.GenerateRequest(prompt="via the generated stub")
    server = serving(service(EchoMiner(), "Miner"), identity=miner, policy=policy_for([caller]))
    async with (
        server as port,
        open_channel(f"127.0.0.1:{port}", keypair=caller, receiver_ss58=miner.ss58_address) as ch,
    ):
        stub = pb_grpc.MinerStub(ch)
        assert (await stub.Generate(request, timeout=5)).text == "via the generated stub"
        chunks = [c async for c in stub.GenerateStream(request, timeout=5)]
        assert chunks[-1].final.text == "via the generated stub"

    deltas = [pb.GenerateChunk(delta=pb.TokenDelta(text="a")).SerializeToString()]
    forged = pb.GenerateChunk(final=pb.GenerateResponse(text="forged")).SerializeToString()
    liar = lying_server(signer(miner, method=STREAM, messages=deltas), [*deltas, forged])
    async with liar as port, open_channel(f"127.0.0.1:{port}", keypair=caller, receiver_ss58=miner.ss58_address) as ch:
        stub = pb_grpc.MinerStub(ch)
        with pytest.raises(BadResponseSignatureError, match="does not cover"):
            async for _ in stub.GenerateStream(request, timeout=5):
                pass
        with pytest.raises(BadResponseSignatureError, match="does not cover"):
            await stub.Info(pb.InfoRequest(), timeout=5)  # signed over deltas, not over this answer
