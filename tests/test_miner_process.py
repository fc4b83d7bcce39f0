"""A real ``subnet-miner`` process (tiny model) over signed gRPC on a real chain: streaming, verified
log-probs, concurrency, refusals with the right status, deadlines, queue limits and re-announcing on restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from subnet.chain.client import ChainClient
from subnet.chain.params import Hyperparameters
from subnet.client import MinerClient
from subnet.keys import Keypair
from subnet.metagraph import Metagraph
from subnet.model_loading import load_model
from subnet.models import ChatMessage, encode_prompt, teacher_forced_logprobs
from subnet.proto import subnet_pb2 as pb
from subnet.wallet import Wallet
from tests.chain_fixtures import TOKEN, DevKeys, start_chain
from tests.proc import Proc, command

QUESTION = [pb.ChatMessage(role="user", content="Name three colours of the rainbow.")]


def ask(max_new_tokens: int = 24, **kw) -> pb.GenerateRequest:
    return pb.GenerateRequest(messages=QUESTION, max_new_tokens=max_new_tokens, **kw)


@pytest.fixture
async def subnet(tmp_path: Path):
    """A chain, a validator with a permit, an unstaked registered hotkey, and a running tiny miner."""
    keys = DevKeys()
    chain = start_chain(tmp_path / "chain", keys.genesis(Hyperparameters(tempo=4)), block_time_s=0.2)
    wallets = tmp_path / "wallets"
    miner_hot = Wallet(name="miner", hotkey="default", root=wallets).create_hotkey()[0]
    validator, unstaked = Keypair.generate(), Keypair.generate()
    async with ChainClient(chain.endpoint) as client:
        for cold, hot in zip(keys.colds, (miner_hot, validator, unstaked), strict=False):
            await client.register(cold, hot)
        await client.add_stake(keys.colds[1], validator.ss58_address, 100 * TOKEN)
        start = (await client.status()).epoch_index
        while (await client.status()).epoch_index < start + 1:  # the permit comes with the epoch
            await asyncio.sleep(0.1)
    argv = [command("subnet-miner"), "--wallet.name", "miner", "--wallet.path", str(wallets), "--chain.endpoint",
            chain.endpoint, "--axon.port", "0", "--model", "tiny", "--max-batch", "2", "--max-queue", "2",
            "--max-new-tokens", "64", "--dtype", "float32"]  # the strict float32 rule below needs float32 on any CPU
    miner = Proc(argv, log_path=tmp_path / "miner.log")
    await asyncio.to_thread(miner.wait_ready, 120)
    await asyncio.sleep(3.5)  # one access-policy refresh after the permit
    env = {"chain": chain, "miner": miner, "argv": argv, "miner_hot": miner_hot, "validator": validator,
           "unstaked": unstaked, "tmp": tmp_path}
    try:
        yield env
    finally:
        env["miner"].stop()
        chain.stop()


async def test_miner_over_the_wire(subnet) -> None:
    miner, hot, validator = subnet["miner"], subnet["miner_hot"], subnet["validator"]
    async with MinerClient.connect(miner.endpoint, keypair=validator, receiver_ss58=hot.ss58_address) as client:
        info = await client.info()
        assert info.model.name == "tiny-0" and info.hotkey == hot.ss58_address and info.max_new_tokens == 64

        # Streaming: ordered deltas that add up to the final text, then a signed final message.
        stream = client.generate_stream(ask(), timeout_s=30)
        chunks = [c async for c in stream]
        deltas, final = [c.delta for c in chunks[:-1]], chunks[-1].final
        assert chunks[-1].HasField("final") and all(c.HasField("delta") for c in chunks[:-1])
        assert "".join(d.text for d in deltas) == final.text
        assert [t for d in deltas for t in d.token_ids] == list(final.token_ids)
        assert stream.proof is not None and final.completion_tokens == len(final.token_ids) > 0

        # The log-probs are what a teacher-forced pass of the same model gives.
        loaded = load_model("tiny", dtype="float32")
        prompt = encode_prompt(loaded.tokenizer, [ChatMessage(m.role, m.content) for m in QUESTION])
        forced = teacher_forced_logprobs(loaded.model, prompt, list(final.token_ids))
        assert max(abs(a - b) for a, b in zip(final.logprobs, forced.logprobs, strict=True)) < 1e-3
        assert list(final.token_ids) == list(forced.argmax_ids)  # greedy

        # Concurrency (more requests than batch rows and queue places together are not sent): same tokens.
        replies = await asyncio.gather(*(client.generate(ask(), timeout_s=60) for _ in range(3)))
        assert all(list(r.token_ids) == list(final.token_ids) for r in replies)

        # Bad sampling parameters: INVALID_ARGUMENT with a message.
        for bad in (ask(temperature=-1.0), ask(top_p=1.5), pb.GenerateRequest(max_new_tokens=5)):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await client.generate(bad, timeout_s=10)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and err.value.details()

        # A deadline shorter than the answer: either the client gives up first (DEADLINE_EXCEEDED) or the miner
        # drops the request at its deadline and answers at once with what it has (finish reason CANCELLED).
        try:
            cut = await client.generate(ask(max_new_tokens=64), timeout_s=0.001)
        except grpc.aio.AioRpcError as err:
            assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        else:
            assert cut.finish_reason == pb.FINISH_REASON_CANCELLED and len(cut.token_ids) < 64

        # Queue limit: 2 rows + 2 queue places; a burst beyond that is refused with RESOURCE_EXHAUSTED.
        burst = await asyncio.gather(*(client.generate(ask(max_new_tokens=64), timeout_s=60) for _ in range(12)),
                                     return_exceptions=True)
        codes = {e.code() for e in burst if isinstance(e, grpc.aio.AioRpcError)}
        assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes and any(isinstance(r, pb.GenerateResponse) for r in burst)

    # Callers the policy refuses: registered without a permit, and unregistered.
    for caller in (subnet["unstaked"], Keypair.generate()):
        async with MinerClient.connect(miner.endpoint, keypair=caller, receiver_ss58=hot.ss58_address) as client:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await client.generate(ask(), timeout_s=10)
            assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED and "access denied" in err.value.details()


async def test_restart_reannounces_the_new_endpoint(subnet) -> None:
    async with ChainClient(subnet["chain"].endpoint) as chain:
        hot = subnet["miner_hot"].ss58_address
        graph = await Metagraph.sync(chain)
        first = graph.axons[graph.uid_of(hot)]
        assert first.endpoint == subnet["miner"].endpoint and first.model_name == "tiny-0"
        assert subnet["miner"].stop() == 0
        subnet["miner"] = Proc(subnet["argv"], log_path=subnet["tmp"] / "miner2.log")
        await asyncio.to_thread(subnet["miner"].wait_ready, 120)
        graph = await Metagraph.sync(chain)
        second = graph.axons[graph.uid_of(hot)]
        assert second.endpoint == subnet["miner"].endpoint != first.endpoint
        assert second.model_hash == first.model_hash
