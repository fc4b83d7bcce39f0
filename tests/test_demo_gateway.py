"""The demo process against a real chain and a real (echo) miner: chat through gradio_client, failover from a
dead top miner, the leaderboard data."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gradio_client import Client

from subnet.auth.policy import MetagraphPolicy
from subnet.chain.client import ChainClient
from subnet.chain.params import Hyperparameters
from subnet.keys import Keypair
from subnet.server import service
from subnet.testing import EchoMiner, serving
from subnet.wallet import Wallet
from tests.browser import chat_and_read_leaderboard
from tests.chain_fixtures import DevKeys, start_chain
from tests.proc import Proc, command, free_port

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


async def test_demo_chats_through_the_best_live_miner(tmp_path: Path) -> None:
    keys = DevKeys()
    chain = start_chain(tmp_path / "chain", keys.genesis(Hyperparameters(tempo=1000)), block_time_s=0.2)
    gateway_wallet = Wallet(name="gateway", hotkey="default", root=tmp_path / "wallets")
    gateway, _ = gateway_wallet.create_hotkey()
    dead, alive = Keypair.generate(), Keypair.generate()
    echo = EchoMiner(alive.ss58_address)
    policy = MetagraphPolicy({}, allowlist=[gateway.ss58_address])
    demo = None
    try:
        async with serving(service(echo, "Miner"), identity=alive, policy=policy) as port, \
                ChainClient(chain.endpoint) as client:
            # uid 1 is a miner whose endpoint is dead; uid 2 answers. Equal incentive: lower uid is tried first.
            await client.register(keys.colds[0], dead.ss58_address)
            await client.register(keys.colds[1], alive.ss58_address)
            await client.serve(dead, f"127.0.0.1:{free_port()}", "echo", "0" * 64)
            await client.serve(alive, f"127.0.0.1:{port}", "echo", "0" * 64)
            demo = Proc([command("subnet-demo"), "--chain.endpoint", chain.endpoint, "--wallet.name", "gateway",
                         "--wallet.path", str(tmp_path / "wallets"), "--port", str(free_port())],
                        log_path=tmp_path / "demo.log")
            await asyncio.to_thread(demo.wait_ready, 120)
            url = demo.endpoint
            gradio = await asyncio.to_thread(Client, url, verbose=False)
            await asyncio.sleep(1.5)  # one metagraph refresh
            history, info, box = await asyncio.to_thread(gradio.predict, "hello subnet world", [], api_name="/chat")
            assert history[-1]["role"] == "assistant"
            assert "hello subnet world" in str(history[-1]["content"])
            assert "uid 2" in info and alive.ss58_address in info and "after uid 1 failed" in info
            assert box == ""
            # The miner saw the gateway as the caller, admitted by the allowlist.
            assert echo.callers and echo.callers[-1].caller_ss58 == gateway.ss58_address
            # The same through a real browser.
            chat = await asyncio.to_thread(chat_and_read_leaderboard, url, "streaming through chromium works",
                                           ARTIFACTS / "demo-gateway")
            assert "streaming through chromium works" in chat.answer
            assert "uid 2" in chat.answered_by
            assert alive.ss58_address[:12] in chat.leaderboard and dead.ss58_address[:12] in chat.leaderboard
    finally:
        if demo is not None:
            assert demo.stop() == 0
        chain.stop()
