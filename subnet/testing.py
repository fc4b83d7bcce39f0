"""Small real components for tests and benchmarks: a trivial echo miner and a policy for given keys.

Nothing here is a mock of our own code: ``EchoMiner`` is a complete Miner servicer whose "model" echoes the
prompt, so the wire, signing and clients can be exercised without loading a language model.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from subnet.auth.policy import AccessPolicy, MetagraphPolicy, NeuronAccess
from subnet.auth.server_interceptor import CallerInfo, current_caller
from subnet.keys import Keypair
from subnet.proto import subnet_pb2 as pb
from subnet.proto import subnet_pb2_grpc as pb_grpc
from subnet.server import ServiceBinding, create_server

ECHO_MODEL = pb.ModelIdentity(name="echo", weights_sha256="0" * 64)


def _prompt_text(request: pb.GenerateRequest) -> str:
    parts = [m.content for m in request.messages]
    if request.prompt:
        parts.append(request.prompt)
    return " ".join(parts)


class EchoMiner(pb_grpc.MinerServicer):
    """Answers with the prompt's words, one "token" per word (token id = word length, logprob 0).

    ``GenerateStream`` can be slowed down: it waits ``first_token_delay_s`` before the first word and
    ``word_delay_s`` before each later one (a slow or silent miner). Both are plain attributes, so a test may
    change them while the server runs."""

    def __init__(self, hotkey_ss58: str = "", *, max_new_tokens: int = 256, first_token_delay_s: float = 0.0,
                 word_delay_s: float = 0.0) -> None:
        self.hotkey_ss58 = hotkey_ss58
        self.max_new_tokens = max_new_tokens
        self.first_token_delay_s = first_token_delay_s
        self.word_delay_s = word_delay_s
        self.callers: list[CallerInfo | None] = []

    def _words(self, request: pb.GenerateRequest) -> list[str]:
        limit = min(request.max_new_tokens or self.max_new_tokens, self.max_new_tokens)
        return _prompt_text(request).split()[:limit]

    def _final(self, request: pb.GenerateRequest, words: list[str]) -> pb.GenerateResponse:
        return pb.GenerateResponse(
            text=" ".join(words),
            token_ids=[len(w) for w in words],
            logprobs=[0.0] * len(words),
            prompt_tokens=len(_prompt_text(request).split()),
            completion_tokens=len(words),
            ttft_s=0.0,
            tokens_per_s=0.0,
            finish_reason=pb.FINISH_REASON_STOP,
            model=ECHO_MODEL,
            request_id=request.request_id,
        )

    async def Generate(self, request, context):
        self.callers.append(current_caller())
        return self._final(request, self._words(request))

    async def GenerateStream(self, request, context):
        self.callers.append(current_caller())
        words = self._words(request)
        for i, word in enumerate(words):
            delay_s = self.word_delay_s if i else self.first_token_delay_s
            if delay_s > 0:
                await asyncio.sleep(delay_s)  # cancelled with the call when the client gives up
            yield pb.GenerateChunk(
                delta=pb.TokenDelta(text=(" " if i else "") + word, token_ids=[len(word)], logprobs=[0.0])
            )
        yield pb.GenerateChunk(final=self._final(request, words))

    async def Info(self, request, context):
        self.callers.append(current_caller())
        return pb.InfoResponse(
            model=ECHO_MODEL,
            max_new_tokens=self.max_new_tokens,
            max_prompt_tokens=4096,
            max_batch=1,
            version="echo",
            hotkey=self.hotkey_ss58,
        )


def policy_for(
    keys: Iterable[Keypair], *, stake_units: int = 10**12, validator_permit: bool = True, min_stake_units: int = 0
) -> MetagraphPolicy:
    """A ``MetagraphPolicy`` in which each of ``keys`` is registered (uids 0..n-1) with the given stake."""
    snapshot = {k.ss58_address: NeuronAccess(uid, stake_units, validator_permit) for uid, k in enumerate(keys)}
    return MetagraphPolicy(snapshot, min_stake_units=min_stake_units)


@asynccontextmanager
async def serving(
    *services: ServiceBinding, identity: Keypair, policy: AccessPolicy, **options: Any
) -> AsyncIterator[int]:
    """Run ``create_server(...)`` on 127.0.0.1 port 0 for the duration of the block; yield the port."""
    server, port = await create_server(*services, identity=identity, policy=policy, **options)
    await server.start()
    try:
        yield port
    finally:
        await server.stop(None)
