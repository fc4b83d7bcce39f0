"""Random bytes and random metadata never crash the server and are never accepted."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import grpc
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from subnet.auth import wire
from subnet.keys import Keypair
from subnet.proto import subnet_pb2 as pb
from subnet.server import create_server, service
from subnet.testing import EchoMiner, policy_for

METHODS = ["/subnet.v1.Miner/Generate", "/subnet.v1.Miner/GenerateStream", "/subnet.v1.Miner/Info"]
# Printable ASCII: what gRPC allows in text metadata values.
TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=140)
KEYS = st.one_of(
    st.just(wire.MD_AUTH), st.from_regex(r"x-[a-z0-9-]{1,20}", fullmatch=True).filter(lambda k: not k.endswith("-bin"))
)
FIELD = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters=";"), max_size=130)
# Either any text, or something shaped like a signing header: "v1" and six random fields.
VALUES = st.one_of(TEXT, st.lists(FIELD, min_size=6, max_size=6).map(lambda f: ";".join(["v1", *f])))


class ThreadedServer:
    """The real server in its own thread and event loop, so hypothesis can drive it with blocking calls."""

    def __init__(self) -> None:
        self.miner, self.caller = Keypair.generate(), Keypair.generate()
        self.echo = EchoMiner(self.miner.ss58_address)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def start():
            server, port = await create_server(
                service(self.echo, "Miner"), identity=self.miner, policy=policy_for([self.caller])
            )
            await server.start()
            return server, port

        self.server, self.port = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")

    def call(self, method: str, body: bytes, metadata: tuple) -> grpc.StatusCode:
        try:
            if method.endswith("Stream"):
                list(self.channel.unary_stream(method)(body, metadata=metadata, timeout=5))
            else:
                self.channel.unary_unary(method)(body, metadata=metadata, timeout=5)
        except grpc.RpcError as e:
            return e.code()
        return grpc.StatusCode.OK

    def close(self) -> None:
        self.channel.close()
        asyncio.run_coroutine_threadsafe(self.server.stop(None), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def threaded() -> Iterator[ThreadedServer]:
    server = ThreadedServer()
    yield server
    server.close()


def assert_alive(s: ThreadedServer) -> None:
    body = pb.GenerateRequest(prompt="still alive").SerializeToString()
    metadata, _ = wire.sign_request(s.caller, METHODS[0], body, s.miner.ss58_address)
    assert s.call(METHODS[0], body, metadata) == grpc.StatusCode.OK


@settings(max_examples=150, deadline=None)
@given(
    method=st.sampled_from(METHODS),
    body=st.binary(max_size=300),
    metadata=st.lists(st.tuples(KEYS, VALUES), max_size=4),
)
def test_random_calls_are_refused(threaded: ThreadedServer, method: str, body: bytes, metadata: list) -> None:
    before = len(threaded.echo.callers)
    code = threaded.call(method, body, tuple(metadata))
    assert code in (
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.INVALID_ARGUMENT,
    ), code
    assert len(threaded.echo.callers) == before


@settings(max_examples=150, deadline=None)
@given(method=st.sampled_from(METHODS), data=st.data())
def test_valid_calls_with_one_field_mutated_are_refused(threaded: ThreadedServer, method: str, data) -> None:
    body = pb.GenerateRequest(prompt="fuzz").SerializeToString()
    ((key, value),) = wire.sign_request(threaded.caller, method, body, threaded.miner.ss58_address)[0]
    fields = value.split(";")
    what = data.draw(st.sampled_from(["body", "key", *range(len(fields))]))
    if what == "body":
        new_body = data.draw(st.binary(max_size=300))
        assume(new_body != body)
        body = new_body
    elif what == "key":
        key = data.draw(KEYS.filter(lambda k: k != wire.MD_AUTH))
    else:
        new = data.draw(st.one_of(FIELD, TEXT))
        assume(new != fields[what])
        fields[what] = new
    before = len(threaded.echo.callers)
    assert threaded.call(method, body, ((key, ";".join(fields)),)) == grpc.StatusCode.UNAUTHENTICATED
    assert len(threaded.echo.callers) == before


def test_server_survives_the_fuzzing(threaded: ThreadedServer) -> None:
    # Runs after the fuzz tests in this module (module-scoped server): it must still serve a valid call.
    assert_alive(threaded)
    assert threaded.thread.is_alive()
