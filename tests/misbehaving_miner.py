"""Real miners that misbehave, for the validator's integration test. Each is the real ``subnet-miner`` server
(signing, access policy, chain announcement) around a generator that does something wrong.

    python -m tests.misbehaving_miner BEHAVIOUR [subnet-miner flags...]

BEHAVIOUR is one of:
  garbage             random words instead of an answer
  slow:SECONDS        the honest model, but every answer waits SECONDS first (past the validator's deadline)
  crash               the honest model, but the process dies in the middle of its first answer
  copycat:HOTKEY@EP   relays every request to the miner HOTKEY at EP and returns its answer as its own
  liar:SPEC           commits to the --model it names but serves the model SPEC
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections.abc import AsyncIterator

from miners.backend import Completion, GenerationRequest, TokenEvent
from miners.generators import Generator
from miners.main import load_generator, parse_args, run
from subnet.client import MinerClient
from subnet.keys import Keypair
from subnet.proto import subnet_pb2 as pb

WORDS = ["apple", "river", "stone", "cloud", "quickly", "purple", "engine", "seven", "whisper", "garden", "mirror", "candle", "orbit", "velvet"]


class Wrapped:
    """A generator that delegates to ``inner`` (same identity and limits) unless a method says otherwise."""

    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self.identity = inner.identity
        self.max_new_tokens = inner.max_new_tokens
        self.max_prompt_tokens = inner.max_prompt_tokens
        self.max_batch = inner.max_batch
        self.engine = getattr(inner, "engine", None)

    def stream(self, request, *, priority, deadline):
        return self.inner.stream(request, priority=priority, deadline=deadline)

    async def stop(self, grace_s: float) -> None:
        await self.inner.stop(grace_s)


class Garbage(Wrapped):
    async def stream(self, request: GenerationRequest, *, priority, deadline) -> AsyncIterator[TokenEvent | Completion]:
        rng = random.Random()
        words = [rng.choice(WORDS) for _ in range(min(request.sampling.max_new_tokens, 40))]
        for i, word in enumerate(words):
            yield TokenEvent(i, 1000 + i, -0.1, (" " if i else "") + word)
        yield Completion(request.request_id, self.identity, (1,), tuple(1000 + i for i in range(len(words))),
                         (-0.1,) * len(words), " ".join(words), "length", 0.01, 100.0, 0.0)


class Slow(Wrapped):
    def __init__(self, inner: Generator, delay_s: float) -> None:
        super().__init__(inner)
        self.delay_s = delay_s

    async def stream(self, request, *, priority, deadline):
        await asyncio.sleep(self.delay_s)
        async for event in self.inner.stream(request, priority=priority, deadline=None):
            yield event


class Crash(Wrapped):
    async def stream(self, request, *, priority, deadline):
        async for event in self.inner.stream(request, priority=priority, deadline=deadline):
            if isinstance(event, TokenEvent) and event.index >= 2:
                os._exit(3)  # a hard crash in the middle of an answer
            yield event


class Copycat(Wrapped):
    """Forwards the request unchanged (seed included) to another miner and returns that miner's answer."""

    def __init__(self, inner: Generator, hotkey: Keypair, upstream_hotkey: str, upstream: str) -> None:
        super().__init__(inner)
        self.hotkey, self.upstream_hotkey, self.upstream = hotkey, upstream_hotkey, upstream
        self.client: MinerClient | None = None

    async def stream(self, request: GenerationRequest, *, priority, deadline):
        if self.client is None:  # connected here, on the server's event loop (a channel is bound to its loop)
            self.client = MinerClient.connect(self.upstream, keypair=self.hotkey, receiver_ss58=self.upstream_hotkey)
        s = request.sampling
        reply = await self.client.generate(pb.GenerateRequest(
            messages=[pb.ChatMessage(role=m.role, content=m.content) for m in request.messages], prompt=request.prompt,
            max_new_tokens=s.max_new_tokens, temperature=s.temperature, top_p=s.top_p, seed=s.seed or 0,
            request_id=request.request_id), timeout_s=30)
        yield Completion(request.request_id, self.identity, tuple(range(reply.prompt_tokens)), tuple(reply.token_ids),
                         tuple(reply.logprobs), reply.text, "stop", reply.ttft_s, reply.tokens_per_s, 0.0)


class Liar(Wrapped):
    """Serves ``inner`` while claiming the identity of the committed model."""

    def __init__(self, inner: Generator, claimed) -> None:
        super().__init__(inner)
        self.identity = claimed
        backend = getattr(self.engine, "backend", None)
        if backend is not None:
            backend.identity = claimed  # completions carry the claimed identity too


def build(behaviour: str, settings) -> Generator:
    kind, _, arg = behaviour.partition(":")
    if kind == "liar":
        claimed = load_generator(settings).identity
        served = load_generator(type(settings)(**{**settings.__dict__, "model": arg}))
        return Liar(served, claimed)
    honest = load_generator(settings)
    if kind == "garbage":
        return Garbage(honest)
    if kind == "slow":
        return Slow(honest, float(arg))
    if kind == "crash":
        return Crash(honest)
    if kind == "copycat":
        from subnet.wallet import Wallet, default_wallet_root

        hotkey = Wallet(name=settings.wallet_name, hotkey=settings.wallet_hotkey,
                        root=settings.wallet_path or default_wallet_root()).load_hotkey()
        upstream_hotkey, _, endpoint = arg.partition("@")
        return Copycat(honest, hotkey, upstream_hotkey, endpoint)
    raise SystemExit(f"unknown behaviour {behaviour!r}")


def main() -> None:
    behaviour, argv = sys.argv[1], sys.argv[2:]
    settings = parse_args(argv)
    started = time.monotonic()
    generator = build(behaviour, settings)
    print(f"{behaviour} miner built in {time.monotonic() - started:.1f}s", flush=True)
    asyncio.run(run(settings, generator))


if __name__ == "__main__":
    main()
