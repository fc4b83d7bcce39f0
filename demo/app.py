"""``subnet-demo``: chat with the top-ranked miner, the leaderboard, and the network's emission.

    subnet-demo --chain.endpoint HOST:PORT --wallet.name W --wallet.hotkey H [--port 7860] [--host 127.0.0.1]

The demo signs its queries with the wallet's hotkey: miners must admit it (their gateway allowlist). Chat messages
are rate limited per browser session and per client IP address. Once serving it prints
``READY demo http://HOST:PORT``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from demo.network import NetworkWatcher
from demo.router import NoMinerAvailable, ranked_axons, stream_answer
from subnet import (
    UNITS_PER_TOKEN,
    Keypair,
    RateLimiter,
    RateLimitSettings,
    Wallet,
    add_chain_trust_flags,
    default_wallet_root,
)

log = logging.getLogger("subnet.demo")

NOTICE = ("Prompts are answered by third-party miners on the subnet: do not send anything private. "
          "The answer comes from the serving miner with the highest incentive; if it fails, the next one answers.")


@dataclass(frozen=True)
class DemoSettings:
    chain_endpoint: str
    chain_node_address: str | None = None  # pin the chain node key (see ChainClient)
    chain_tls_ca: Path | None = None
    wallet_name: str = "default"
    wallet_hotkey: str = "default"
    wallet_path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 7860
    max_new_tokens: int = 200
    first_token_timeout_s: float = 20.0
    idle_timeout_s: float = 10.0  # longest wait between two chunks once a miner has started answering
    total_timeout_s: float = 120.0
    session_requests_per_minute: int = 10
    ip_requests_per_minute: int = 30  # one IP may hold several sessions (tabs, scripts)
    min_refresh_s: float = 0.5  # the leaderboard refreshes every block, but never faster than this


def _tokens(units: int) -> float:
    return units / UNITS_PER_TOKEN


def leaderboard(watcher: NetworkWatcher) -> pd.DataFrame:
    graph = watcher.view.graph
    columns = ["uid", "hotkey", "role", "stake", "incentive", "dividends", "emission", "trust", "model", "admitted"]
    if graph is None:
        return pd.DataFrame(columns=columns)
    rows = []
    for i in range(graph.n):
        role = ("owner" if graph.hotkeys[i] == graph.owner_hotkey else "miner" if graph.axons[i].endpoint
                    else "validator" if graph.validator_permit[i] else "-")
        rows.append([int(graph.uids[i]), graph.hotkeys[i], role, round(float(graph.S[i]), 4),
                     round(float(graph.I[i]), 4), round(float(graph.D[i]), 4), round(_tokens(int(graph.E[i])), 6),
                     round(float(graph.Tv[i]), 4), graph.axons[i].model_name, _admission(graph, i)])
    return pd.DataFrame(rows, columns=columns)


def _admission(graph, i: int) -> str:
    """Whether uid ``i``'s committed model is on the owner's admitted list (validators pay only those)."""
    if not graph.axons[i].endpoint:
        return ""
    admitted = graph.admitted(graph.axons[i].model_hash)
    return admitted.name if admitted is not None else "no"


def admitted_models_text(watcher: NetworkWatcher) -> str:
    graph = watcher.view.graph
    if graph is None:
        return ""
    if not graph.admitted_models:
        return "**Admitted models:** none yet (validators pay only miners serving the model they hold)"
    return "**Admitted models:** " + " · ".join(
        f"{m.name} (`{m.model_hash[:12]}`{', ' + m.dtype if m.dtype else ''})" for m in graph.admitted_models)


def network_summary(watcher: NetworkWatcher) -> str:
    s = watcher.view.status
    if s is None:
        return "Waiting for the chain..."
    return (f"**Block** {s.block} · **tempo** {s.tempo} blocks · **epochs run** {s.epoch_index}  \n"
            f"**Issuance** {_tokens(s.issuance):,.4f} of 21,000,000 tokens · **pending** {_tokens(s.pending):,.4f} · "
            f"**recycled** {_tokens(s.recycled):,.4f}  \n"
            f"**Block reward** {_tokens(s.block_reward):g} token · next halving at issuance "
            f"{_tokens(s.next_halving_issuance):,.0f} tokens, in about {s.blocks_until_halving:,} blocks")


def issuance_frame(watcher: NetworkWatcher) -> pd.DataFrame:
    return pd.DataFrame([(b, _tokens(i)) for b, i in watcher.view.issuance], columns=["block", "issuance"])


def emission_frame(watcher: NetworkWatcher) -> pd.DataFrame:
    return pd.DataFrame([(b, f"uid {u}", _tokens(e)) for b, u, e in watcher.view.emission],
                        columns=["block", "uid", "emission"])


def refresh_interval_s(watcher: NetworkWatcher, settings: DemoSettings) -> float:
    """Seconds between leaderboard refreshes: one block of the chain (1 s until the chain has answered)."""
    status = watcher.view.status
    block_time_s = status.block_time_s if status is not None and status.block_time_s > 0 else 1.0
    return max(settings.min_refresh_s, block_time_s)


def _per_minute(requests: int) -> RateLimiter:
    """A bucket of ``requests`` messages per key, refilled over a minute."""
    if requests < 1:
        raise ValueError(f"a rate limit needs at least 1 request per minute, not {requests}")
    return RateLimiter(RateLimitSettings(base_burst_requests=requests, burst_per_token_staked=0.0,
                                         refill_window_s=60.0))


def build_app(settings: DemoSettings, watcher: NetworkWatcher, gateway: Keypair) -> gr.Blocks:
    session_limiter = _per_minute(settings.session_requests_per_minute)
    ip_limiter = _per_minute(settings.ip_requests_per_minute)
    limiter_lock = threading.Lock()

    def refused(request: gr.Request | None) -> str:
        """Why this message may not be sent now ("" when it may). A session refused does not use up its IP's
        allowance."""
        session = getattr(request, "session_hash", None) or "anonymous"
        client = getattr(request, "client", None)
        ip = getattr(client, "host", None) or "unknown"
        with limiter_lock:
            wait_s = session_limiter.try_acquire(session, 0)
            if wait_s > 0:
                return (f"Rate limit: at most {settings.session_requests_per_minute} messages per minute per "
                        f"session. Try again in {max(1, round(wait_s))} s.")
            wait_s = ip_limiter.try_acquire(ip, 0)
            if wait_s > 0:
                return (f"Rate limit: at most {settings.ip_requests_per_minute} messages per minute from one "
                        f"address. Try again in {max(1, round(wait_s))} s.")
        return ""

    async def chat(message: str, history: list, request: gr.Request):
        history = list(history or [])
        message = (message or "").strip()
        if not message:
            yield history, "Type a message first.", ""
            return
        refusal = refused(request)
        if refusal:
            yield history, refusal, message
            return
        turns = [{"role": m["role"], "content": _text(m["content"])} for m in history
                 if m.get("role") in ("user", "assistant")]
        turns.append({"role": "user", "content": message})
        history = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        yield history, "Asking the top-ranked miner...", ""
        try:
            async for answer in stream_answer(ranked_axons(watcher.view.graph), gateway, turns,
                                              max_new_tokens=settings.max_new_tokens,
                                              first_token_timeout_s=settings.first_token_timeout_s,
                                              idle_timeout_s=settings.idle_timeout_s,
                                              total_timeout_s=settings.total_timeout_s):
                history[-1] = {"role": "assistant", "content": answer.text}
                info = f"Answered by uid {answer.uid} ({answer.hotkey})"
                if answer.failed_over:
                    info += f" after uid {', '.join(map(str, answer.failed_over))} failed"
                if answer.done:
                    info += f" · first token {answer.ttft_s:.2f} s · {answer.tokens_per_s:.1f} tokens/s"
                yield history, info, ""
        except NoMinerAvailable as exc:
            history[-1] = {"role": "assistant", "content": "(no answer)"}
            yield history, str(exc), ""

    def retime(current_s: float | None):
        """Follow the chain's block time (known once the watcher has reached the chain)."""
        wanted_s = refresh_interval_s(watcher, settings)
        return gr.skip() if current_s is not None and abs(current_s - wanted_s) < 1e-6 else gr.Timer(wanted_s)

    with gr.Blocks(title="Subnet demo") as app:
        every_block = gr.Timer(refresh_interval_s(watcher, settings))
        every_block.tick(retime, every_block, every_block, show_progress="hidden", queue=False)
        gr.Markdown("# Chat with the subnet's best model")
        with gr.Tab("Chat"):
            gr.Markdown(f"_{NOTICE}_")
            chatbot = gr.Chatbot(label="Conversation", height=420, elem_id="chatbot")
            answered_by = gr.Markdown("", elem_id="answered-by")
            with gr.Row():
                box = gr.Textbox(placeholder="Ask something...", show_label=False, scale=8, elem_id="prompt")
                send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
            send.click(chat, [box, chatbot], [chatbot, answered_by, box], api_name="chat")
            box.submit(chat, [box, chatbot], [chatbot, answered_by, box], api_name=False)
        with gr.Tab("Leaderboard"):
            gr.Markdown(value=lambda: admitted_models_text(watcher), every=every_block, elem_id="admitted-models")
            gr.Dataframe(value=lambda: leaderboard(watcher), every=every_block, elem_id="leaderboard",
                         interactive=False)
        with gr.Tab("Network"):
            gr.Markdown(value=lambda: network_summary(watcher), every=every_block)
            gr.LinePlot(value=lambda: issuance_frame(watcher), x="block", y="issuance", title="Total issuance (tokens)",
                        every=gr.Timer(5.0))
            gr.LinePlot(value=lambda: emission_frame(watcher), x="block", y="emission", color="uid",
                        title="Emission per uid at each epoch (tokens)", every=gr.Timer(5.0))
    return app


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # Gradio may hand back message parts
        return " ".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content)


