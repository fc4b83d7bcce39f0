"""The demo against real (echo) miners: failover from dead and silent miners, in-process and through the demo
process (gradio_client and Chromium, where the answer must visibly stream), and the demo's rate limits."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from gradio_client import Client

from demo.router import Answer, stream_answer
from subnet.auth.policy import MetagraphPolicy
from subnet.chain.client import ChainClient
from subnet.chain.params import Hyperparameters
from subnet.keys import Keypair
from subnet.metagraph import Axon, Metagraph
from subnet.server import service
from subnet.testing import EchoMiner, serving
from subnet.wallet import Wallet
from tests.browser import chat_and_read_leaderboard
from tests.chain_fixtures import DevKeys, start_chain
from tests.proc import Proc, command, free_port

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
NEVER_S = 3600.0  # an echo miner delay that no test waits out


def _axon(uid: int, key: Keypair, port: int) -> Axon:
    return Axon(uid=uid, hotkey=key.ss58_address, endpoint=f"127.0.0.1:{port}", model_name="echo",
                model_hash="0" * 64)


async def _answers(candidates: list[Axon], gateway: Keypair, text: str) -> list[Answer]:
    return [a async for a in stream_answer(candidates, gateway, [{"role": "user", "content": text}],
                                           max_new_tokens=32, first_token_timeout_s=1.0, idle_timeout_s=1.0,
                                           total_timeout_s=60.0)]


async def test_router_skips_silent_and_stalled_miners_within_their_timeouts() -> None:
    gateway, silent_key, stalled_key, good_key = (Keypair.generate() for _ in range(4))
    policy = MetagraphPolicy({}, allowlist=[gateway.ss58_address])
    silent = EchoMiner(silent_key.ss58_address, first_token_delay_s=NEVER_S)  # accepts the call, never answers
    stalled = EchoMiner(stalled_key.ss58_address, word_delay_s=NEVER_S)  # one word, then nothing
    good = EchoMiner(good_key.ss58_address)
    async with serving(service(silent, "Miner"), identity=silent_key, policy=policy) as silent_port, \
            serving(service(stalled, "Miner"), identity=stalled_key, policy=policy) as stalled_port, \
            serving(service(good, "Miner"), identity=good_key, policy=policy) as good_port:
        started = time.monotonic()
        answers = await _answers([_axon(1, silent_key, silent_port), _axon(2, good_key, good_port)], gateway,
                                 "hello from the gateway")
        # The first-token timeout (1 s), not the 60 s deadline, moved the chat on to the next miner.
        assert time.monotonic() - started < 5
        assert silent.callers, "the silent miner was asked first"
        assert answers[-1].done and answers[-1].uid == 2 and answers[-1].text == "hello from the gateway"
        assert answers[-1].failed_over == (1,) and all(a.uid == 2 for a in answers)

        started = time.monotonic()
        answers = await _answers([_axon(1, stalled_key, stalled_port), _axon(2, good_key, good_port)], gateway,
                                 "one word then silence")
        assert time.monotonic() - started < 5
        # The stalled miner's first word was shown, then the idle timeout handed the chat to the next miner.
        assert answers[0] == Answer("one", 1, stalled_key.ss58_address, False)
        assert answers[-1].done and answers[-1].uid == 2 and answers[-1].failed_over == (1,)
        assert answers[-1].text == "one word then silence"


async def test_demo_chats_through_the_best_live_miner(tmp_path: Path) -> None:
    keys = DevKeys()
    chain = start_chain(tmp_path / "chain", keys.genesis(Hyperparameters(tempo=1000)), block_time_s=0.2)
    gateway_wallet = Wallet(name="gateway", hotkey="default", root=tmp_path / "wallets")
    gateway, _ = gateway_wallet.create_hotkey()
    dead, silent_key, alive = Keypair.generate(), Keypair.generate(), Keypair.generate()
    silent = EchoMiner(silent_key.ss58_address, first_token_delay_s=NEVER_S)
    echo = EchoMiner(alive.ss58_address)
    policy = MetagraphPolicy({}, allowlist=[gateway.ss58_address])
    demo = None
    try:
        async with serving(service(echo, "Miner"), identity=alive, policy=policy) as port, \
                serving(service(silent, "Miner"), identity=silent_key, policy=policy) as silent_port, \
                ChainClient(chain.endpoint) as client:
            # uid 1's endpoint is dead, uid 2 never says a word, uid 3 answers. Equal incentive: lower uid first.
            for cold, hot in ((keys.colds[0], dead), (keys.colds[1], silent_key), (keys.colds[2], alive)):
                await client.register(cold, hot)
            await client.serve(dead, f"127.0.0.1:{free_port()}", "echo", "0" * 64)
            await client.serve(silent_key, f"127.0.0.1:{silent_port}", "echo", "0" * 64)
            await client.serve(alive, f"127.0.0.1:{port}", "echo", "0" * 64)
            graph = await Metagraph.sync(client)
            demo = Proc([command("subnet-demo"), "--chain.endpoint", chain.endpoint, "--wallet.name", "gateway",
                         "--wallet.path", str(tmp_path / "wallets"), "--port", str(free_port()),
                         "--first-token-timeout-s", "2", "--idle-timeout-s", "5"],
                        log_path=tmp_path / "demo.log")
            await asyncio.to_thread(demo.wait_ready, 120)
            url = demo.endpoint
            gradio = await asyncio.to_thread(Client, url, verbose=False)
            await asyncio.sleep(1.5)  # one metagraph refresh
            started = time.monotonic()
            history, info, box = await asyncio.to_thread(gradio.predict, "hello subnet world", [], api_name="/chat")
            assert time.monotonic() - started < 15  # the silent miner cost its 2 s first-token timeout, no more
            assert history[-1]["role"] == "assistant"
            assert "hello subnet world" in str(history[-1]["content"])
            assert "uid 3" in info and alive.ss58_address in info and "after uid 1, 2 failed" in info
            assert box == ""
            assert silent.callers, "the silent miner was tried"
            # The miner saw the gateway as the caller, admitted by the allowlist.
            assert echo.callers and echo.callers[-1].caller_ss58 == gateway.ss58_address
            # The same through a real browser, with a miner slow enough to watch the answer grow word by word.
            echo.word_delay_s = 0.25
            message = "streaming through chromium works one word at a time"
            chat = await asyncio.to_thread(chat_and_read_leaderboard, url, message, ARTIFACTS / "demo-gateway",
                                           min_rows=graph.n)
            assert message in chat.answer
            assert "uid 3" in chat.answered_by
            partial = chat.partial_lengths()
            assert len(partial) >= 3 and partial == sorted(partial), chat.streamed_lengths
            assert sorted(chat.column("uid"), key=int) == [str(u) for u in sorted(graph.uids)]
            for key in (dead, silent_key, alive):
                assert key.ss58_address[:12] in chat.leaderboard
    finally:
        if demo is not None:
            assert demo.stop() == 0
        chain.stop()


def test_demo_rate_limits_per_session_and_per_address() -> None:
    """Two messages per session and three per address: a session's third message and the address's fourth are
    refused with a message that says why, and the text stays in the box to send again later."""
    from demo.app import DemoSettings, build_app
    from demo.network import NetworkWatcher

    settings = DemoSettings(chain_endpoint="127.0.0.1:1", session_requests_per_minute=2, ip_requests_per_minute=3)
    watcher = NetworkWatcher(settings.chain_endpoint)  # never started: no miner is serving
    app = build_app(settings, watcher, Keypair.generate()).queue()
    _, url, _ = app.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        first, second = Client(url, verbose=False), Client(url, verbose=False)  # two sessions, one address
        for _ in range(2):
            history, info, box = first.predict("hello", [], api_name="/chat")
            assert "no miner answered" in info and box == ""  # admitted, then routed (nowhere)
        history, info, box = first.predict("hello again", [], api_name="/chat")
        assert history == [] and box == "hello again"
        assert info.startswith("Rate limit: at most 2 messages per minute per session. Try again in "), info
        _, info, _ = second.predict("hello", [], api_name="/chat")
        assert "no miner answered" in info  # a new session, the address's third message
        _, info, box = second.predict("and again", [], api_name="/chat")
        assert box == "and again"
        assert info.startswith("Rate limit: at most 3 messages per minute from one address. Try again in "), info
    finally:
        app.close()
