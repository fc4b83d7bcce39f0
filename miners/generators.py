"""What the gRPC service asks for answers: the batching engine over a real model, or a trivial echo.

Both yield ``TokenEvent``s then one ``Completion`` (see ``miners.backend``). The echo generator needs no model
and no torch; it serves load tests and benchmarks that are about the network, not the model.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Protocol

from miners.backend import Completion, GenerationRequest, InvalidRequestError, TokenEvent
from subnet.models import ModelIdentity

ECHO_IDENTITY = ModelIdentity(name="echo", weights_sha256=hashlib.sha256(b"subnet echo backend").hexdigest())


class Generator(Protocol):
    identity: ModelIdentity
    max_new_tokens: int
    max_prompt_tokens: int
    max_batch: int

    def stream(self, request: GenerationRequest, *, priority: float, deadline: float | None
               ) -> AsyncIterator[TokenEvent | Completion]: ...

    async def stop(self, grace_s: float) -> None: ...


class EngineGenerator:
    """The continuous-batching engine (``miners.engine.Engine``) over a loaded model."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.identity = engine.backend.identity
        self.max_new_tokens = engine.settings.max_new_tokens
        self.max_prompt_tokens = engine.settings.max_prompt_tokens
        self.max_batch = engine.settings.max_batch

    async def stream(self, request: GenerationRequest, *, priority: float, deadline: float | None
                     ) -> AsyncIterator[TokenEvent | Completion]:
        async with self.engine.submit(request, priority=priority, deadline=deadline) as events:
            async for event in events:
                yield event

    async def stop(self, grace_s: float) -> None:
        await self.engine.stop(grace_s)


class EchoGenerator:
    """Answers with the prompt's words, one "token" per word, after ``delay_s`` per token."""

    def __init__(self, *, max_new_tokens: int = 256, delay_s: float = 0.0) -> None:
        self.identity = ECHO_IDENTITY
        self.max_new_tokens = max_new_tokens
        self.max_prompt_tokens = 4096
        self.max_batch = 1024
        self.delay_s = delay_s

    async def stream(self, request: GenerationRequest, *, priority: float, deadline: float | None
                     ) -> AsyncIterator[TokenEvent | Completion]:
        words = " ".join([m.content for m in request.messages] + [request.prompt]).split()
        if not words:
            raise InvalidRequestError("the prompt is empty: send at least one chat message or a non-empty prompt")
        limit = min(request.sampling.max_new_tokens, self.max_new_tokens)
        started = time.monotonic()
        out = words[-limit:]
        for i, word in enumerate(out):
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            yield TokenEvent(index=i, token_id=len(word), logprob=0.0, text=(" " if i else "") + word)
        elapsed = max(time.monotonic() - started, 1e-9)
        yield Completion(request_id=request.request_id, model=self.identity, prompt_token_ids=tuple(range(len(words))),
                         token_ids=tuple(len(w) for w in out), logprobs=(0.0,) * len(out), text=" ".join(out),
                         finish_reason="length" if len(out) == limit else "stop", ttft_s=0.0,
                         tokens_per_s=len(out) / elapsed, queue_wait_s=0.0)

    async def stop(self, grace_s: float) -> None:
        return None