def parse_args(argv: list[str] | None) -> DemoSettings:
    d = DemoSettings(chain_endpoint="")
    p = argparse.ArgumentParser(prog="subnet-demo", description="Chat with the top-ranked miner of a subnet.")
    p.add_argument("--chain.endpoint", "--chain-endpoint", dest="chain_endpoint",
                   default=os.environ.get("SUBNET_CHAIN_ENDPOINT", "127.0.0.1:9944"))
    add_chain_trust_flags(p)
    p.add_argument("--wallet.name", "--wallet-name", dest="wallet_name", default="default")
    p.add_argument("--wallet.hotkey", "--wallet-hotkey", dest="wallet_hotkey", default="default")
    p.add_argument("--wallet.path", "--wallet-path", dest="wallet_path", type=Path, default=None)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--max-new-tokens", type=int, default=200)
    p.add_argument("--first-token-timeout-s", type=float, default=d.first_token_timeout_s,
                   help="fall over to the next miner when the first token takes longer")
    p.add_argument("--idle-timeout-s", type=float, default=d.idle_timeout_s,
                   help="fall over to the next miner when it stops streaming for this long")
    p.add_argument("--total-timeout-s", type=float, default=d.total_timeout_s, help="deadline of one answer")
    p.add_argument("--session-requests-per-minute", type=int, default=d.session_requests_per_minute)
    p.add_argument("--ip-requests-per-minute", type=int, default=d.ip_requests_per_minute)
    p.add_argument("--log-level", default=os.environ.get("SUBNET_LOG_LEVEL", "INFO"))
    args = p.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return DemoSettings(chain_endpoint=args.chain_endpoint, chain_node_address=args.chain_node_address,
                        chain_tls_ca=args.chain_tls_ca, wallet_name=args.wallet_name,
                        wallet_hotkey=args.wallet_hotkey, wallet_path=args.wallet_path, host=args.host, port=args.port,
                        max_new_tokens=args.max_new_tokens, first_token_timeout_s=args.first_token_timeout_s,
                        idle_timeout_s=args.idle_timeout_s, total_timeout_s=args.total_timeout_s,
                        session_requests_per_minute=args.session_requests_per_minute,
                        ip_requests_per_minute=args.ip_requests_per_minute)


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    wallet = Wallet(name=settings.wallet_name, hotkey=settings.wallet_hotkey,
                    root=settings.wallet_path or default_wallet_root())
    try:
        gateway = wallet.load_hotkey()
    except Exception as exc:
        print(f"subnet-demo: cannot load the gateway hotkey: {exc}", file=sys.stderr)
        return 2
    watcher = NetworkWatcher(settings.chain_endpoint, node_address=settings.chain_node_address,
                             tls_ca=settings.chain_tls_ca)
    watcher.start()
    app = build_app(settings, watcher, gateway)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    app.queue(default_concurrency_limit=8)
    _, local_url, _ = app.launch(server_name=settings.host, server_port=settings.port, prevent_thread_lock=True,
                                 quiet=True, show_error=True, footer_links=["api"])
    print(f"READY demo {local_url.rstrip('/')}", flush=True)
    while not stop.wait(0.5):
        pass
    app.close()
    watcher.stop()
    time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
