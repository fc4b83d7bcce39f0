"""A real ``subnet-chain`` process on loopback: the life of a subnet over gRPC, refusals with the right
status, restarts, and the block subscription."""

from __future__ import annotations

import asyncio
import itertools
import random
import subprocess
from pathlib import Path

import grpc
import pytest

from subnet.chain import calls
from subnet.chain.client import ChainClient, TransactionRefused
from subnet.chain.codec import build_transaction
from subnet.chain.params import Hyperparameters
from subnet.keys import Keypair
from subnet.metagraph import Metagraph
from subnet.proto import subnet_pb2 as pb
from subnet.proto import subnet_pb2_grpc as pb_grpc
from tests.chain_fixtures import TOKEN, DevKeys, start_chain
from tests.proc import command

HYPER = Hyperparameters(tempo=8, weights_rate_limit=1, immunity_period=20, activity_cutoff=200,
                        burn_initial=TOKEN, burn_min=TOKEN // 10)


async def wait_for_block(client: ChainClient, height: int, timeout_s: float = 30) -> None:
    async def loop() -> None:
        while (await client.status()).block < height:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(loop(), timeout_s)


async def wait_for_epochs(client: ChainClient, count: int) -> None:
    start = (await client.status()).epoch_index
    while (await client.status()).epoch_index < start + count:
        await asyncio.sleep(0.1)


async def test_life_of_a_subnet(tmp_path: Path) -> None:
    keys = DevKeys()
    proc = start_chain(tmp_path / "chain", keys.genesis(HYPER))
    validators = [Keypair.generate() for _ in range(2)]
    miners = [Keypair.generate() for _ in range(3)]
    try:
        async with ChainClient(proc.endpoint) as client:
            for cold, hot in zip(keys.colds, validators + miners, strict=False):
                await client.register(cold, hot)
            await client.add_stake(keys.colds[0], validators[0].ss58_address, 3000 * TOKEN)
            await client.add_stake(keys.colds[1], validators[1].ss58_address, 1000 * TOKEN)
            # Delegation: another coldkey stakes to validator 0's hotkey.
            await client.add_stake(keys.colds[5], validators[0].ss58_address, 500 * TOKEN)
            for i, miner in enumerate(miners):
                await client.serve(miner, f"127.0.0.1:{7000 + i}", "tiny-model", f"{i:02x}" * 32)
            await wait_for_epochs(client, 1)
            graph = await Metagraph.sync(client)
            uids = [graph.uid_of(m.ss58_address) for m in miners]
            for v in validators:
                await client.set_weights(v, uids, [65535, 30000, 0])
            await wait_for_epochs(client, 2)
            graph = await Metagraph.sync(client, include_matrices=True)
            incentive = [graph.I[u] for u in uids]
            assert incentive[0] > incentive[1] > incentive[2] == 0
            v0, v1 = graph.uid_of(validators[0].ss58_address), graph.uid_of(validators[1].ss58_address)
            assert graph.D[v0] > graph.D[v1] > 0 and graph.validator_permit[v0]
            assert graph.E[uids[0]] > 0 and graph.axons[uids[0]].endpoint == "127.0.0.1:7000"
            assert graph.W is not None and graph.W[v0, uids[0]] == 1.0
            # The delegator earned a share of validator 0's dividends.
            balance = await client.balance(keys.colds[5].ss58_address)
            delegated = {s.hotkey: s.amount for s in balance.stakes if s.coldkey == keys.colds[5].ss58_address}
            assert delegated[validators[0].ss58_address] > 500 * TOKEN
            document = graph.to_json()
            assert {"uid", "hotkey", "coldkey", "stake", "consensus", "incentive", "dividends", "validator_trust",
                    "emission", "validator_permit", "active", "last_update", "endpoint", "model"} \
                <= set(document["neurons"][0])
            status = await client.status()
            headers = await client.headers(0, status.block)
            # Issuance = genesis + minted - recycled, with every block's reward on record.
            genesis_units = 9 * 10_000 * TOKEN
            assert status.issuance == genesis_units + sum(h.minted for h in headers) - status.recycled
            assert all(h.parent == p.hash for p, h in itertools.pairwise(headers))
    finally:
        assert proc.stop() == 0


async def test_refusals_over_grpc(tmp_path: Path) -> None:
    keys = DevKeys()
    proc = start_chain(tmp_path / "chain", keys.genesis(HYPER))
    try:
        async with ChainClient(proc.endpoint) as client:
            await wait_for_block(client, 3)  # so that "valid until block 1" is in the past
            status = await client.status()
            stub = pb_grpc.ChainStub(client._channel)
            good = build_transaction(keys.colds[0], status.genesis_hash, calls.Transfer(keys.colds[1].ss58_address, 5),
                                     status.block + 20)
            forged = pb.Transaction(body=good.body, signer=keys.colds[2].ss58_address, signature=good.signature)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.SubmitTransaction(forged)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED and "signature" in err.value.details()
            other_chain = build_transaction(keys.colds[0], "ab" * 32, calls.Transfer(keys.colds[1].ss58_address, 5),
                                            status.block + 20)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.SubmitTransaction(other_chain)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.SubmitTransaction(pb.Transaction(body=b"\xff\xff", signer="nope", signature=b""))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            expired = build_transaction(keys.colds[0], status.genesis_hash,
                                        calls.Transfer(keys.colds[1].ss58_address, 5), 1)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.SubmitTransaction(expired)
            assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "expired" in err.value.details()
            # Refused inside a block: a clear reason, nothing changed.
            before = await client.balance(keys.colds[0].ss58_address)
            with pytest.raises(TransactionRefused) as refused:
                await client.transfer(keys.colds[0], keys.colds[1].ss58_address, 10**9 * TOKEN)
            assert refused.value.reason == "insufficient_balance"
            after = await client.balance(keys.colds[0].ss58_address)
            assert HYPER.tx_fee_base <= before.free - after.free <= HYPER.tx_fee(200)  # only the fee, recycled
            with pytest.raises(TransactionRefused) as refused:
                await client.set_weights(Keypair.generate(), [0], [1])
            assert refused.value.reason == "not_registered"
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await client.balance("not an address")
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            # A good transfer goes through and is findable by hash.
            result = await client.transfer(keys.colds[0], keys.colds[1].ss58_address, 7 * TOKEN)
            assert result.ok and (await client.transaction(result.tx_hash)).block == result.block
            # The same transaction sent again while it waits (a retry after a dropped call, even one whose first
            # call gave up) gets the one outcome; it is applied once.
            dest_before = (await client.balance(keys.colds[1].ss58_address)).free
            again = build_transaction(keys.colds[0], status.genesis_hash, calls.Transfer(keys.colds[1].ss58_address, 5),
                                      (await client.status()).block + 100)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.SubmitTransaction(again, timeout=0.01)
            assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            first, second = await asyncio.gather(stub.SubmitTransaction(again), stub.SubmitTransaction(again))
            assert first.ok and first == second
            assert (await client.balance(keys.colds[1].ss58_address)).free == dest_before + 5
    finally:
        assert proc.stop() == 0


async def test_restart_resumes_and_blocks_stream(tmp_path: Path) -> None:
    keys = DevKeys()
    genesis = keys.genesis(HYPER)
    proc = start_chain(tmp_path / "chain", genesis)
    try:
        async with ChainClient(proc.endpoint) as client:
            seen = []
            async for header in client.subscribe_blocks():
                seen.append(header)
                if len(seen) == 4:
                    break
            assert [h.height for h in seen] == list(range(seen[0].height, seen[0].height + 4))
            assert all(h.parent == p.hash for p, h in itertools.pairwise(seen))
            await client.transfer(keys.colds[0], keys.colds[3].ss58_address, 11 * TOKEN)
            height = (await client.status()).block
        assert proc.stop() == 0
        proc = start_chain(tmp_path / "chain", genesis)  # same data dir, same genesis
        async with ChainClient(proc.endpoint) as client:
            assert (await client.status()).block >= height
            await wait_for_block(client, height + 3)
            balance = await client.balance(keys.colds[3].ss58_address)
            assert balance.free == 10_011 * TOKEN
    finally:
        proc.stop()
    other = DevKeys().genesis(HYPER)
    with pytest.raises(RuntimeError, match="another genesis"):
        start_chain(tmp_path / "chain", other)


async def test_corrupt_data_dir_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    """Garbage over the pages after the first 4 KiB of a real data dir: subnet-chain exits 2 with one line that
    says what to do, no traceback, and leaves the file as it was (even given --genesis)."""
    keys = DevKeys()
    data_dir = tmp_path / "chain"
    proc = start_chain(data_dir, keys.genesis(HYPER), block_time_s=0.1)
    try:
        async with ChainClient(proc.endpoint) as client:
            for cold in keys.colds[:3]:
                await client.register(cold, Keypair.generate())
            await client.transfer(keys.colds[3], keys.colds[4].ss58_address, TOKEN)
            await wait_for_block(client, 12)
    finally:
        assert proc.stop() == 0
    path = data_dir / "chain.sqlite3"
    data = bytearray(path.read_bytes())
    assert len(data) > 3 * 4096 and not Path(f"{path}-wal").exists()  # all in the main file after a clean stop
    data[4096:] = random.Random(7).randbytes(len(data) - 4096)
    path.write_bytes(bytes(data))
    result = subprocess.run(
        [command("subnet-chain"), "--data-dir", str(data_dir), "--port", "0", "--block-time-s", "0.1",
         "--genesis", str(tmp_path / "chain-genesis.toml")],  # written by start_chain
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "READY" not in result.stdout
    assert f"subnet-chain: corrupt chain database {path}" in result.stderr
    assert "restore the data dir from a backup" in result.stderr
    assert path.read_bytes() == bytes(data)
