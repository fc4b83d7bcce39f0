"""A real ``subnet-chain`` process against hostile transactions over gRPC: poison calls that used to abort every
block are refused at once while honest transactions land, junk is never stored, and a genesis with an empty
account is refused with one line."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import grpc
import pytest

from subnet.chain import calls
from subnet.chain.client import ChainClient, TransactionRefused
from subnet.chain.codec import build_transaction
from subnet.chain.params import Hyperparameters
from subnet.keys import Keypair
from subnet.proto import subnet_pb2_grpc as pb_grpc
from tests.chain_fixtures import TOKEN, DevKeys, start_chain
from tests.proc import command

HYPER = Hyperparameters(tempo=8, weights_rate_limit=1, immunity_period=20, activity_cutoff=200)


def _db_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("chain.sqlite3*"))


async def test_poison_calls_are_refused_while_blocks_and_honest_transactions_go_on(tmp_path: Path) -> None:
    keys = DevKeys()
    proc = start_chain(tmp_path / "chain", keys.genesis(HYPER), block_time_s=0.2)
    try:
        async with ChainClient(proc.endpoint) as client:
            status = await client.status()
            stub = pb_grpc.ChainStub(client._channel)
            poison = [
                (keys.owner_hot, calls.Serve("127.0.0.1:\u00b2", "tiny", "ab" * 32)),  # int() of it raised
                (keys.owner_hot, calls.RevealWeights((70_000,), (1,), b"salt")),  # the commit hash raised
                (keys.owner_hot, calls.RevealWeights((1, 2), (1,), b"salt")),
                (keys.colds[0], calls.Transfer("5" * 60_000, TOKEN)),  # a 60 KB junk address
            ]
            for signer, call in poison:
                tx = build_transaction(signer, status.genesis_hash, call, status.block + 20)
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await stub.SubmitTransaction(tx, timeout=5)
                assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
                assert len(err.value.details()) < 300 and "55555" not in err.value.details()
            # Honest transfers submitted together with a stream of poison all land.
            size_before = _db_bytes(tmp_path / "chain")

            async def spam() -> int:
                refused = 0
                for _ in range(200):
                    tx = build_transaction(keys.colds[1], status.genesis_hash, calls.Transfer("5" * 60_000, 1),
                                           status.block + 20)
                    try:
                        await stub.SubmitTransaction(tx, timeout=5)
                    except grpc.aio.AioRpcError:
                        refused += 1
                return refused

            honest = [client.transfer(keys.colds[i], keys.colds[7].ss58_address, TOKEN) for i in range(2, 6)]
            refused, *results = await asyncio.gather(spam(), *honest)
            assert refused == 200 and all(r.ok for r in results)
            assert _db_bytes(tmp_path / "chain") - size_before < 1_000_000  # 200 stored refusals were ~24 MB
            after = await client.status()
            assert after.block > status.block
            # A stranger with no funds cannot queue anything: refused at once, nothing stored.
            with pytest.raises(TransactionRefused) as refusal:
                await client.transfer(Keypair.generate(), keys.colds[0].ss58_address, TOKEN)
            assert refusal.value.reason == "cannot_pay_fee"
    finally:
        assert proc.stop() == 0


def test_genesis_with_an_empty_account_exits_2_with_one_line(tmp_path: Path) -> None:
    keys = DevKeys()
    genesis = keys.genesis(HYPER)
    text = genesis.to_toml() + f'\n[[accounts]]\naddress = "{Keypair.generate().ss58_address}"\nbalance_units = 0\n'
    path = tmp_path / "genesis.toml"
    path.write_text(text)
    done = subprocess.run([command("subnet-chain"), "--data-dir", str(tmp_path / "chain"), "--genesis", str(path),
                           "--port", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "existential deposit" in lines[0] and "Traceback" not in done.stderr
