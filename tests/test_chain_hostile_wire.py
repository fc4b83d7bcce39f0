"""The chain's port against hostile readers, on a real ``subnet-chain`` process: block subscriptions wait without
stopping the node and are bounded, query answers are signed by the genesis-pinned node key and checked by
``ChainClient``, and the port can speak TLS with a self-signed certificate."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import subprocess
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from subnet.chain.client import ChainClient, ChainUnavailable
from subnet.chain.node_key import load_or_create_node_key
from subnet.chain.params import Hyperparameters
from subnet.errors import ResponseVerificationError
from subnet.keys import Keypair
from subnet.proto import subnet_pb2 as pb
from subnet.proto import subnet_pb2_grpc as pb_grpc
from tests.chain_fixtures import TOKEN, DevKeys, start_chain
from tests.proc import command

HYPER = Hyperparameters(tempo=8, weights_rate_limit=1, immunity_period=20, activity_cutoff=200)


async def test_a_subscription_far_above_the_head_waits_while_blocks_go_on_and_sigterm_stops_the_node(
        tmp_path: Path) -> None:
    proc = start_chain(tmp_path / "chain", DevKeys().genesis(HYPER), block_time_s=0.2)
    try:
        async with ChainClient(proc.endpoint) as client:
            stub = pb_grpc.ChainStub(client._channel)
            head = (await client.status()).block
            ahead = stub.SubscribeBlocks(pb.SubscribeBlocksRequest(from_height=head + 40))
            first = asyncio.ensure_future(ahead.read())
            await asyncio.sleep(1.5)
            # The node still produces blocks and answers (it used to spin on this subscription, frozen).
            assert (await client.status()).block >= head + 4
            assert not first.done()
            # A subscription from the current head is served the next blocks meanwhile.
            now = stub.SubscribeBlocks(pb.SubscribeBlocksRequest(from_height=0))
            heights = [(await now.read()).height for _ in range(3)]
            assert heights == list(range(heights[0], heights[0] + 3))
            now.cancel()
            # SIGTERM with the far subscription still waiting: the node stops cleanly, at once.
            code = proc.stop(timeout_s=10)
            assert code == 0, proc.output()
            first.cancel()
    finally:
        proc.stop()


async def test_subscriptions_are_bounded_per_connection_and_in_total(tmp_path: Path) -> None:
    proc = start_chain(tmp_path / "chain", DevKeys().genesis(HYPER), block_time_s=0.2,
                       extra=["--max-subscribers", "3", "--max-subscribers-per-connection", "2"])
    try:
        # Channels of one process share their TCP connection unless told otherwise: the second one is a real
        # second connection, as from another client.
        async with ChainClient(proc.endpoint) as one, grpc.aio.insecure_channel(
                proc.endpoint, options=[("grpc.use_local_subchannel_pool", 1)]) as two:
            stub1, stub2 = pb_grpc.ChainStub(one._channel), pb_grpc.ChainStub(two)

            async def opened(stub):
                call = stub.SubscribeBlocks(pb.SubscribeBlocksRequest(from_height=0))
                await call.read()  # a header arrived: the node counts this subscription
                return call

            held = [await opened(stub1), await opened(stub1)]
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await opened(stub1)
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "connection" in err.value.details()
            held.append(await opened(stub2))  # another connection still has room: 3 in all
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await opened(stub2)
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "limit" in err.value.details()
            held.pop(0).cancel()  # a slot is freed when its subscriber leaves
            for _ in range(50):
                try:
                    held.append(await opened(stub2))
                    break
                except grpc.aio.AioRpcError:
                    await asyncio.sleep(0.1)
            assert len(held) == 3
            head = (await one.status()).block
            with pytest.raises(grpc.aio.AioRpcError) as err:
                far = stub2.SubscribeBlocks(pb.SubscribeBlocksRequest(from_height=head + 10_000_000))
                await far.read()
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            for call in held:
                call.cancel()
    finally:
        assert proc.stop(timeout_s=10) == 0, proc.output()


async def test_a_pinned_client_accepts_only_answers_signed_by_the_genesis_node_key(tmp_path: Path) -> None:
    keys = DevKeys()
    node = load_or_create_node_key(tmp_path / "chain")
    genesis = keys.genesis(HYPER)
    genesis = type(genesis)(genesis.owner_coldkey, genesis.owner_hotkey, genesis.hyper, genesis.accounts,
                            node_address=node.ss58_address)
    proc = start_chain(tmp_path / "chain", genesis, block_time_s=0.2)
    try:
        async with ChainClient(proc.endpoint, node_address=node.ss58_address) as pinned:
            status = await pinned.status()
            assert status.genesis_hash == genesis.hash
            receiver = Keypair.generate().ss58_address
            await pinned.transfer(keys.colds[0], receiver, 5 * TOKEN)  # signed submit, verified outcome
            assert (await pinned.balance(receiver)).free == 5 * TOKEN
            assert len((await pinned.metagraph()).neurons) == 1
            # A map field has no fixed byte order: the check must cover the bytes received, not a re-encoding.
            assert (await pinned.hyperparameters())["tempo"] == HYPER.tempo
            # Subscribed headers are re-read through verified calls: consecutive, above the head.
            seen = []
            async for header in pinned.subscribe_blocks(status.block):
                seen.append(header.height)
                if len(seen) == 3:
                    break
            assert seen[0] > status.block and seen == list(range(seen[0], seen[0] + 3))
        # A client pinned to another key refuses this node's answers (as it would an impostor's).
        async with ChainClient(proc.endpoint, node_address=Keypair.generate().ss58_address) as wrong:
            with pytest.raises(ResponseVerificationError):
                await wrong.status()
            with pytest.raises(ResponseVerificationError):
                await wrong.balance(keys.colds[0].ss58_address)
    finally:
        assert proc.stop(timeout_s=10) == 0, proc.output()


def test_a_pin_that_is_not_an_address_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="not an SS58 address"):
        ChainClient("127.0.0.1:1", node_address="5" * 47)


def test_the_node_refuses_to_start_under_a_key_the_genesis_does_not_name(tmp_path: Path) -> None:
    keys = DevKeys()
    load_or_create_node_key(tmp_path / "chain")  # this node's key...
    genesis = keys.genesis(HYPER)
    genesis = type(genesis)(genesis.owner_coldkey, genesis.owner_hotkey, genesis.hyper, genesis.accounts,
                            node_address=Keypair.generate().ss58_address)  # ...is not the one the genesis pins
    path = tmp_path / "genesis.toml"
    path.write_text(genesis.to_toml())
    run = subprocess.run([command("subnet-chain"), "--data-dir", str(tmp_path / "chain"), "--genesis", str(path),
                          "--port", "0"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "node_address" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "chain" / "chain.sqlite3").exists()
    printed = subprocess.run([command("subnet-chain"), "--data-dir", str(tmp_path / "chain"),
                              "--print-node-address"], capture_output=True, text=True, timeout=60)
    assert printed.stdout.strip() == load_or_create_node_key(tmp_path / "chain").ss58_address


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "subnet-chain test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "chain.crt", directory / "chain.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_the_chain_port_speaks_tls_with_a_self_signed_certificate(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    keys = DevKeys()
    proc = start_chain(tmp_path / "chain", keys.genesis(HYPER), block_time_s=0.2,
                       extra=["--tls-cert", str(cert), "--tls-key", str(key)])
    try:
        node = load_or_create_node_key(tmp_path / "chain")
        async with ChainClient(proc.endpoint, tls_ca=cert, node_address=node.ss58_address) as client:
            assert (await client.balance(keys.colds[0].ss58_address)).free == 10_000 * TOKEN
        # Plaintext is not served on that port.
        async with ChainClient(proc.endpoint, timeout_s=2, reconnect_budget_s=1) as plain:
            with pytest.raises(ChainUnavailable):
                await plain.status()
        # The command line takes the same flags.
        run = subprocess.run([command("subnet"), "chain", "status", "--chain.endpoint", proc.endpoint,
                              "--chain.tls-ca", str(cert), "--chain.node-address", node.ss58_address],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        assert "block" in run.stdout
    finally:
        assert proc.stop(timeout_s=10) == 0, proc.output()


def test_tls_flags_name_an_unreadable_certificate_in_one_line(tmp_path: Path) -> None:
    keys = DevKeys()
    path = tmp_path / "genesis.toml"
    path.write_text(keys.genesis(HYPER).to_toml())
    (tmp_path / "not.pem").write_text("hello")
    run = subprocess.run([command("subnet-chain"), "--data-dir", str(tmp_path / "chain"), "--genesis", str(path),
                          "--port", "0", "--tls-cert", str(tmp_path / "not.pem"), "--tls-key",
                          str(tmp_path / "missing.key")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "not.pem" in run.stderr and "Traceback" not in run.stderr
